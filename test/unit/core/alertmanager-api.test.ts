import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { matchersFromAm, matchersToAm, silenceState } from '../../../src/escalation/am-silences.ts';
import { matchesLabels } from '../../../src/escalation/match.ts';
import type { Logger } from '../../../src/log.ts';
import { amFingerprint, compileMatchers, parseMatcher, type AmMatcher } from '../../../src/sources/webhooks/alertmanager.ts';
import { RefusalLog } from '../../../src/sources/webhooks/refusals.ts';
import { detailsOf, type SocAlert } from '../../../src/sources/webhooks/soc.ts';

describe("Alertmanager's fingerprint", () => {
  it('is FNV-1a 64 over the sorted labels, as Prometheus computes it (its published test values)', () => {
    assert.equal(amFingerprint({}), (14695981039346656037n).toString(16));
    assert.equal(amFingerprint({ name: 'garland, briggs', fear: 'love is not enough' }), (5799056148416392346n).toString(16).padStart(16, '0'));
    // label order does not matter; values and names do
    assert.equal(amFingerprint({ a: '1', b: '2' }), amFingerprint({ b: '2', a: '1' }));
    assert.notEqual(amFingerprint({ a: '1', b: '2' }), amFingerprint({ a: '2', b: '1' }));
  });

  it('agrees with a BigInt reference on multi-byte text', () => {
    const ref = (labels: Record<string, string>) => {
      let h = 14695981039346656037n;
      const add = (b: number) => (h = ((h ^ BigInt(b)) * 1099511628211n) & 0xffffffffffffffffn);
      for (const k of Object.keys(labels).sort()) {
        for (const b of Buffer.from(k)) add(b);
        add(255);
        for (const b of Buffer.from(labels[k]!)) add(b);
        add(255);
      }
      return h.toString(16).padStart(16, '0');
    };
    for (const l of [{ alertname: 'ЕнбекDown', system: 'enbek' }, { x: '' }, { severity: 'critical', summary: 'қызмет ☃' }] as Array<Record<string, string>>) assert.equal(amFingerprint(l), ref(l));
  });
});

describe('filter matchers (amtool, Grafana)', () => {
  it('parses the four operators, quoted and bare', () => {
    assert.deepEqual(parseMatcher('alertname="Foo"'), { name: 'alertname', value: 'Foo', isRegex: false, isEqual: true });
    assert.deepEqual(parseMatcher('severity!=warning'), { name: 'severity', value: 'warning', isRegex: false, isEqual: false });
    assert.deepEqual(parseMatcher('job=~"en.*"'), { name: 'job', value: 'en.*', isRegex: true, isEqual: true });
    assert.deepEqual(parseMatcher('{ job !~ "x\\"y" }'), { name: 'job', value: 'x"y', isRegex: true, isEqual: false });
    assert.match(String(parseMatcher('no operator')), /not a matcher/);
    assert.match(String(parseMatcher('a="open')), /not closed/);
  });

  it('tests label sets with a missing label as empty, regular expressions anchored', () => {
    const t = compileMatchers([parseMatcher('job=~"en.*"') as AmMatcher, parseMatcher('team!="db"') as AmMatcher]);
    assert.equal(typeof t, 'function');
    const f = t as (l: Record<string, string>) => boolean;
    assert.equal(f({ job: 'enbek' }), true);
    assert.equal(f({ job: 'xenbek' }), false);
    assert.equal(f({ job: 'enbek', team: 'db' }), false);
    assert.match(String(compileMatchers([{ name: 'a', value: '(', isRegex: true }])), /not a valid RE2/);
  });
});

