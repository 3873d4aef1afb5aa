import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { Escalator } from '../../../src/escalation/escalator.ts';
import { LEADER_LOCK_KEY, Sweeper } from '../../../src/escalation/sweeper.ts';
import { scheduleTimers } from '../../../src/escalation/timers.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { openStore, type Store } from '../../../src/store/store.ts';
import { sig } from '../../support/signals.ts';
import { storeKind, testDatabaseUrl } from '../../support/store.ts';
import { cleanStore, closeSharedStore, ladderConfig, MIN, RecordingChannel } from './fixtures.ts';

const lifecycle = { reopenWindowMs: 30 * MIN, flapFlips: 4, flapWindowMs: 60 * MIN };
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
  await closeSharedStore();
});

/** One kuzet "process": its own engine, escalator, sweeper and worker over `store`, with its own clock. */
function instance(store: Store, clock: FakeClock, log: string[], id: string) {
  const cfg = ladderConfig();
  const engine = new IncidentEngine({ store, clock, policy: () => lifecycle });
  const esc = new Escalator({ store, clock, config: () => cfg });
  engine.onChanges(esc.hook);
  const sweeper = new Sweeper({ store, clock, sweep: () => esc.sweep(), intervalMs: 1000 });
  const channels = { email: new RecordingChannel(undefined, log, 'email'), slack: new RecordingChannel(undefined, log, 'slack'), ops: new RecordingChannel(undefined, log, 'ops') };
  const worker = new DeliveryWorker({ store, clock, config: () => cfg, channels: () => channels, random: () => 0.5, workerId: id });
  return { engine, esc, sweeper, worker };
}

