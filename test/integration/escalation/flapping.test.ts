import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import type { EscalationConfig } from '../../../src/escalation/config.ts';
import { Escalator } from '../../../src/escalation/escalator.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import { lifecyclePolicy } from '../../../src/incidents/lifecycle.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { sig } from '../../support/signals.ts';
import { storeKind } from '../../support/store.ts';
import { cleanStore, closeSharedStore, ladderConfig, MIN, RecordingChannel } from './fixtures.ts';

// Flapping noise through the engine, escalation and the outbox worker on the injected clock: "resolved" is
// held for the settle period, a failure back within it continues the episode, and flapping is marked early.

after(async () => {
  await closeSharedStore();
});

const SEC = 1000;
/** The shipped defaults of `incidents:` (config/kuzet.yaml and the schema). */
const defaults = lifecyclePolicy({ reopen_window: '30m', flapping: { flips: 4, window: '1h', settle: '5m' } });

async function setup(cfg: EscalationConfig, policy = defaults) {
  const store = await cleanStore();
  const clock = new FakeClock('2026-01-05T04:00:00Z'); // 09:00 in Almaty: alice is on call
  const engine = new IncidentEngine({ store, clock, policy: () => policy });
  const esc = new Escalator({ store, clock, config: () => cfg });
  engine.onChanges(esc.hook);
  const log: string[] = [];
  const channels = { email: new RecordingChannel(undefined, log, 'email'), slack: new RecordingChannel(undefined, log, 'slack'), ops: new RecordingChannel(undefined, log, 'ops') };
  const worker = new DeliveryWorker({ store, clock, config: () => cfg, channels: () => channels, random: () => 0.5, workerId: 'w' });
  const signal = async (status: 'firing' | 'resolved') => {
    const [o] = await engine.processBatch([sig({ fingerprint: 'flappy', system: 'enbek', severity: 'critical', status, observedAt: clock.now() })]);
    await esc.sweep();
    await worker.runOnce();
    return o!.incidentId;
  };
  /** Move the clock in steps of at most 10 s, sweeping and delivering at each. */
  const wait = async (ms: number) => {
    for (let left = ms; left > 0; left -= 10 * SEC) {
      clock.advance(Math.min(10 * SEC, left));
      await esc.sweep();
      await worker.runOnce();
    }
  };
  const outbox = async () =>
    (await store.query<{ kind: string; channel: string; created_at: Date | string }>(`SELECT message->>'kind' AS kind, channel, created_at FROM outbox ORDER BY id`)).rows;
  return { store, clock, engine, esc, worker, log, signal, wait, outbox };
}

/** One person, one channel: each message is one outbox row, as in the report of the issue. */
const onePerson = (): EscalationConfig =>
  ladderConfig({ policies: [{ name: 'portals', match: { severities: ['critical'] }, steps: [{ after: '0m', notify: [{ person: 'carol', via: ['email'] }] }] }] });

describe(`flapping noise on ${storeKind}`, () => {
  it('a target alternating every 30 s for 30 minutes gives at most 3 notifications (here: one page, one "resolved")', async () => {
    const t = await setup(onePerson());
    const start = t.clock.now();
    const id = await t.signal('firing');
    let lastResolve = 0;
    for (let k = 1; k <= 60; k++) {
      await t.wait(30 * SEC);
      if (k % 2) lastResolve = t.clock.now();
      assert.equal(await t.signal(k % 2 ? 'resolved' : 'firing'), id, 'one incident throughout');
    }
    // Back up at 30:30 and stays up.
    await t.wait(30 * SEC);
    lastResolve = t.clock.now();
    await t.signal('resolved');
    await t.wait(4 * MIN + 50 * SEC);
    assert.deepEqual((await t.outbox()).map((r) => r.kind), ['page'], '"resolved" is still held within the settle period');
    await t.wait(20 * SEC);
    const rows = await t.outbox();
    assert.ok(rows.length <= 3, `${rows.length} notifications`);
    assert.deepEqual(rows.map((r) => r.kind), ['page', 'resolved']);
    assert.deepEqual(t.log, ['email:carol@example.kz', 'email:carol@example.kz'], 'two messages sent');
    assert.ok(new Date(rows[1]!.created_at).getTime() >= lastResolve + 5 * MIN, '"resolved" only after 5 minutes of quiet');
    const ev = await t.store.query<{ kind: string; at: Date | string }>(`SELECT kind, at FROM incident_events WHERE incident_id = $1 AND kind = 'flapping_started'`, [id]);
    assert.equal(ev.rowCount, 1);
    assert.ok(new Date(ev.rows[0]!.at).getTime() - start <= 2 * MIN, 'flapping is marked at the 4th flip, 2 minutes in');
  });

  it('the old behaviour for contrast: without a settle period the same flapping sends more than 3', async () => {
    const t = await setup(onePerson(), { ...defaults, resolvedHoldMs: 0 });
    await t.signal('firing');
    for (let k = 1; k <= 60; k++) {
      await t.wait(30 * SEC);
      await t.signal(k % 2 ? 'resolved' : 'firing');
    }
    assert.ok((await t.outbox()).length > 3);
  });

  it('a single recovery is told once, after the settle period; a failure after that pages again', async () => {
    const t = await setup(onePerson());
    await t.signal('firing');
    await t.wait(2 * MIN);
    await t.signal('resolved');
    await t.wait(4 * MIN);
    assert.deepEqual((await t.outbox()).map((r) => r.kind), ['page']);
    await t.wait(1 * MIN);
    assert.deepEqual((await t.outbox()).map((r) => r.kind), ['page', 'resolved']);
    await t.wait(10 * MIN);
    await t.signal('firing'); // reopened within the reopen window, after "resolved" was told: a new page
    assert.deepEqual((await t.outbox()).map((r) => r.kind), ['page', 'resolved', 'page']);
  });

  it('a failure back within the settle period continues the ladder where it was (next step, ack deadline)', async () => {
    const t = await setup(ladderConfig());
    await t.signal('firing'); // step 0: alice by e-mail and Slack
    assert.deepEqual(t.log.sort(), ['email:alice@example.kz', 'slack:UALICE']);
    await t.wait(10 * MIN);
    await t.signal('resolved');
    await t.wait(2 * MIN);
    await t.signal('firing'); // 12 min: within the settle period
    assert.equal(t.log.length, 2, 'no new page to alice');
    await t.wait(3 * MIN); // 15 min: step 1 of the same ladder
    assert.deepEqual(t.log.slice(2), ['slack:UBOB']);
    await t.wait(15 * MIN); // 30 min: the ack deadline of the episode
    assert.deepEqual(t.log.slice(3), ['ops:']);
    const e = await t.store.query<{ state: string }>(`SELECT state FROM escalations`);
    assert.deepEqual(e.rows.map((r) => r.state), ['active'], 'one escalation, resumed');
  });
});
