import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { FakeClock } from '../../../src/clock.ts';
import { loadConfig } from '../../../src/config/load.ts';
import type { EscalationConfig } from '../../../src/escalation/config.ts';
import { matchPolicy } from '../../../src/escalation/match.ts';
import type { LogRuleConfig } from '../../../src/sources/logs/config.ts';
import { compileRules, RuleEngine, RuleError } from '../../../src/sources/logs/rules.ts';
import { schemaPlugins } from '../../../src/sections.ts';

// 002 §21–23: one login from two addresses at once, security violations to the information-security
// administrator, and who is paged for what in the shipped configuration.

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const shippedRules = (parse(readFileSync(root('config/rules/security.yaml'), 'utf8')) as { rules: LogRuleConfig[] }).rules;

function engine(rules: LogRuleConfig[], input: string) {
  const clock = new FakeClock('2026-03-02T04:00:00Z');
  const e = new RuleEngine(compileRules(rules), { clock, inputSystems: new Map([[input, 'enbek']]) });
  e.start();
  const inp = e.forInput(input);
  return { e, clock, feed: (...lines: string[]) => e.scanBlock(inp, lines.join('\n')) };
}

describe('one login used from two addresses at once', () => {
  const rule = shippedRules.find((r) => r.name === 'login-from-two-addresses')!;

  it('fires on a second address within the window, not on repeats from one address', () => {
    const { e, clock, feed } = engine([rule], 'app-auth');
    feed('2026-03-02 09:00:01 login=aigerim ok ip=10.1.1.5', '2026-03-02 09:01:00 login=aigerim ok ip=10.1.1.5', '2026-03-02 09:01:30 login=bolat ok ip=10.9.9.9');
    assert.deepEqual(e.takeSignals(), [], 'one address per login: nothing');
    clock.advance(5 * 60_000);
    feed('2026-03-02 09:06:00 login=aigerim ok ip=192.0.2.44');
    const [s, ...rest] = e.takeSignals();
    assert.equal(rest.length, 0);
    assert.equal(s!.status, 'firing');
    assert.equal(s!.labels.team, 'infosec');
    assert.equal(s!.labels.addr_count, '2');
    assert.match(s!.summary, /signed in from two addresses/);
  });

  it('a second address after the window is not "at once"', () => {
    const { e, clock, feed } = engine([rule], 'app-auth');
    feed('login=dana ok ip=10.1.1.5');
    clock.advance(11 * 60_000);
    feed('login=dana ok ip=10.1.1.6');
    assert.deepEqual(e.takeSignals(), []);
  });

  it('refuses distinct on a group the pattern does not have', () => {
    assert.throws(() => compileRules([{ name: 'x', pattern: 'login=(?P<login>\\S+)', threshold: { count: 2, window: '1m', distinct: 'addr' } }]),
      (err: unknown) => err instanceof RuleError && /threshold\.distinct names "addr"/.test(err.message));
  });
});

describe('who is paged for what in the shipped configuration', () => {
  const esc = loadConfig(root('config/kuzet.yaml'), schemaPlugins, {}).kuzet.escalation as EscalationConfig;
  const policy = (s: { source: string; check: string; severity: string; labels?: Record<string, string> }) =>
    matchPolicy(esc.policies ?? [], { system: 'enbek', labels: {}, ...s } as never);
  const first = (s: Parameters<typeof policy>[0]) => policy(s)!.steps[0]!.notify;

  it('request deadlines go to the request\'s owner, never to the outage rotation', () => {
    const deadline = (labels: Record<string, string>) => ({ source: 'user', check: 'request-deadline', severity: 'critical', labels: { request_kind: 'trouble', ...labels } });
    assert.deepEqual(first(deadline({ form: 'enbek' })), [{ person: 'enbek-admin' }]);
    assert.deepEqual(first(deadline({ form: 'nqs' })), [{ person: 'nqs-admin' }]);
    assert.deepEqual(first(deadline({ form: 'ministry' })), [{ person: 'is-admin' }]);
    assert.deepEqual(first(deadline({ form: 'access', request_kind: 'access' })), [{ person: 'infosec-admin' }]);
  });

  it('SOC alerts go to information security and duty; security violations to information security; outages to duty', () => {
    assert.deepEqual(first({ source: 'soc', check: 'bruteforce', severity: 'critical' }), [{ person: 'infosec-admin' }, { rotation: 'primary' }]);
    assert.deepEqual(first({ source: 'log', check: 'ssh-possible-break-in', severity: 'critical', labels: { team: 'infosec' } }), [{ person: 'infosec-admin' }]);
    assert.deepEqual(first({ source: 'probe', check: 'enbek-home-ru', severity: 'critical' }), [{ rotation: 'primary' }]);
    assert.deepEqual(first({ source: 'user', check: 'user-reports', severity: 'major' }), [{ rotation: 'primary' }]);
  });
});
