import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../src/clock.ts';
import type { EscalationConfig } from '../../../src/escalation/config.ts';
import { Escalator } from '../../../src/escalation/escalator.ts';
import { listOutbox } from '../../../src/escalation/outbox.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { sig } from '../../support/signals.ts';
import { storeKind } from '../../support/store.ts';
import { cleanStore, closeSharedStore, ladderConfig, MIN, RecordingChannel } from './fixtures.ts';

const lifecycle = { reopenWindowMs: 30 * MIN, flapFlips: 4, flapWindowMs: 60 * MIN };
after(async () => {
  await closeSharedStore();
});

async function setup(cfg: EscalationConfig = ladderConfig()) {
  const store = await cleanStore();
  const clock = new FakeClock('2026-01-05T04:00:00Z'); // 09:00 in Almaty: alice's shift starts
  const registry = new Registry();
  const engine = new IncidentEngine({ store, clock, policy: () => lifecycle });
  const esc = new Escalator({ store, clock, config: () => cfg, registry });
  engine.onChanges(esc.hook);
  const log: string[] = [];
  const channels = { email: new RecordingChannel(undefined, log, 'email'), slack: new RecordingChannel(undefined, log, 'slack'), ops: new RecordingChannel(undefined, log, 'ops') };
  const worker = new DeliveryWorker({ store, clock, config: () => cfg, channels: () => channels, registry, random: () => 0.5, workerId: 'w1' });
  const openIncident = async (over = {}) => {
    const [o] = await engine.processBatch([sig({ severity: 'critical', observedAt: clock.now(), ...over })]);
    return o!.incidentId!;
  };
  /** Move the clock, fire due timers, deliver. */
  const at = async (ms: number) => {
    clock.advance(ms);
    await esc.sweep();
    await worker.runOnce();
  };
  const sentTo = () => log;
  return { store, clock, engine, esc, worker, channels, registry, openIncident, at, sentTo };
}

