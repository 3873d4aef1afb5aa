import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { parse } from 'yaml';
import { FakeClock } from '../../../src/clock.ts';
import { runWithRetries } from '../../../src/sources/probes/factory.ts';
import { sqlProbe } from '../../../src/sources/probes/kinds/db.ts';
import type { SqlSpec } from '../../../src/sources/probes/types.ts';
import { testDatabaseUrl } from '../../support/store.ts';

// The account rule of 002 §23 and the NQS feeds of 004 §7, with the queries kuzet ships, on a real PostgreSQL.

const shipped = (file: string, name: string): SqlSpec => {
  const doc = parse(readFileSync(fileURLToPath(new URL(`../../../probes/${file}`, import.meta.url)), 'utf8')) as { probes: Array<{ name: string; sql: SqlSpec }> };
  return doc.probes.find((p) => p.name === name)!.sql;
};

describe('account and feed rules on PostgreSQL', { skip: !testDatabaseUrl && 'KUZET_TEST_DATABASE_URL not set' }, () => {
  // A database of its own: the shipped queries name their tables without a schema, as on the systems' replicas.
  const db = `t_${randomBytes(5).toString('hex')}`;
  const schema = 'public';
  let url = '';
  let password = '';
  let admin: pg.Client;
  let server: pg.Client;
  before(async () => {
    server = new pg.Client({ connectionString: testDatabaseUrl });
    await server.connect();
    await server.query(`CREATE DATABASE ${db}`);
    const u = new URL(testDatabaseUrl!);
    u.pathname = `/${db}`;
    admin = new pg.Client({ connectionString: u.toString() });
    await admin.connect();
    password = decodeURIComponent(u.password);
    u.password = '';
    url = u.toString();
    await admin.query(`CREATE TABLE accounts (login text, blocked boolean NOT NULL DEFAULT false, last_login_at timestamptz)`);
    await admin.query(`CREATE TABLE recognition_centres (id serial, updated_at timestamptz)`);
  });
  after(async () => {
    await admin.end();
    await server.query(`DROP DATABASE ${db}`);
    await server.end();
  });

  const run = async (spec: SqlSpec, at: string) => {
    const clock = new FakeClock(at);
    return runWithRetries(sqlProbe('x', { ...spec, url, password }, { clock }), { timeoutMs: 5000, retries: 0 }, clock);
  };

  test('an account is blocked from 00:00 local on its last-login date + 61, and is named masked', async () => {
    const spec = shipped('ministry.yaml', 'accounts-idle-60-days');
    // Last login 1 January 2026 at 10:00 Almaty: blocked from 3 March 2026 00:00 Almaty (2 March 19:00 UTC).
    await admin.query(`INSERT INTO ${schema}.accounts (login, last_login_at) VALUES ('aigerim', '2026-01-01T05:00:00Z'), ('bolat', '2026-01-02T05:00:00Z')`);
    await admin.query(`INSERT INTO ${schema}.accounts (login, blocked, last_login_at) VALUES ('dana', true, '2025-01-01T05:00:00Z')`);
    const before = await run(spec, '2026-03-02T18:59:00Z');
    assert.equal(before.ok, true, before.reason);
    const at = await run(spec, '2026-03-02T19:00:00Z');
    assert.equal(at.ok, false);
    assert.match(at.reason!, /a\*\*\*\*\*m/);
    assert.doesNotMatch(at.reason!, /aigerim|bolat|b\*\*\*t|dana|d\*\*a/, 'only the overdue, unblocked account, masked');
    // The rule "now() - interval '60 days'" would have flagged it at 10:00 on 2 March, fourteen hours early.
    const naive = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.accounts WHERE NOT blocked AND last_login_at < '2026-03-02T12:00:00Z'::timestamptz - interval '60 days'`);
    assert.equal(naive.rows[0].n, 1);
    assert.equal((await run(spec, '2026-03-02T12:00:00Z')).ok, true);
  });

  test('a monthly feed meets a period when new data arrived within it (or since)', async () => {
    const spec = shipped('nqs.yaml', 'nqs-feed-recognition-centres');
    assert.equal(spec.period, 'monthly');
    // 10 April 2026: March is the last finished month.
    await admin.query(`INSERT INTO ${schema}.recognition_centres (updated_at) VALUES ('2026-02-20T06:00:00Z')`);
    const missed = await run(spec, '2026-04-10T07:00:00Z');
    assert.equal(missed.ok, false, 'nothing new in March');
    // 31 March 23:30 Almaty (18:30 UTC) is still March.
    await admin.query(`INSERT INTO ${schema}.recognition_centres (updated_at) VALUES ('2026-03-31T18:30:00Z')`);
    const met = await run(spec, '2026-04-10T07:00:00Z');
    assert.equal(met.ok, true, met.reason);
    // In May, April is judged: the March row does not count for it.
    assert.equal((await run(spec, '2026-05-10T07:00:00Z')).ok, false);
  });
});
