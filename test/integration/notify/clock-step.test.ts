import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import type { EscalationConfig } from '../../../src/escalation/config.ts';
import { Escalator } from '../../../src/escalation/escalator.ts';
import { enqueueNotifications, listOutbox, type NewNotification } from '../../../src/escalation/outbox.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import type { Channel, SendRequest, SendResult } from '../../../src/notify/channel.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { sig } from '../../support/signals.ts';
import { storeKind } from '../../support/store.ts';
import { cleanStore, closeSharedStore, ladderConfig, MIN, RecordingChannel } from '../escalation/fixtures.ts';

// The wall clock stepped by an hour either way (NTP, an operator) while kuzet runs. FakeClock.step moves now()
// and leaves the timers' remaining delays alone, as Node's monotonic timers do on a real host.

const HOUR = 60 * MIN;
after(async () => {
  await closeSharedStore();
});

const page = (key: string, channel = 'slack'): NewNotification => ({
  key,
  subjectKind: 'incident',
  subjectId: 1,
  channel,
  recipient: { person: 'alice', address: 'UALICE' },
  lang: 'en',
  message: { kind: 'page', incident: { id: 1, system: 'enbek', check: 'home-ru', source: 'probe', severity: 'critical', title: 'enbek.kz does not answer', openedAt: Date.parse('2026-01-05T04:00:00Z'), labels: {} } },
});

/** A channel whose sends wait until the test lets them go. */
class HeldChannel implements Channel {
  readonly type = 'test' as const;
  calls = 0;
  readonly #waiting: Array<() => void> = [];
  send(_req: SendRequest): Promise<SendResult> {
    this.calls++;
    return new Promise((resolve) => this.#waiting.push(() => resolve({ ok: true, providerId: `p${this.calls}` })));
  }
  release(): void {
    for (const r of this.#waiting.splice(0)) r();
  }
}

async function setup(cfg: EscalationConfig, channels: Record<string, Channel>) {
  const store = await cleanStore();
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const worker = new DeliveryWorker({ store, clock, config: () => cfg, channels: () => channels, random: () => 0.5, workerId: 'w1' });
  return { store, clock, worker };
}

describe(`the wall clock stepped by an hour, on ${storeKind}`, () => {
  it('escalation: a forward step sends each step that fell due once; a backward step re-sends nothing and the ladder goes on', async () => {
    const cfg = ladderConfig({ ack_links: undefined });
    const log: string[] = [];
    const channels = { email: new RecordingChannel(undefined, log, 'email'), slack: new RecordingChannel(undefined, log, 'slack'), ops: new RecordingChannel(undefined, log, 'ops') };
    const t = await setup(cfg, channels);
    const engine = new IncidentEngine({ store: t.store, clock: t.clock, policy: () => ({ reopenWindowMs: 0, flapFlips: 0, flapWindowMs: 0 }) });
    const esc = new Escalator({ store: t.store, clock: t.clock, config: () => cfg });
    engine.onChanges(esc.hook);
    await engine.processBatch([sig({ severity: 'critical', observedAt: t.clock.now() })]);
    await t.worker.runOnce();
    assert.deepEqual(log.slice().sort(), ['email:alice@example.kz', 'slack:UALICE']);

    // +1 h: the 15 min step, the 30 min ack breach and the 1 h step fell due: each is sent once.
    t.clock.step(HOUR);
    await esc.sweep();
    await esc.sweep();
    await t.worker.runOnce();
    await t.worker.runOnce();
    assert.deepEqual(log.slice(2).sort(), ['email:carol@example.kz', 'ops:', 'slack:UBOB']);

    // −1 h: nothing is sent again, however often the sweep and the worker look.
    t.clock.step(-HOUR);
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000);
      await esc.sweep();
      await t.worker.runOnce();
    }
    assert.equal(log.length, 5, 'nothing re-sent after the clock went back');
    const e = await t.store.query<{ n: number }>(`SELECT steps_fired::int AS n FROM escalations`);
    assert.equal(e.rows[0]!.n, 3, 'three steps fired, each once');

    // The next step (round 2 at 1 h 30 of the ladder's wall time) comes when the wall clock reaches it: 1 h 30 after
    // the step back, not earlier, and once.
    t.clock.advance(89 * MIN);
    await esc.sweep();
    await t.worker.runOnce();
    assert.equal(log.length, 5);
    t.clock.advance(MIN);
    await esc.sweep();
    await t.worker.runOnce();
    assert.deepEqual(log.slice(5).sort(), ['email:alice@example.kz', 'slack:UALICE']);
    const keys = (await listOutbox(t.store, {})).map((r) => r.key);
    assert.equal(new Set(keys).size, keys.length);
  });

  it('delivery: a forward step during a send does not end this worker’s own lease and send the page again', async () => {
    const cfg = ladderConfig({ channels: { slack: { type: 'slack', token: 'xoxb-test', timeout: '10s' } } });
    const slack = new HeldChannel();
    const t = await setup(cfg, { slack });
    await enqueueNotifications(t.store, [page('in-flight')], t.clock.now());
    await t.worker.pump(); // claimed with a 60 s lease; the send is in flight
    assert.equal(slack.calls, 1);
    t.clock.step(HOUR); // the lease's end is now an hour in the past on this worker's clock
    assert.equal(await t.worker.pump(), 0, 'a row this worker is delivering is not claimed again');
    assert.equal(slack.calls, 1);
    slack.release();
    await t.worker.drain();
    const rows = await listOutbox(t.store, {});
    assert.equal(rows[0]!.state, 'sent');
    assert.equal(rows[0]!.attempts, 1);
  });

  it('delivery: a backward step neither holds a rate-limited channel nor a retry for the hour', async () => {
    const cfg = ladderConfig({ channels: { slack: { type: 'slack', token: 'xoxb-test', timeout: '10s', rate_per_minute: 60 } } });
    const log: string[] = [];
    let fail = true;
    const slack = new RecordingChannel((req) => (fail && req.idempotencyKey === 'retried' ? { ok: false, retry: true, error: 'HTTP 503' } : null), log, 'slack');
    const t = await setup(cfg, { slack });
    await enqueueNotifications(t.store, [page('first'), page('retried')], t.clock.now());
    await t.worker.runOnce();
    assert.equal(log.length, 1);
    let retried = (await listOutbox(t.store, {})).find((r) => r.key === 'retried')!;
    assert.equal(retried.state, 'pending');
    assert.equal(retried.nextAttemptAt - t.clock.now(), 7_500, 'base 10 s, attempt 1, jitter 0.5');

    t.clock.step(-HOUR);
    fail = false;
    // A new page on the rate-limited channel leaves at once (the bucket is not an hour in debt).
    await enqueueNotifications(t.store, [page('after-step')], t.clock.now());
    await t.worker.runOnce();
    const rows = await listOutbox(t.store, {});
    assert.equal(rows.find((r) => r.key === 'after-step')!.state, 'sent');
    // The retry planned 7.5 s ahead on the old clock is not held for an hour and 7.5 s.
    retried = rows.find((r) => r.key === 'retried')!;
    assert.equal(retried.state, 'sent', `retry state ${retried.state}, next attempt in ${(retried.nextAttemptAt - t.clock.now()) / 1000} s`);
    assert.equal(log.length, 3);
  });
});
