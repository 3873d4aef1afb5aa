import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signAckToken, verifyAckToken } from '../../../src/escalation/ack-link.ts';
import { nextStep, resolveTargets, snapshotPolicy, stepDueAt } from '../../../src/escalation/ladder.ts';
import { matchesLabels, matchPolicy } from '../../../src/escalation/match.ts';
import { backoffMs } from '../../../src/notify/worker.ts';
import { ladderConfig } from '../../integration/escalation/fixtures.ts';

const MIN = 60_000;

describe('ladder arithmetic', () => {
  const snap = snapshotPolicy(ladderConfig().policies![0]!);

  it('steps fall due at start + after, and a repeat restarts the ladder `every` after the last step', () => {
    assert.deepEqual(snap.steps.map((s) => s.afterMs), [0, 15 * MIN, 60 * MIN]);
    assert.equal(stepDueAt(snap, 0, 0, 1), 15 * MIN);
    assert.equal(stepDueAt(snap, 0, 1, 0), 90 * MIN);
    assert.deepEqual(nextStep(snap, 0, 2), { round: 1, step: 0 });
    assert.equal(nextStep(snap, 1, 2), null, 'times: 1 means one repeat');
    assert.equal(snap.ackMs, 30 * MIN);
  });

  it('targets resolve to the on-call person by their channels, in their language', () => {
    const cfg = ladderConfig();
    const t0 = Date.parse('2026-01-05T04:00:00Z');
    const r = resolveTargets(cfg, [{ rotation: 'primary' }, { person: 'alice', via: ['email'] }, { channel: 'ops' }], t0);
    assert.deepEqual(
      r.deliveries.map((d) => `${d.channel}:${d.recipient.address ?? ''}:${d.lang}`),
      ['email:alice@example.kz:ru', 'slack:UALICE:ru', 'ops::ru'],
      'duplicates collapse',
    );
    const next = resolveTargets(cfg, [{ rotation: 'primary' }], t0 + 24 * 60 * MIN);
    assert.deepEqual(next.deliveries.map((d) => d.recipient.person), ['bob']);
    cfg.people!.dana = { name: 'Dana', email: 'dana@example.kz', slack: 'UDANA' };
    const byDefault = resolveTargets(cfg, [{ person: 'dana' }], t0);
    assert.deepEqual(byDefault.deliveries.map((d) => d.channel), ['email', 'slack'], 'no via: the first channel of each type she has an address for (not ops too)');
    const bad = resolveTargets(cfg, [{ person: 'carol', via: ['slack'] }, { rotation: 'nope' }], t0);
    assert.equal(bad.deliveries.length, 0);
    assert.deepEqual(bad.problems, ['person carol has no slack address', 'person carol is reachable by no channel', 'rotation nope is not configured']);
  });

  it('policies match by system, severity, source and labels (first match wins)', () => {
    const policies = [
      { name: 'soc', match: { sources: ['soc'] }, steps: [] },
      { name: 'prod', match: { severities: ['critical'], labels: { env: ['prod'], team: '!dev', check: '~http-.*' } }, steps: [] },
      { name: 'rest', steps: [] },
    ];
    const s = { system: 'enbek', check: 'http-home', source: 'probe', severity: 'critical', labels: { env: 'prod' } };
    assert.equal(matchPolicy(policies, s)?.name, 'prod');
    assert.equal(matchPolicy(policies, { ...s, source: 'soc' })?.name, 'soc');
    assert.equal(matchPolicy(policies, { ...s, labels: { env: 'prod', team: 'dev' } })?.name, 'rest');
    assert.equal(matchPolicy(policies, { ...s, check: 'tls' })?.name, 'rest');
    assert.equal(matchesLabels({ x: '~(' }, { x: '(' }), false, 'an invalid pattern matches nothing');
  });
});

describe('ack links', () => {
  const secret = 'a-secret-of-some-length';
  it('verifies a good link and refuses forged, tampered and expired ones', () => {
    const tok = signAckToken(secret, { incidentId: 42, outboxId: 7, expiresAt: 2_000_000, nonce: 'nonce-abcdef' });
    assert.deepEqual(verifyAckToken(secret, tok, 1_000_000), { ok: true, claims: { incidentId: 42, outboxId: 7, nonce: 'nonce-abcdef', expiresAt: 2_000_000 } });
    assert.deepEqual(verifyAckToken(secret, tok.replace(/^42\.7\./, '42.8.'), 0), { ok: false, reason: 'forged' }, 'the receiver it names is signed too');
    assert.deepEqual(verifyAckToken(secret, tok, 2_000_000), { ok: false, reason: 'expired' });
    assert.deepEqual(verifyAckToken('another-secret-entirely', tok, 0), { ok: false, reason: 'forged' });
    assert.deepEqual(verifyAckToken(secret, tok.replace(/^42\./, '43.'), 0), { ok: false, reason: 'forged' });
    assert.deepEqual(verifyAckToken(secret, tok.replace(/\.2000000\./, '.9000000.'), 0), { ok: false, reason: 'forged' });
    assert.deepEqual(verifyAckToken(secret, 'garbage', 0), { ok: false, reason: 'malformed' });
  });
});

describe('back-off', () => {
  it('doubles per attempt with equal jitter, capped', () => {
    assert.equal(backoffMs(1, 1000, 60_000, () => 0), 500);
    assert.equal(backoffMs(1, 1000, 60_000, () => 1), 1000);
    assert.equal(backoffMs(3, 1000, 60_000, () => 0.5), 3000);
    assert.equal(backoffMs(20, 1000, 60_000, () => 1), 60_000);
  });
});