describe("Alertmanager silences on kuzet's matchers", () => {
  it('maps the four operators both ways, and the kuzet matcher does what the Alertmanager one means', () => {
    const am: AmMatcher[] = [
      { name: 'alertname', value: 'Foo', isRegex: false, isEqual: true },
      { name: 'severity', value: 'info', isRegex: false, isEqual: false },
      { name: 'job', value: 'en.*', isRegex: true, isEqual: true },
      { name: 'instance', value: 'test-.*', isRegex: true, isEqual: false },
    ];
    const k = matchersFromAm(am);
    assert.deepEqual(k, { alertname: 'Foo', severity: '!info', job: '~en.*', instance: '!~test-.*' });
    assert.deepEqual(matchersToAm(k as Record<string, string>), am);
    const m = k as Record<string, string>;
    assert.equal(matchesLabels(m, { alertname: 'Foo', severity: 'critical', job: 'enbek', instance: 'prod-1' }), true);
    assert.equal(matchesLabels(m, { alertname: 'Foo', severity: 'critical', job: 'enbek', instance: 'test-1' }), false);
    assert.equal(matchesLabels(m, { alertname: 'Foo', severity: 'info', job: 'enbek', instance: 'prod-1' }), false);
  });

  it('keeps a value that begins with ! or ~ literal, and refuses what one kuzet silence cannot hold', () => {
    const k = matchersFromAm([{ name: 'a', value: '!x.y', isRegex: false, isEqual: true }]) as Record<string, string>;
    assert.equal(matchesLabels(k, { a: '!x.y' }), true);
    assert.equal(matchesLabels(k, { a: '!xzy' }), false);
    assert.match(String(matchersFromAm([{ name: 'a', value: 'x', isRegex: false }, { name: 'a', value: 'y', isRegex: false, isEqual: false }])), /matchers\[1\]: a second matcher on label "a"/);
    assert.match(String(matchersFromAm([{ name: 'a', value: '(?=x)', isRegex: true }])), /matchers\[0\]\.value: .*not a valid regular expression/);
  });

  it('shows a list of values as one regular expression', () => {
    assert.deepEqual(matchersToAm({ system: ['enbek', 'nqs.kz', '~int.*'] }), [{ name: 'system', value: 'enbek|nqs\\.kz|(?:int.*)', isRegex: true, isEqual: true }]);
  });

  it('gives the state: pending, active, expired (by time or by hand)', () => {
    const s = { id: 1, matchers: { a: 'b' }, startsAt: 1000, endsAt: 2000, author: 'x', reason: 'y', expiredAt: null };
    assert.equal(silenceState(s, 500), 'pending');
    assert.equal(silenceState(s, 1500), 'active');
    assert.equal(silenceState(s, 2000), 'expired');
    assert.equal(silenceState({ ...s, expiredAt: 1200 }, 1500), 'expired');
  });
});

describe('SOC alert details', () => {
  it('adds unknown fields to details; a clash keeps both', () => {
    const a = { id: '1', rule: 'r', severity: 'high', status: 'firing', summary: 's', observed_at: '2026-03-02T00:00:00Z', details: { host: 'a' }, host: 'b', score: 7 } as unknown as SocAlert;
    assert.deepEqual(detailsOf(a), { host: 'a', 'field:host': 'b', score: 7 });
    assert.equal(detailsOf({ ...a, details: undefined, host: undefined, score: undefined } as unknown as SocAlert)?.host, undefined);
  });
});

describe('refusal log', () => {
  const capture = () => {
    const lines: Array<{ msg: string; meta: Record<string, unknown> }> = [];
    const log = { debug() {}, info() {}, error() {}, warn: (msg: string, meta: Record<string, unknown>) => lines.push({ msg, meta }), child: () => log } as unknown as Logger;
    return { log, lines };
  };

  it('logs each refusal with reason, source and address, up to the limit per window, then one summary when the window ends', () => {
    const clock = new FakeClock();
    const { log, lines } = capture();
    const r = new RefusalLog(log, clock, 'SOC webhook', { perWindow: 3, windowMs: 60_000 });
    for (let i = 0; i < 10; i++) r.note({ reason: i % 2 ? 'signature' : 'unknown_source', status: 401, source: `s${i}`, address: i < 8 ? '10.0.0.1' : '10.0.0.2' });
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[0], { msg: 'SOC webhook: request refused', meta: { reason: 'unknown_source', status: 401, source: 's0', address: '10.0.0.1' } });
    clock.advance(59_000);
    assert.equal(lines.length, 3, 'no summary before the window ends');
    clock.advance(1_000);
    assert.equal(lines.length, 4);
    assert.deepEqual(lines[3]!.meta, { suppressed: 7, window_s: 60, by_reason: { signature: 4, unknown_source: 3 }, addresses: 2, top_addresses: { '10.0.0.1': 5, '10.0.0.2': 2 } });
    // a new window logs one by one again
    r.note({ reason: 'schema', status: 400, source: 'soc-main', address: '10.0.0.3' });
    assert.equal(lines.length, 5);
    assert.equal(lines[4]!.meta.reason, 'schema');
  });
});
