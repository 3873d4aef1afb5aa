import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createToken } from '../../../src/access/tokens.ts';
import { createApp, type App } from '../../../src/app.ts';
import { FakeClock } from '../../../src/clock.ts';
import { nullLogger } from '../../../src/log.ts';
import { LEADER_LOCK_KEY } from '../../../src/escalation/sweeper.ts';
import { TEST_CONFIG } from '../../support/app.ts';
import { pgServerUnavailable, startPgServer, type PgServer } from '../../support/pg-server.ts';
import { tmpTree } from '../../support/tmp.ts';

// Issue 12 item 8: a lost PostgreSQL connection must never kill kuzet. A private server, started and
// stopped by the test: stop it under load and start it again; terminate each of kuzet's sessions in turn
// (the escalation leader's included). kuzet survives, answers only 2xx or 503 meanwhile, recovers by
// itself within 10 s, and every alert it acknowledged is in the store afterwards.

const why = pgServerUnavailable();
const RECOVERY_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kuzet on a PostgreSQL server that stops, restarts and loses sessions', { skip: why ?? false }, () => {
  let server: PgServer;
  let app: App;
  let second: App;
  let token: string;
  let cleanup: () => void;
  let target: Server;
  const clock = new FakeClock('2026-03-02T04:00:00Z');
  let seq = 0;

  before(async () => {
    server = await startPgServer();
    target = createServer((sock) => sock.end());
    const targetPort = await new Promise<number>((r) => target.listen(0, '127.0.0.1', () => r((target.address() as AddressInfo).port)));
    const probe = `probes:\n  - { name: local-tcp, kind: tcp, system: enbek, interval: 30s, timeout: 2s, confirm: { failures: 3 }, severity: critical, tcp: { host: 127.0.0.1, port: ${targetPort} } }\n`;
    const t = tmpTree({ 'kuzet.yaml': `${TEST_CONFIG}store:\n  url: "${server.url}"\n  pool_size: 6\n`, 'probes/local.yaml': probe });
    cleanup = t.cleanup;
    app = await createApp({ configFile: t.path('kuzet.yaml'), clock, log: nullLogger, port: 0 });
    await app.start();
    // A second instance on the same database: a lost session must kill neither.
    second = await createApp({ configFile: t.path('kuzet.yaml'), clock, log: nullLogger, port: 0 });
    await second.start();
    token = (await createToken(app.store, clock, 'prometheus', 'soc', 'test')).token;
  });
  after(async () => {
    await second?.stop();
    await app?.stop();
    await server?.destroy();
    await new Promise<void>((r) => (target ? target.close(() => r()) : r()));
    cleanup?.();
  });

  /** Post one new alert; returns its name and the status. */
  const postAlert = async () => {
    const name = `outage-${seq++}`;
    const r = await app.http.inject({
      method: 'POST',
      url: '/api/v2/alerts',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify([{ labels: { alertname: name, system: 'enbek', severity: 'critical' }, annotations: { summary: name } }]),
    });
    return { name, status: r.statusCode, retryAfter: r.headers['retry-after'], body: r.body };
  };

  /** Post until one is accepted; returns the ms it took. Fails after RECOVERY_MS. */
  const untilAccepted = async (): Promise<number> => {
    const t0 = performance.now();
    for (;;) {
      const r = await postAlert();
      if (r.status === 200) return performance.now() - t0;
      assert.equal(r.status, 503, `while recovering: ${r.status} ${r.body}`);
      if (performance.now() - t0 > RECOVERY_MS) assert.fail(`not recovered within ${RECOVERY_MS} ms`);
      await sleep(50);
    }
  };

  const stored = async (names: string[]): Promise<Set<string>> => {
    const r = await app.store.query<{ check: string }>(`SELECT DISTINCT check_name AS check FROM signals WHERE check_name = ANY($1::text[])`, [names]);
    return new Set(r.rows.map((x) => x.check));
  };

  it('under load, a stop and a start of the server: only 2xx or 503 with Retry-After, recovery within 10 s, nothing acknowledged lost', async () => {
    const acked: string[] = [];
    const odd: string[] = [];
    let refused = 0;
    let loading = true;
    const worker = async () => {
      while (loading) {
        const r = await postAlert();
        if (r.status === 200) acked.push(r.name);
        else if (r.status === 503 && r.retryAfter) refused++;
        else odd.push(`${r.status} ${r.body}`);
        await sleep(2);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    await sleep(300);
    const before = acked.length;
    assert.ok(before > 0, 'alerts were accepted before the stop');
    await server.stop();
    await sleep(500);
    const ready = await app.http.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503, 'not ready while the store is down');
    assert.ok(ready.headers['retry-after']);
    await app.escalation.sweeper.tick();
    await second.escalation.sweeper.tick();
    assert.equal(app.escalation.sweeper.leader || second.escalation.sweeper.leader, false, 'leadership is given up while the store is down');
    assert.ok(refused > 0, 'requests were refused while the store was down');
    // Probes keep running; their results wait in the writer's bounded buffer.
    const writer = app.probes.writer!;
    for (let i = 0; i < 3; i++) assert.equal((await app.probes.runNow('local-tcp'))?.ok, true, 'the probe runs while the store is down');
    await writer.flush();
    assert.ok(writer.pending >= 3, `results held while the store is down (${writer.pending})`);
    await server.start();
    const took = await untilAccepted();
    await sleep(200);
    loading = false;
    await Promise.all(workers);
    assert.deepEqual(odd, [], 'no answer other than 2xx or 503 with Retry-After');
    assert.ok(took < RECOVERY_MS, `recovered in ${Math.round(took)} ms`);
    assert.equal((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    await writer.flush();
    assert.equal(writer.pending, 0);
    assert.equal(writer.dropped, 0);
    const probeRows = (await app.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM probe_results WHERE probe = 'local-tcp'`)).rows[0]!.n;
    assert.ok(probeRows >= 3, `the held probe results reached the store (${probeRows})`);
    const have = await stored(acked);
    assert.deepEqual(acked.filter((n) => !have.has(n)), [], 'every acknowledged alert is in the store');
    await app.escalation.sweeper.tick();
    await second.escalation.sweeper.tick();
    assert.equal(Number(app.escalation.sweeper.leader) + Number(second.escalation.sweeper.leader), 1, 'leadership is taken again, by one instance');
  });

  it("pg_terminate_backend on each of kuzet's sessions in turn, the leader's lock session first: two instances survive and recover", async () => {
    await second.escalation.sweeper.tick();
    await app.escalation.sweeper.tick();
    assert.equal(Number(app.escalation.sweeper.leader) + Number(second.escalation.sweeper.leader), 1, 'one leader of two');
    const leaderApp = app.escalation.sweeper.leader ? app : second;
    const admin = new pg.Client({ connectionString: server.url, application_name: 'kuzet-test-admin' });
    admin.on('error', () => {});
    await admin.connect();
    try {
      const leaderPid = (await admin.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted`, [LEADER_LOCK_KEY])).rows[0]?.pid;
      assert.ok(leaderPid, 'the leader lock is held by a session');
      const others = (
        await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = 'postgres' AND pid <> pg_backend_pid() AND pid <> $1 AND backend_type = 'client backend'`, [leaderPid])
      ).rows.map((r) => r.pid);
      assert.ok(others.length > 0, 'kuzet holds other sessions too');
      for (const pid of [leaderPid, ...others]) {
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await sleep(100); // let the 'error' events reach kuzet's clients
        const took = await untilAccepted();
        assert.ok(took < RECOVERY_MS);
        if (pid === leaderPid) {
          // The next ticks notice: the old leader gives up, and one instance takes the lock on a new session.
          const t0 = performance.now();
          for (;;) {
            await leaderApp.escalation.sweeper.tick();
            await (leaderApp === app ? second : app).escalation.sweeper.tick();
            if (app.escalation.sweeper.leader || second.escalation.sweeper.leader) break;
            assert.ok(performance.now() - t0 < RECOVERY_MS, 'leadership taken again within 10 s');
            await sleep(50);
          }
          assert.equal(Number(app.escalation.sweeper.leader) + Number(second.escalation.sweeper.leader), 1, 'still one leader');
          const holder = (await admin.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted`, [LEADER_LOCK_KEY])).rows[0]?.pid;
          assert.ok(holder && holder !== leaderPid, 'a new session holds the leader lock');
        }
      }
      assert.equal((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      assert.equal((await second.http.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    } finally {
      await admin.end();
    }
  });
});
