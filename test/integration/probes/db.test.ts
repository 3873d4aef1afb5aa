import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../../src/clock.ts';
import { runWithRetries } from '../../../src/sources/probes/factory.ts';
import { postgresProbe, sqlProbe } from '../../../src/sources/probes/kinds/db.ts';
import type { Probe, ProbeResult } from '../../../src/sources/probes/types.ts';
import { testDatabaseUrl } from '../../support/store.ts';
import { fakePostgres, listen } from './support.ts';

// postgres and sql probes: against a fake server speaking PostgreSQL's wire protocol (always), and
// against the real server when KUZET_TEST_DATABASE_URL is set.

let pg: Awaited<ReturnType<typeof fakePostgres>>;
let url = '';

before(async () => {
  pg = await fakePostgres((sql) => {
    if (sql === 'SELECT 1') return { columns: ['?column?'], rows: [['1']] };
    if (sql.includes('feed_age')) return { columns: ['age_days', 'last_batch'], rows: [[40, '2026-01-01']] };
    if (sql.includes('fresh_feed')) return { columns: ['age_days'], rows: [[12]] };
    if (sql.includes('inactive')) return { columns: ['n'], rows: [[3]] };
    if (sql.includes('pg_sleep')) return 'hang';
    return { error: `relation "${sql}" does not exist` };
  });
  url = `postgres://probe@127.0.0.1:${pg.port}/ministry`;
});
after(async () => pg.close());

const run = (p: Probe, timeoutMs = 2000): Promise<ProbeResult> => runWithRetries(p, { timeoutMs, retries: 0 }, systemClock);
const deps = { clock: systemClock };

describe('postgres probe', () => {
  test('connects and runs its query', async () => {
    const r = await run(postgresProbe('p', { url, password: 'x', latency_budget: '5s' }, deps));
    assert.equal(r.ok, true, r.reason);
    assert.equal(pg.queries.at(-1), 'SELECT 1');
  });

  test('a refused connection and a hanging query fail with the phase named', async () => {
    const s = await listen(net.createServer());
    await s.close();
    const refused = await run(postgresProbe('p', { url: `postgres://probe@127.0.0.1:${s.port}/db` }, deps));
    assert.equal(refused.reason, `connection refused by 127.0.0.1:${s.port}`);
    const hang = await run(postgresProbe('p', { url, query: 'SELECT pg_sleep(60)' }, deps), 300);
    assert.equal(hang.ok, false);
    assert.match(hang.reason!, new RegExp(`^timed out after 300 ms querying 127\\.0\\.0\\.1:${pg.port}$`));
  });

  test('a server error is reported with its SQLSTATE', async () => {
    const r = await run(postgresProbe('p', { url, query: 'SELECT * FROM missing' }, deps));
    assert.equal(r.reason, 'PostgreSQL error 42P01: relation "SELECT * FROM missing" does not exist');
  });
});

describe('sql probe', () => {
  test('data freshness: a feed older than 35 days fails, a fresh one passes', async () => {
    const stale = await run(sqlProbe('s', { url, query: 'SELECT feed_age', expect: [{ column: 'age_days', op: '<=', value: 35 }] }, deps));
    assert.equal(stale.ok, false);
    assert.equal(stale.reason, 'age_days <= 35 failed: 40');
    const fresh = await run(sqlProbe('s', { url, query: 'SELECT fresh_feed', expect: [{ column: 'age_days', op: '<=', value: 35 }], rows: { op: '==', value: 1 } }, deps));
    assert.equal(fresh.ok, true, fresh.reason);
  });

  test('accounts idle over 60 days: n == 0 fails when there are some; a missing column is named', async () => {
    const r = await run(sqlProbe('s', { url, query: 'SELECT inactive', expect: [{ column: 'n', op: '==', value: 0 }] }, deps));
    assert.equal(r.reason, 'n == 0 failed: 3');
    const col = await run(sqlProbe('s', { url, query: 'SELECT inactive', expect: [{ column: 'count', op: '==', value: 0 }] }, deps));
    assert.equal(col.reason, 'count == 0 failed: no column "count"');
  });

  test('against the real PostgreSQL when configured', { skip: !testDatabaseUrl && 'KUZET_TEST_DATABASE_URL not set' }, async () => {
    const u = new URL(testDatabaseUrl!);
    const password = decodeURIComponent(u.password);
    u.password = '';
    const ok = await run(sqlProbe('s', { url: u.toString(), password, query: "SELECT 41 + 1 AS answer, now() - interval '40 days' AS last", expect: [{ column: 'answer', op: '==', value: 42 }] }, deps));
    assert.equal(ok.ok, true, ok.reason);
    const slow = await run(postgresProbe('p', { url: u.toString(), password, query: 'SELECT pg_sleep(5)' }, deps), 300);
    assert.equal(slow.ok, false);
    assert.match(slow.reason!, /timed out after 300 ms|canceling statement/);
  });
});
