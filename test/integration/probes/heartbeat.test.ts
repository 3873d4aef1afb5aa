import assert from 'node:assert/strict';
import Fastify, { type InjectOptions } from 'fastify';
import { after, before, test } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { HeartbeatBook } from '../../../src/sources/probes/kinds/heartbeat.ts';
import { registerHeartbeatRoutes } from '../../../src/sources/probes/routes.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';

// The heartbeat push URL: per-heartbeat token, JSON errors with 4xx, pings written through to the store.

const TOKEN = 'backup-token-0123456789';
let store: Store;
let clock: FakeClock;
let book: HeartbeatBook;
const app = Fastify();

before(async () => {
  store = await freshStore();
  clock = new FakeClock('2026-01-10T00:00:00Z');
  book = new HeartbeatBook(clock, store);
  await registerHeartbeatRoutes(app, { heartbeats: book, heartbeatToken: (n) => (n === 'nightly-backup' ? TOKEN : undefined) });
  await app.ready();
});
after(async () => {
  await app.close();
  await store.close();
});

test('a ping with the right token is recorded (bearer, header, query; GET and POST; any body)', async () => {
  const r1 = await app.inject({ method: 'POST', url: '/api/v1/heartbeats/nightly-backup', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(r1.statusCode, 200);
  assert.deepEqual(r1.json(), { ok: true, name: 'nightly-backup', status: 'ok', at: '2026-01-10T00:00:00.000Z' });
  clock.advance(60_000);
  const r2 = await app.inject({ method: 'GET', url: `/api/v1/heartbeats/nightly-backup?token=${TOKEN}&status=fail` });
  assert.equal(r2.statusCode, 200);
  assert.equal(r2.json().status, 'fail');
  const r3 = await app.inject({
    method: 'POST',
    url: '/api/v1/heartbeats/nightly-backup',
    headers: { 'x-kuzet-token': TOKEN, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'log=done',
  });
  assert.equal(r3.statusCode, 200);
  assert.deepEqual(book.last('nightly-backup'), { at: Date.parse('2026-01-10T00:01:00Z'), status: 'ok' });
  const row = (await store.query<{ ping_count: number; last_status: string }>("SELECT ping_count, last_status FROM probe_heartbeats WHERE name = 'nightly-backup'")).rows[0];
  assert.deepEqual(row, { ping_count: 3, last_status: 'ok' });
  const reloaded = new HeartbeatBook(clock, store);
  await reloaded.load();
  assert.deepEqual(reloaded.last('nightly-backup'), { at: Date.parse('2026-01-10T00:01:00Z'), status: 'ok' });
});

test('bad input: wrong or missing token 401, unknown heartbeat 404, bad status 400, huge body 413 — never 500', async () => {
  const cases: [string, InjectOptions, number, string][] = [
    ['wrong token', { method: 'POST', url: '/api/v1/heartbeats/nightly-backup', headers: { authorization: 'Bearer nope' } }, 401, 'KZ_ERR_UNAUTHENTICATED'],
    ['no token', { method: 'POST', url: '/api/v1/heartbeats/nightly-backup' }, 401, 'KZ_ERR_UNAUTHENTICATED'],
    ['unknown', { method: 'POST', url: `/api/v1/heartbeats/other?token=${TOKEN}` }, 404, 'KZ_ERR_NOT_FOUND'],
    ['bad status', { method: 'GET', url: `/api/v1/heartbeats/nightly-backup?token=${TOKEN}&status=maybe` }, 400, 'KZ_ERR_VALIDATION'],
    ['bad name', { method: 'GET', url: `/api/v1/heartbeats/Bad%20Name?token=${TOKEN}` }, 400, 'KZ_ERR_VALIDATION'],
  ];
  for (const [what, req, status, code] of cases) {
    const r = await app.inject(req);
    assert.equal(r.statusCode, status, what);
    assert.equal(r.json().error.code, code, what);
  }
  const big = await app.inject({ method: 'POST', url: `/api/v1/heartbeats/nightly-backup?token=${TOKEN}`, headers: { 'content-type': 'text/plain' }, payload: 'x'.repeat(100_000) });
  assert.equal(big.statusCode, 413);
});
