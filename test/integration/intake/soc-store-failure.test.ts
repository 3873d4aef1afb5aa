import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signKuzet } from '../../../src/sources/webhooks/signature.ts';
import type { Store } from '../../../src/store/store.ts';
import { testApp, TEST_CONFIG, type TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

// Issue 12 item 10: the SOC webhook answered 500 when the store failed after the commit. It must be 503
// with Retry-After, and the resend (same delivery id) must fold into the same incident.

const SECRET = 'soc-shared-secret-0123456789';
const CONFIG = `${TEST_CONFIG}intake:
  soc:
    sources:
      - { name: soc-main, secret: "\${SOC_SECRET}", system: enbek }
`;

const terminated = () => Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

/** Make the store's plain queries matching `re` fail the way a lost connection does, until the returned undo. */
function failQueries(store: Store, re: RegExp): () => void {
  const orig = store.query;
  (store as { query: Store['query'] }).query = (async (sql: string, params?: unknown[]) => {
    if (re.test(sql)) throw terminated();
    return orig.call(store, sql, params);
  }) as Store['query'];
  return () => ((store as { query: Store['query'] }).query = orig);
}

describe(`SOC webhook when the store fails around the commit, on ${storeKind}`, () => {
  let t: TestApp;
  before(async () => {
    t = await testApp(CONFIG, {}, { SOC_SECRET: SECRET });
  });
  after(() => t.close());

  const post = (body: string) =>
    t.app.http.inject({
      method: 'POST',
      url: '/webhooks/soc/soc-main',
      payload: body,
      headers: { 'content-type': 'application/json', ...signKuzet(SECRET, body, Math.floor(t.clock.now() / 1000)) },
    });
  const body = JSON.stringify({ id: 'evt-after', rule: 'brute-force-login', severity: 'high', status: 'firing', asset: 'enbek-web-01', summary: 'failed logins', observed_at: '2026-03-02T03:59:00Z' });

  it('answers 503 with Retry-After when recording the delivery id fails after the commit; the resend folds into one incident', async () => {
    const undo = failQueries(t.store, /INSERT INTO intake_deliveries/);
    let r;
    try {
      r = await post(body);
    } finally {
      undo();
    }
    assert.equal(r.statusCode, 503, r.body);
    assert.equal(r.headers['retry-after'], '5');
    assert.equal(r.json().error.code, 'KZ_ERR_STORE');
    const again = await post(body);
    assert.equal(again.statusCode, 202, again.body);
    const inc = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM incidents WHERE source = 'soc'`)).rows[0]!.n;
    assert.equal(inc, 1, 'the resend joins the incident the first delivery opened');
    const third = await post(body);
    assert.deepEqual(third.json(), { accepted: 0, duplicates: 1 });
  });

  it('answers 503 with Retry-After when the duplicate check fails before the commit, and stores nothing', async () => {
    const before = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM signals`)).rows[0]!.n;
    const other = JSON.stringify({ id: 'evt-before', rule: 'malware', severity: 'high', status: 'firing', asset: 'enbek-web-02', summary: 'malware seen', observed_at: '2026-03-02T03:59:00Z' });
    const undo = failQueries(t.store, /FROM intake_deliveries/);
    let r;
    try {
      r = await post(other);
    } finally {
      undo();
    }
    assert.equal(r.statusCode, 503, r.body);
    assert.equal(r.headers['retry-after'], '5');
    assert.equal((await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM signals`)).rows[0]!.n, before);
  });

  it('any route whose store query loses its connection answers 503 with Retry-After, not 500', async () => {
    const viewer = await t.token('viewer');
    const undo = failQueries(t.store, /FROM incidents/);
    let r;
    try {
      r = await t.app.http.inject({ method: 'GET', url: '/api/v1/incidents', headers: { authorization: `Bearer ${viewer}` } });
    } finally {
      undo();
    }
    assert.equal(r.statusCode, 503, r.body);
    assert.equal(r.headers['retry-after'], '5');
    const undo2 = failQueries(t.store, /FROM requests/);
    try {
      r = await t.app.http.inject({ method: 'GET', url: '/api/v1/requests', headers: { authorization: `Bearer ${viewer}` } });
    } finally {
      undo2();
    }
    assert.equal(r.statusCode, 503, `the requests routes too: ${r.body}`);
    assert.equal(r.headers['retry-after'], '5');
  });
});