describe(`durable timers and leadership on ${storeKind}`, () => {
  it('a restart resumes the ladder: steps that fell due while down fire once, on start', async () => {
    const store = await cleanStore();
    const clock = new FakeClock('2026-01-05T04:00:00Z');
    const log: string[] = [];
    const a = instance(store, clock, log, 'a');
    await a.sweeper.start();
    await a.engine.processBatch([sig({ severity: 'critical', observedAt: clock.now() })]);
    await a.worker.runOnce();
    await a.sweeper.stop(); // "kill": nothing of a survives but the database
    clock.advance(70 * MIN); // down across steps 1 (15 m) and 2 (1 h) and the ack deadline (30 m)
    const b = instance(store, clock, log, 'b');
    await b.sweeper.start();
    await b.worker.runOnce();
    assert.deepEqual(log.slice(2).sort(), ['email:carol@example.kz', 'ops:', 'slack:UBOB']);
    await b.sweeper.tick();
    await b.worker.runOnce();
    assert.equal(log.length, 5, 'nothing fires twice');
    await b.sweeper.stop();
  });

  it('timers are generic: another stage registers its own kind; a failing handler holds back nobody', async () => {
    const store = await cleanStore();
    const clock = new FakeClock('2026-01-05T04:00:00Z');
    const log: string[] = [];
    const a = instance(store, clock, log, 'a');
    const fired: number[] = [];
    a.esc.registerTimerHandler('request_deadline', async (_q, t) => void fired.push(t.subjectId));
    a.esc.registerTimerHandler('boom', async (q) => {
      await q.query(`INSERT INTO silences (matchers, starts_at, ends_at, author, reason, created_at) VALUES ('{"a":"b"}', now(), now(), 'x', 'rolled back', now())`);
      throw new Error('handler bug');
    });
    assert.throws(() => a.esc.registerTimerHandler('step', async () => {}), /already registered/);
    await scheduleTimers(
      store,
      [
        { subjectKind: 'request', subjectId: 77, kind: 'boom', dueAt: clock.now() + MIN },
        { subjectKind: 'request', subjectId: 42, kind: 'request_deadline', dueAt: clock.now() + 2 * MIN, dedupKey: 'req:42:deadline' },
        { subjectKind: 'request', subjectId: 42, kind: 'request_deadline', dueAt: clock.now() + 2 * MIN, dedupKey: 'req:42:deadline' },
        { subjectKind: 'request', subjectId: 43, kind: 'not_mine', dueAt: clock.now() },
      ],
      clock.now(),
    );
    assert.equal(await a.esc.sweep(), 0);
    clock.advance(2 * MIN);
    await a.esc.sweep();
    await a.esc.sweep();
    assert.deepEqual(fired, [42], 'fired once, the duplicate schedule was ignored');
    const rows = await store.query<{ kind: string; state: string; failures: number | null }>(
      `SELECT kind, state, (payload->>'failures')::int AS failures FROM timers ORDER BY id`,
    );
    assert.deepEqual(rows.rows, [
      { kind: 'boom', state: 'pending', failures: 1 },
      { kind: 'request_deadline', state: 'fired', failures: null },
      { kind: 'not_mine', state: 'pending', failures: null },
    ]);
    assert.equal((await store.query(`SELECT 1 FROM silences`)).rowCount, 0, "the failing handler's writes were rolled back");
  });

  it('the sweeper wakes on the injected clock', async () => {
    const store = await cleanStore();
    const clock = new FakeClock('2026-01-05T04:00:00Z');
    const log: string[] = [];
    const a = instance(store, clock, log, 'a');
    await a.sweeper.start();
    await a.engine.processBatch([sig({ severity: 'critical', observedAt: clock.now() })]);
    clock.advance(15 * MIN); // fires the sweeper's own wake-up timer
    await a.sweeper.tick(); // joins the sweep the wake-up started
    await a.worker.runOnce();
    assert.ok(log.includes('slack:UBOB'));
    await a.sweeper.stop();
  });

  it('two instances on one PostgreSQL: one leads, and every page goes out exactly once', { skip: !testDatabaseUrl && 'needs KUZET_TEST_DATABASE_URL (PGlite is one process)' }, async () => {
    const s1 = await cleanStore();
    const schema = (await s1.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    const s2 = await openStore({ url: testDatabaseUrl!, schema, poolSize: 6 });
    closers.push(() => s2.close());
    const c1 = new FakeClock('2026-01-05T04:00:00Z');
    const c2 = new FakeClock('2026-01-05T04:00:00Z');
    const log: string[] = [];
    const p1 = instance(s1, c1, log, 'p1');
    const p2 = instance(s2, c2, log, 'p2');
    await Promise.all([p1.sweeper.start(), p2.sweeper.start()]);
    assert.equal([p1.sweeper.leader, p2.sweeper.leader].filter(Boolean).length, 1, 'exactly one leader');

    // Signals arrive at both instances for ten incidents.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? p1 : p2).engine.processBatch([sig({ fingerprint: `two-${i}`, severity: 'critical', observedAt: c1.now() })])),
    );
    const deliverBoth = async () => {
      await Promise.all([p1.worker.runOnce(), p2.worker.runOnce()]);
      await Promise.all([p1.worker.runOnce(), p2.worker.runOnce()]);
    };
    await deliverBoth();
    assert.equal(log.length, 20, 'step 0: e-mail and Slack to alice for each of 10 incidents');
    c1.advance(15 * MIN);
    c2.advance(15 * MIN);
    // Both sweep at once, leader or not: SKIP LOCKED and the idempotency keys still page once.
    await Promise.all([p1.esc.sweep(), p2.esc.sweep(), p1.sweeper.tick(), p2.sweeper.tick()]);
    await deliverBoth();
    assert.equal(log.filter((l) => l === 'slack:UBOB').length, 10);

    // The leader goes away; the other takes over at its next tick and carries on.
    const [leader, other] = p1.sweeper.leader ? [p1, p2] : [p2, p1];
    await leader.sweeper.stop();
    c1.advance(45 * MIN);
    c2.advance(45 * MIN);
    await other.sweeper.tick();
    assert.equal(other.sweeper.leader, true);
    await deliverBoth();
    assert.equal(log.filter((l) => l === 'email:carol@example.kz').length, 10);
    assert.equal(log.filter((l) => l === 'ops:').length, 10, 'one ack breach page per incident');
    const dup = await s1.query(`SELECT idempotency_key FROM outbox GROUP BY idempotency_key HAVING count(*) > 1`);
    assert.equal(dup.rowCount, 0);
    assert.equal(log.length, 50);
    await other.sweeper.stop();
  });
  it('a leader cut off without its connection closing (silent) is ended after a few intervals, and another leads', async () => {
    const store = await cleanStore();
    const clock = new FakeClock('2026-01-05T04:00:00Z');
    // The silent leader: a session holding the lock that never says anything again (what a partition looks like
    // from the server, which keeps the lock until TCP gives up).
    let silentPid = 0;
    let ended = false;
    const held = store.session(async (q) => {
      silentPid = (await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_advisory_lock($1)', [LEADER_LOCK_KEY])).rows[0]!.pid;
      await new Promise((r) => setTimeout(r, 4000)); // idle; the server ends it before this is over
      await q.query('SELECT 1').catch(() => (ended = true));
    });
    while (!silentPid) await new Promise((r) => setTimeout(r, 10));
    const b = new Sweeper({ store, clock, sweep: async () => 0, intervalMs: 100 });
    await b.tick();
    assert.equal(b.leader, false, 'the lock is held, and its holder spoke just now');
    // Staleness is judged by the server's clock (5 intervals of 100 ms): poll, bounded.
    for (let i = 0; i < 60 && !b.leader; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await b.tick();
    }
    assert.equal(b.leader, true, 'the silent holder\'s session was ended and the lock taken');
    const gone = await store.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [silentPid]);
    assert.equal(gone.rowCount, 0);
    await held.catch(() => {});
    assert.equal(ended, true, 'the cut-off session finds itself ended when it speaks again');
    await b.stop();
  });
});
