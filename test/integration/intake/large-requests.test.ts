import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signKuzet } from '../../../src/sources/webhooks/signature.ts';
import { testApp, TEST_CONFIG, type TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

// A large request is worked through in chunks of at most 100 alerts, yielding to the event loop between them, so a
// concurrent /healthz is answered while it runs. Asserted on the chunk count and on ordering, never on wall time.

const SECRET = 'soc-shared-secret-0123456789';

describe(`large intake requests on ${storeKind}`, () => {
  let t: TestApp;
  let soc: string;
  before(async () => {
    t = await testApp(`${TEST_CONFIG}intake:
  max_alerts_per_request: 1000
  soc:
    sources:
      - { name: soc-main, secret: "\${SOC_SECRET}", system: enbek }
`, {}, { SOC_SECRET: SECRET });
    soc = await t.token('soc');
  });
  after(() => t.close());

  const metric = async (name: string, labels: string) => {
    const text = (await t.app.http.inject({ method: 'GET', url: '/metrics' })).body;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };

  it('takes 1,000 Prometheus alerts in 10 chunks while /healthz answers in between, and commits them all', async () => {
    const alerts = Array.from({ length: 1000 }, (_, i) => ({ labels: { alertname: `Big${i}`, system: 'enbek', severity: 'warning' } }));
    const chunksBefore = (await metric('kuzet_intake_chunks_total', 'endpoint="alertmanager"')) ?? 0;
    const order: string[] = [];
    const big = t.app.http
      .inject({ method: 'POST', url: '/api/v2/alerts', payload: JSON.stringify(alerts), headers: { 'content-type': 'application/json', authorization: `Bearer ${soc}` } })
      .then((r) => (order.push('big'), r));
    // Health checks fired while the large request is in flight are answered before it finishes.
    const probes = Array.from({ length: 3 }, () => t.app.http.inject({ method: 'GET', url: '/healthz' }).then((r) => (order.push('healthz'), r)));
    const [r, ...h] = await Promise.all([big, ...probes]);
    assert.equal(r.statusCode, 200, r.body);
    for (const x of h) assert.equal(x.statusCode, 200);
    assert.deepEqual(order, ['healthz', 'healthz', 'healthz', 'big']);
    assert.equal((await metric('kuzet_intake_chunks_total', 'endpoint="alertmanager"'))! - chunksBefore, 10, 'ten chunks of 100');
    const n = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM incidents WHERE check_name LIKE 'Big%'`)).rows[0]!.n;
    assert.equal(n, 1000);
  });

  it('takes 1,000 SOC alerts in 10 chunks and records every delivery id, so a re-send is all duplicates', async () => {
    const body = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({
      id: `bulk-${i}`, rule: `rule-${i}`, severity: 'low', status: 'firing', asset: 'enbek-web-01', summary: 'bulk', observed_at: '2026-03-02T03:59:00Z',
    })));
    const post = () => t.app.http.inject({
      method: 'POST', url: '/webhooks/soc/soc-main', payload: body,
      headers: { 'content-type': 'application/json', ...signKuzet(SECRET, body, Math.floor(t.clock.now() / 1000)) },
    });
    const before = (await metric('kuzet_intake_chunks_total', 'endpoint="soc"')) ?? 0;
    const r = await post();
    assert.equal(r.statusCode, 202, r.body);
    assert.deepEqual(r.json(), { accepted: 1000, duplicates: 0 });
    assert.equal((await metric('kuzet_intake_chunks_total', 'endpoint="soc"'))! - before, 10);
    assert.deepEqual((await post()).json(), { accepted: 0, duplicates: 1000 });
  });

  it('exports the event-loop lag as p50, p99 and max gauges', async () => {
    for (const q of ['0.5', '0.99', '1']) {
      const v = await metric('kuzet_event_loop_lag_seconds', `quantile="${q}"`);
      assert.ok(v !== undefined && Number.isFinite(v) && v >= 0, `quantile ${q}: ${v}`);
    }
  });
});
