import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../../src/app.ts';
import { FakeClock } from '../../../src/clock.ts';
import type { Logger } from '../../../src/log.ts';
import { amFingerprint } from '../../../src/sources/webhooks/alertmanager.ts';
import { signKuzet } from '../../../src/sources/webhooks/signature.ts';
import { testApp, TEST_CONFIG, type TestApp } from '../../support/app.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { tmpTree } from '../../support/tmp.ts';

// The read side of the Alertmanager API (what amtool alert query / silence … and Grafana's Alertmanager data
// source read), its silences mapped onto kuzet's, and the whole API under the path prefix.

interface Gettable {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  fingerprint: string;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  receivers: Array<{ name: string }>;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

describe(`Alertmanager API read side and silences, on ${storeKind}`, () => {
  let t: TestApp;
  let soc: string, viewer: string, oncall: string;
  before(async () => {
    t = await testApp();
    [soc, viewer, oncall] = await Promise.all([t.token('soc', 'prometheus'), t.token('viewer', 'grafana'), t.token('oncall', 'duty')]);
  });
  after(() => t.close());

  const req = (method: 'GET' | 'POST' | 'DELETE', url: string, token: string | null, body?: unknown) =>
    t.app.http.inject({
      method,
      url,
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
  const alerts = async (query = '', prefix = '') => {
    const r = await req('GET', `${prefix}/api/v2/alerts${query}`, viewer);
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as Gettable[];
  };
  const iso = (ms: number) => new Date(t.clock.now() + ms).toISOString();

  it('lists the alerts in force in the v2 gettableAlert shape, filtered as amtool asks', async () => {
    const sent: Array<Record<string, unknown> & { labels: Record<string, string> }> = [
      { labels: { alertname: 'EnbekDown', job: 'enbek', severity: 'critical' }, annotations: { summary: 'enbek.kz does not answer' }, startsAt: iso(-60_000), endsAt: iso(240_000), generatorURL: 'http://prometheus.local/graph' },
      { labels: { alertname: 'NqsSlow', system: 'nqs', severity: 'warning' }, annotations: { summary: 'NQS is slow' }, endsAt: '0001-01-01T00:00:00Z' },
      { labels: { alertname: 'Gone', system: 'nqs' }, endsAt: iso(-1_000) },
    ];
    assert.equal((await req('POST', '/api/v2/alerts', soc, sent)).statusCode, 200);
    const all = await alerts();
    assert.deepEqual(all.map((a) => a.labels.alertname).sort(), ['EnbekDown', 'NqsSlow'], 'a resolved alert is not listed');
    const e = all.find((a) => a.labels.alertname === 'EnbekDown')!;
    assert.deepEqual(e, {
      labels: sent[0]!.labels,
      annotations: sent[0]!.annotations,
      startsAt: sent[0]!.startsAt,
      endsAt: sent[0]!.endsAt,
      updatedAt: new Date(t.clock.now()).toISOString(),
      generatorURL: 'http://prometheus.local/graph',
      fingerprint: amFingerprint(sent[0]!.labels),
      receivers: [{ name: 'kuzet' }],
      status: { state: 'active', silencedBy: [], inhibitedBy: [] },
    });
    // No endsAt: it ends resolve_timeout (5m by default) after it was sent, as Alertmanager shows it.
    assert.equal(all.find((a) => a.labels.alertname === 'NqsSlow')!.endsAt, iso(300_000));
    assert.deepEqual((await alerts('?filter=alertname%3D%22NqsSlow%22')).map((a) => a.labels.alertname), ['NqsSlow']);
    assert.deepEqual((await alerts('?filter=severity%3D~%22crit.*%22&filter=job!%3D%22nqs%22')).map((a) => a.labels.alertname), ['EnbekDown']);
    assert.deepEqual(await alerts('?receiver=other'), []);
    const bad = await req('GET', '/api/v2/alerts?filter=alertname', viewer);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error.message, /querystring\.filter\[0\]: "alertname" is not a matcher/);
    assert.equal((await req('GET', '/api/v2/alerts', null)).statusCode, 401);
    const groups = await req('GET', '/api/v2/alerts/groups', viewer);
    assert.equal(groups.json()[0].alerts.length, 2);
  });

  it("creates, lists and expires kuzet's silences through the Alertmanager API; a silence suppresses the alerts it matches", async () => {
    const body = {
      matchers: [{ name: 'alertname', value: 'NqsSlow', isRegex: false, isEqual: true }, { name: 'severity', value: 'warn.*', isRegex: true, isEqual: true }],
      startsAt: iso(0), endsAt: iso(3_600_000), createdBy: 'aigerim', comment: 'NQS release window',
    };
    assert.equal((await req('POST', '/api/v2/silences', viewer, body)).statusCode, 403);
    assert.equal((await req('POST', '/api/v2/silences', null, body)).statusCode, 401);
    const created = await req('POST', '/api/v2/silences', oncall, body);
    assert.equal(created.statusCode, 200, created.body);
    const id = created.json().silenceID as string;
    assert.match(id, /^\d+$/);

    // It is a kuzet silence, seen by kuzet's own API ...
    const v1 = (await req('GET', '/api/v1/silences', viewer)).json().items as Array<{ id: number; matchers: unknown; author: string; reason: string }>;
    assert.deepEqual(v1.find((s) => String(s.id) === id), { ...v1.find((s) => String(s.id) === id), matchers: { alertname: 'NqsSlow', severity: '~warn.*' }, author: 'aigerim', reason: 'NQS release window' });
    // ... and shown back in Alertmanager's shape.
    const listed = (await req('GET', '/api/v2/silences', viewer)).json() as Array<Record<string, unknown>>;
    const s = listed.find((x) => x.id === id)!;
    const byName = (ms: unknown) => [...(ms as Array<{ name: string }>)].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual({ ...s, matchers: byName(s.matchers), updatedAt: undefined }, {
      id, matchers: byName(body.matchers), startsAt: body.startsAt, endsAt: body.endsAt, createdBy: 'aigerim', comment: 'NQS release window', status: { state: 'active' }, updatedAt: undefined,
    });
    assert.equal(((await req('GET', '/api/v2/silences?filter=alertname%3D%22Other%22', viewer)).json() as unknown[]).length, 0);
    assert.equal((await req('GET', `/api/v2/silence/${id}`, viewer)).json().id, id);

    const slow = (await alerts()).find((a) => a.labels.alertname === 'NqsSlow')!;
    assert.deepEqual(slow.status, { state: 'suppressed', silencedBy: [id], inhibitedBy: [] });
    assert.equal((await alerts()).find((a) => a.labels.alertname === 'EnbekDown')!.status.state, 'active');
    // amtool's default query (active, not silenced) leaves it out
    assert.deepEqual((await alerts('?active=true&silenced=false&inhibited=false&unprocessed=false')).map((a) => a.labels.alertname), ['EnbekDown']);
    assert.deepEqual((await alerts('?active=false')).map((a) => a.labels.alertname), ['NqsSlow']);

    // Update = expire and replace.
    const updated = await req('POST', '/api/v2/silences', oncall, { ...body, id, comment: 'extended', endsAt: iso(7_200_000) });
    assert.equal(updated.statusCode, 200, updated.body);
    const id2 = updated.json().silenceID as string;
    assert.notEqual(id2, id);
    const after1 = (await req('GET', '/api/v2/silences', viewer)).json() as Array<{ id: string; status: { state: string }; comment: string }>;
    assert.equal(after1.find((x) => x.id === id)!.status.state, 'expired');
    assert.equal(after1.find((x) => x.id === id2)!.comment, 'extended');

    t.clock.advance(1_000);
    const del = await req('DELETE', `/api/v2/silence/${id2}`, oncall);
    assert.equal(del.statusCode, 200, del.body);
    const after2 = (await req('GET', '/api/v2/silences', viewer)).json() as Array<{ id: string; status: { state: string }; endsAt: string }>;
    assert.deepEqual(after2.find((x) => x.id === id2)!.status, { state: 'expired' });
    assert.equal(after2.find((x) => x.id === id2)!.endsAt, iso(0), 'an expired silence ends when it was expired');
    assert.equal((await alerts()).find((a) => a.labels.alertname === 'NqsSlow')!.status.state, 'active');
  });

  it('refuses bad silences and ids with a 4xx naming the problem', async () => {
    const base = { startsAt: iso(0), endsAt: iso(60_000), createdBy: 'x', comment: 'y' };
    const cases: Array<[unknown, number, RegExp]> = [
      [{ ...base, matchers: [] }, 400, /matchers/],
      [{ ...base, matchers: [{ name: 'a', value: 'x', isRegex: false }, { name: 'a', value: 'y', isRegex: false }] }, 400, /body\.matchers\[1\]: a second matcher on label "a"/],
      [{ ...base, matchers: [{ name: 'a', value: '(', isRegex: true }] }, 400, /body\.matchers\[0\]\.value/],
      [{ ...base, matchers: [{ name: 'a', value: 'x', isRegex: false }], endsAt: iso(-1000) }, 400, /end/],
      [{ ...base, matchers: [{ name: 'a', value: 'x', isRegex: false }], comment: undefined }, 400, /comment/],
      [{ ...base, matchers: [{ name: 'a', value: 'x', isRegex: false }], id: '999999' }, 404, /silence 999999/],
    ];
    for (const [body, status, msg] of cases) {
      const r = await req('POST', '/api/v2/silences', oncall, body);
      assert.equal(r.statusCode, status, r.body);
      assert.match(r.json().error.message, msg);
    }
    assert.equal((await req('DELETE', '/api/v2/silence/999999', oncall)).statusCode, 404);
    const word = await req('DELETE', '/api/v2/silence/abc', oncall);
    assert.equal(word.statusCode, 400);
    assert.match(word.json().error.message, /silenceID: expected a kuzet silence id/);
  });

  it('serves the same API under the path prefix (default /alertmanager), kept out of the OpenAPI document', async () => {
    const r = await req('POST', '/alertmanager/api/v2/alerts', soc, [{ labels: { alertname: 'Prefixed', system: 'enbek' }, endsAt: iso(60_000) }]);
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual((await alerts('?filter=alertname%3D%22Prefixed%22', '/alertmanager')).map((a) => a.labels.alertname), ['Prefixed']);
    assert.equal((await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM incidents WHERE check_name = 'Prefixed'`)).rows[0]!.n, 1);
    assert.equal((await req('GET', '/alertmanager/api/v2/status', soc)).json().cluster.status, 'ready');
    assert.equal((await req('GET', '/alertmanager/api/v2/status', null)).statusCode, 401, 'the status is for the soc role, as at the root');
    assert.equal((await req('GET', '/alertmanager/-/healthy', null)).statusCode, 200);
    assert.equal((await req('GET', '/alertmanager/api/v2/silences', viewer)).statusCode, 200);
    const doc = (await req('GET', '/api/v1/openapi.json', null)).json() as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/api/v2/alerts'] && doc.paths['/api/v2/silences']);
    assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/alertmanager')), []);
  });
});

describe(`the path prefix is configurable, on ${storeKind}`, () => {
  it('serves a configured prefix and not the default one; require_auth: false opens reading alerts, never silences', async () => {
    const t = await testApp(`${TEST_CONFIG}intake:\n  alertmanager:\n    path_prefix: /monitoring/am\n    require_auth: false\n`);
    try {
      const get = async (url: string) => (await t.app.http.inject({ method: 'GET', url })).statusCode;
      assert.equal(await get('/monitoring/am/api/v2/status'), 200);
      assert.equal(await get('/alertmanager/api/v2/status'), 404);
      assert.equal(await get('/monitoring/am/api/v2/alerts'), 200);
      assert.equal(await get('/monitoring/am/api/v2/silences'), 401);
    } finally {
      await t.close();
    }
  });
});

describe(`every refused SOC request is logged, on ${storeKind}`, () => {
  it('names the reason, the source and the address; the caller cannot tell an unknown source from a bad signature', async () => {
    const lines: Array<{ msg: string; meta: Record<string, unknown> }> = [];
    const log: Logger = { debug() {}, info() {}, error() {}, warn: (msg: string, meta?: Record<string, unknown>) => void lines.push({ msg, meta: meta ?? {} }), child: () => log } as Logger;
    const tree = tmpTree({ 'kuzet.yaml': `${TEST_CONFIG}intake:\n  soc:\n    sources:\n      - { name: soc-main, secret: "\${SOC_SECRET}" }\n`, 'probes/.keep': '' });
    const store = await freshStore();
    const clock = new FakeClock('2026-03-02T04:00:00Z');
    const app = await createApp({ configFile: tree.path('kuzet.yaml'), store, clock, log, port: 0, env: { SOC_SECRET: 'soc-shared-secret-0123456789' } });
    try {
      const body = '{"id":"x"}';
      const post = (source: string, headers: Record<string, string>, payload: string = body, ip = '192.0.2.7') =>
        app.http.inject({ method: 'POST', url: `/webhooks/soc/${source}`, payload, remoteAddress: ip, headers: { 'content-type': 'application/json', ...headers } });
      const ts = Math.floor(clock.now() / 1000);
      await post('nobody', signKuzet('soc-shared-secret-0123456789', body, ts));
      await post('soc-main', signKuzet('wrong-secret-000000000000', body, ts));
      await post('soc-main', signKuzet('soc-shared-secret-0123456789', body, ts));
      await post('soc-main', signKuzet('soc-shared-secret-0123456789', 'x'.repeat(1_100_000), ts), 'x'.repeat(1_100_000));
      const refused = lines.filter((l) => l.msg === 'SOC webhook: request refused').map((l) => ({ ...l.meta, detail: undefined }));
      assert.deepEqual(refused, [
        { reason: 'unknown_source', status: 401, source: 'nobody', address: '192.0.2.7', detail: undefined },
        { reason: 'signature', status: 401, source: 'soc-main', address: '192.0.2.7', detail: undefined },
        { reason: 'schema', status: 400, source: 'soc-main', address: '192.0.2.7', detail: undefined },
        { reason: 'too_large', status: 413, source: 'soc-main', address: '192.0.2.7', detail: undefined },
      ]);
      // The public metric does not tell them apart either.
      const m = (await app.http.inject({ method: 'GET', url: '/metrics' })).body;
      assert.doesNotMatch(m, /unknown_source/);
      // A flood is summed up instead of logged line by line.
      for (let i = 0; i < 100; i++) await post('nobody', {}, body, `198.51.100.${i % 3}`);
      const individual = lines.filter((l) => l.msg === 'SOC webhook: request refused').length;
      assert.equal(individual, 20);
      clock.advance(60_000);
      const summary = lines.find((l) => /more requests refused/.test(l.msg));
      assert.ok(summary, 'a summary line when the window ends');
      assert.equal(summary.meta.suppressed, 84);
      assert.equal(summary.meta.addresses, 3);
    } finally {
      await app.stop();
      await store.close();
      tree.cleanup();
    }
  });
});