describe(`escalation ladder on ${storeKind}`, () => {
  it('walks the whole ladder on the injected clock, marks the breach, repeats once, then stops', async () => {
    const t = await setup();
    const id = await t.openIncident();
    // Step 0 was decided in the engine's own transaction: the rows exist before any sweep.
    const decided = await listOutbox(t.store, { subject: { kind: 'incident', id } });
    assert.deepEqual(decided.map((d) => d.channel).sort(), ['email', 'slack']);
    await t.worker.runOnce();
    assert.deepEqual(t.sentTo().sort(), ['email:alice@example.kz', 'slack:UALICE']);
    const first = t.channels.email.sent[0]!;
    assert.match(first.message.subject, /КРИТИЧЕСКАЯ/);
    assert.match(first.message.text, /Система: enbek/);
    assert.match(first.message.text, /https:\/\/kuzet\.example\.kz\/ack\//);

    await t.at(14 * MIN);
    assert.equal(t.sentTo().length, 2, 'nothing before 15 minutes');
    await t.at(1 * MIN);
    assert.deepEqual(t.sentTo().slice(2), ['slack:UBOB']);
    assert.match(t.channels.slack.sent.at(-1)!.message.text, /Жүйе: enbek/, 'bob reads Kazakh');

    await t.at(15 * MIN); // 30 min: ack deadline
    assert.deepEqual(t.sentTo().slice(3), ['ops:']);
    assert.match(await t.registry.metrics(), /kuzet_sla_breaches_total\{policy="portals",deadline="ack"\} 1/);
    const e = await t.store.query<{ ack_breached_at: unknown; state: string }>(`SELECT ack_breached_at, state FROM escalations WHERE subject_id = $1`, [id]);
    assert.ok(e.rows[0]!.ack_breached_at);

    await t.at(30 * MIN); // 1 h: head of operations
    assert.deepEqual(t.sentTo().slice(4), ['email:carol@example.kz']);
    assert.match(t.channels.email.sent.at(-1)!.message.text, /System: enbek/, 'carol reads English');

    await t.at(30 * MIN); // 1 h 30: the ladder repeats from step 0
    assert.deepEqual(t.sentTo().slice(5).sort(), ['email:alice@example.kz', 'slack:UALICE']);
    await t.at(75 * MIN); // 2 h 45: round 2 steps 1 and 2 (repeat times: 1 means one more round)
    assert.deepEqual(t.sentTo().slice(7), ['slack:UBOB', 'email:carol@example.kz']);
    await t.at(10 * 60 * MIN);
    assert.deepEqual(t.sentTo().slice(9), ['ops:'], 'the ladder is finished; only the 4 h resolve breach follows');
    const pending = await t.store.query(`SELECT 1 FROM timers WHERE state = 'pending'`);
    assert.equal(pending.rowCount, 0);
    assert.match(await t.registry.metrics(), /kuzet_sla_breaches_total\{policy="portals",deadline="resolve"\} 1/);
  });

  it('an acknowledgement mid-ladder stops every further step at once', async () => {
    const t = await setup();
    const id = await t.openIncident({ fingerprint: 'ack-mid' });
    await t.worker.runOnce();
    await t.at(16 * MIN);
    assert.equal(t.sentTo().length, 3);
    await t.engine.acknowledge(id, 'alice');
    await t.at(5 * 60 * MIN);
    assert.deepEqual(t.sentTo().slice(3), ['ops:'], 'no page to a person after the acknowledgement; only the resolve breach');
    const e = await t.store.query<{ state: string; ack_breached_at: unknown }>(`SELECT state, ack_breached_at FROM escalations WHERE subject_id = $1`, [id]);
    assert.equal(e.rows[0]!.state, 'acknowledged');
    assert.equal(e.rows[0]!.ack_breached_at, null, 'acknowledged within 30 minutes: no ack breach');
  });

  it('an acknowledgement before delivery withdraws the undelivered page; a resolve stops the ladder', async () => {
    const t = await setup();
    const id = await t.openIncident({ fingerprint: 'ack-early' });
    await t.engine.acknowledge(id, 'alice');
    await t.worker.runOnce();
    assert.equal(t.sentTo().length, 0);
    const rows = await listOutbox(t.store, { subject: { kind: 'incident', id } });
    assert.ok(rows.length > 0 && rows.every((r) => r.state === 'cancelled'));

    const id2 = await t.openIncident({ fingerprint: 'resolve-mid' });
    await t.worker.runOnce();
    await t.engine.processBatch([sig({ fingerprint: 'resolve-mid', status: 'resolved', observedAt: t.clock.now() })]);
    await t.at(6 * 60 * MIN);
    assert.deepEqual(
      [...t.sentTo()].sort(),
      ['email:alice@example.kz', 'email:alice@example.kz', 'ops:', 'slack:UALICE', 'slack:UALICE'],
      'step 0 of the second incident, then its end to the same people; the first breaches its resolve deadline',
    );
    assert.match(t.channels.slack.sent[1]!.message.subject, /^\[КРИТИЧЕСКАЯ\] Устранено #\d+/, 'the second Slack message is the end notice');
    const e = await t.store.query<{ state: string }>(`SELECT state FROM escalations WHERE subject_id = $1`, [id2]);
    assert.equal(e.rows[0]!.state, 'resolved');
  });

  it('a config reload does not rewrite a ladder halfway up (the policy is snapshotted)', async () => {
    let cfg = ladderConfig();
    const t = await setup(new Proxy({} as EscalationConfig, { get: (_t, k) => cfg[k as keyof EscalationConfig] }));
    await t.openIncident({ fingerprint: 'snap' });
    await t.worker.runOnce();
    cfg = ladderConfig({ policies: [{ name: 'portals', match: {}, steps: [{ after: '0m', notify: [{ person: 'carol', via: ['email'] }] }] }] });
    await t.at(15 * MIN);
    assert.deepEqual(t.sentTo().slice(2), ['slack:UBOB'], 'the old ladder goes on');
  });

  it('flapping changes (page: false) and warnings without a policy start no paging', async () => {
    const t = await setup();
    await t.openIncident({ fingerprint: 'warn', severity: 'warning' });
    const r = await t.store.query(`SELECT 1 FROM escalations`);
    assert.equal(r.rowCount, 0);
    // Flip one incident until it flaps: reopen events while flapping carry page: false.
    await t.openIncident({ fingerprint: 'flap' });
    for (let i = 0; i < 6; i++) {
      t.clock.advance(MIN);
      await t.engine.processBatch([sig({ fingerprint: 'flap', severity: 'critical', status: i % 2 === 0 ? 'resolved' : 'firing', observedAt: t.clock.now() })]);
    }
    const esc = await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM escalations`);
    const flapping = await t.store.query<{ flapping: boolean }>(`SELECT flapping FROM incidents WHERE fingerprint = 'flap' ORDER BY id DESC LIMIT 1`);
    assert.equal(flapping.rows[0]!.flapping, true);
    assert.ok(Number(esc.rows[0]!.n) < 4, `reopens while flapping do not start ladders (got ${esc.rows[0]!.n})`);
  });
});
