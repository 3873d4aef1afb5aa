import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { FakeClock } from '../../../src/clock.ts';
import { enqueueNotifications, listOutbox } from '../../../src/escalation/outbox.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { migrate } from '../../../src/store/migrate.ts';
import { openStore, type Store } from '../../../src/store/store.ts';
import { pgServerUnavailable, startPgServer, type PgServer } from '../../support/pg-server.ts';
import { ladderConfig, RecordingChannel } from '../escalation/fixtures.ts';

// Issue 13 item 5: the outbox worker is woken by LISTEN/NOTIFY at the commit, not by its poll. The fake
// clock is never advanced here, so the poll never fires: only a notification can start a delivery. The
// LISTEN connection survives pg_terminate_backend and a server restart and listens again.

const why = pgServerUnavailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('outbox worker woken by LISTEN/NOTIFY on a real server', { skip: why ?? false }, () => {
  let server: PgServer;
  let store: Store;
  let worker: DeliveryWorker;
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const ch = new RecordingChannel(undefined, [], 'ops');
  let n = 0;

  before(async () => {
    server = await startPgServer();
    store = await openStore({ url: server.url, poolSize: 4 });
    await migrate(store);
    const cfg = ladderConfig();
    cfg.channels = { ops: { type: 'webhook', url: 'http://127.0.0.1:9/', secret: 's' } };
    worker = new DeliveryWorker({ store, clock, config: () => cfg, channels: () => ({ ops: ch }), workerId: 'w1', random: () => 0.5 });
    await worker.start();
  });
  after(async () => {
    await worker?.stop();
    await store?.close();
    await server?.destroy();
  });

  /** Enqueue one page in its own transaction and wait (bounded, real time) until the channel got it. */
  const pageAndWait = async (): Promise<number> => {
    const key = `listen-${n++}`;
    const before = ch.sent.length;
    const t0 = performance.now();
    await store.tx((q) =>
      enqueueNotifications(q, [{ key, subjectKind: 'incident', subjectId: 1, channel: 'ops', recipient: {}, lang: 'en', message: { kind: 'mail', mail: { subject: key, text: key } } }], clock.now()),
    );
    while (ch.sent.length === before) {
      if (performance.now() - t0 > 10_000) assert.fail(`${key} was not delivered within 10 s (no wake-up)`);
      await sleep(5);
    }
    assert.equal(ch.sent.at(-1)!.message.subject, key);
    return performance.now() - t0;
  };

  const listenPid = async (admin: pg.Client) => (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'kuzet-listen'`)).rows[0]?.pid;

  it('a committed page is delivered at once without the poll (the clock never moves)', async () => {
    const t0 = performance.now();
    while (!worker.listening || !(await store.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'kuzet-listen' AND query ILIKE 'LISTEN%'`)).rowCount) {
      assert.ok(performance.now() - t0 < 10_000, 'listening within 10 s');
      await sleep(20);
    }
    for (let i = 0; i < 3; i++) await pageAndWait();
    await worker.drain(); // the channel has it; let the worker record it
    assert.equal((await listOutbox(store, { state: 'sent' })).length, 3);
  });

  it('the LISTEN connection comes back after pg_terminate_backend and after a server restart', async () => {
    const admin = new pg.Client({ connectionString: server.url, application_name: 'kuzet-test-admin' });
    admin.on('error', () => {});
    await admin.connect();
    const first = await listenPid(admin);
    assert.ok(first, 'a LISTEN session exists');
    await admin.query('SELECT pg_terminate_backend($1)', [first]);
    await admin.end();
    await sleep(50);
    await pageAndWait();
    await server.stop();
    await sleep(300);
    await server.start();
    await pageAndWait();
    const again = new pg.Client({ connectionString: server.url });
    await again.connect();
    try {
      const pid = await listenPid(again);
      assert.ok(pid && pid !== first, 'a new LISTEN session');
    } finally {
      await again.end();
    }
  });
});
