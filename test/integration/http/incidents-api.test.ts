import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { testApp, TEST_CONFIG, type TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

describe(`incidents API on ${storeKind}`, () => {
  let t: TestApp;
  let admin: string, oncall: string, viewer: string, reporter: string;
  before(async () => {
    t = await testApp();
    [admin, oncall, viewer, reporter] = await Promise.all([t.token('admin'), t.token('oncall', 'alice'), t.token('viewer'), t.token('reporter', 'desk')]);
  });
  after(() => t.close());

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token?: string, payload?: unknown, headers: Record<string, string> = {}) =>
    t.app.http.inject({ method, url, payload: payload as string, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

  it('opens an incident from a specialist report, lists, shows, acks, notes and resolves it', async () => {
    const open = await call('POST', '/api/v1/incidents', reporter, { system: 'enbek', title: 'Vacancy search returns nothing', severity: 'critical' });
    assert.equal(open.statusCode, 201, open.body);
    const inc = open.json();
    assert.equal(inc.status, 'open');
    assert.equal(inc.source, 'staff');
    assert.equal(inc.labels.reported_by, 'token:desk');

    const list = await call('GET', '/api/v1/incidents?status=open&system=enbek', viewer);
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json().items.map((i: { id: number }) => i.id), [inc.id]);
    const none = await call('GET', '/api/v1/incidents?system=nqs', viewer);
    assert.equal(none.json().items.length, 0);

    t.clock.advance(60_000);
    const ack = await call('POST', `/api/v1/incidents/${inc.id}/ack`, oncall, { note: 'on it' });
    assert.equal(ack.statusCode, 200, ack.body);
    assert.equal(ack.json().status, 'acknowledged');
    assert.equal(ack.json().acknowledged_by, 'token:alice');
    const note = await call('POST', `/api/v1/incidents/${inc.id}/notes`, oncall, { text: 'the search index is rebuilding' });
    assert.equal(note.statusCode, 200);
    const res = await call('POST', `/api/v1/incidents/${inc.id}/resolve`, oncall, {});
    assert.equal(res.json().status, 'resolved');
    const again = await call('POST', `/api/v1/incidents/${inc.id}/resolve`, oncall, {});
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'KZ_ERR_CONFLICT');

    const show = await call('GET', `/api/v1/incidents/${inc.id}`, viewer);
    assert.deepEqual(show.json().timeline.map((e: { kind: string }) => e.kind), ['opened', 'acknowledged', 'note', 'resolved']);
  });

  it('shows how many user reports an incident hurts', async () => {
    const open = (await call('POST', '/api/v1/incidents', reporter, { system: 'integration-bus', title: 'bus queue stuck' })).json();
    assert.equal((await call('GET', `/api/v1/incidents/${open.id}`, viewer)).json().user_requests, 0);
    const report = await t.app.http.inject({
      method: 'POST', url: '/report', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ system: 'enbek', contact: 'x', email: 'x@example.kz', subject: 's', body: 'b' }).toString(),
    });
    assert.ok(report.statusCode < 400, report.body);
    const enbek = (await call('POST', '/api/v1/incidents', reporter, { system: 'enbek', title: 'enbek search empty' })).json();
    await t.app.http.inject({
      method: 'POST', url: '/report', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ system: 'enbek', contact: 'y', email: 'y@example.kz', subject: 's2', body: 'b2' }).toString(),
    });
    assert.equal((await call('GET', `/api/v1/incidents/${enbek.id}`, viewer)).json().user_requests, 2, 'the report filed shortly before it opened and the one filed while it was open are both linked');
    await call('POST', `/api/v1/incidents/${open.id}/resolve`, oncall, {});
    await call('POST', `/api/v1/incidents/${enbek.id}/resolve`, oncall, {});
  });

  it('pages through lists with a cursor', async () => {
    for (let i = 0; i < 5; i++) await call('POST', '/api/v1/incidents', reporter, { system: 'nqs', title: `report ${i}` });
    const p1 = (await call('GET', '/api/v1/incidents?system=nqs&limit=2', viewer)).json();
    assert.equal(p1.items.length, 2);
    const p2 = (await call('GET', `/api/v1/incidents?system=nqs&limit=2&before=${p1.next}`, viewer)).json();
    const p3 = (await call('GET', `/api/v1/incidents?system=nqs&limit=2&before=${p2.next}`, viewer)).json();
    assert.equal(p3.items.length, 1);
    assert.equal(p3.next, null);
    const ids = [...p1.items, ...p2.items, ...p3.items].map((i: { id: number }) => i.id);
    assert.equal(new Set(ids).size, 5);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
  });

  it('refuses without a token (401), with a wrong one (401), with a weak role (403)', async () => {
    const none = await call('GET', '/api/v1/incidents');
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().error.code, 'KZ_ERR_UNAUTHENTICATED');
    assert.equal((await call('GET', '/api/v1/incidents', 'kzt_wrong')).statusCode, 401);
    const weak = await call('POST', '/api/v1/incidents/1/ack', viewer, {});
    assert.equal(weak.statusCode, 403);
    assert.match(weak.json().error.message, /role "viewer" may not do this; it needs "oncall"/);
    assert.equal((await call('POST', '/api/v1/tokens', oncall, { name: 'x', role: 'admin' })).statusCode, 403);
    const basic = Buffer.from(`prometheus:${viewer}`).toString('base64');
    assert.equal((await call('GET', '/api/v1/incidents', undefined, undefined, { authorization: `Basic ${basic}` })).statusCode, 200);
  });

  it('answers bad input with a 4xx naming the problem, never a 500', async () => {
    const cases: Array<[string, () => ReturnType<typeof call>, number, RegExp]> = [
      ['unknown route', () => call('GET', '/api/v1/nope', viewer), 404, /no route GET \/api\/v1\/nope/],
      ['malformed JSON', () => call('POST', '/api/v1/incidents', reporter, '{"system": ', { 'content-type': 'application/json' }), 400, /malformed JSON/],
      ['a wrong field type', () => call('POST', '/api/v1/incidents', reporter, { system: 'enbek', title: 5 }), 400, /title/],
      ['a missing field', () => call('POST', '/api/v1/incidents', reporter, { system: 'enbek' }), 400, /missing required field "title"/],
      ['an unknown field', () => call('POST', '/api/v1/incidents', reporter, { system: 'enbek', title: 'x', colour: 'red' }), 400, /unknown field "colour"/],
      ['a bad severity', () => call('POST', '/api/v1/incidents', reporter, { system: 'enbek', title: 'x', severity: 'apocalyptic' }), 400, /severity/],
      ['an unknown system', () => call('POST', '/api/v1/incidents', reporter, { system: 'mars', title: 'x' }), 400, /unknown system "mars"/],
      ['a non-numeric id', () => call('GET', '/api/v1/incidents/abc', viewer), 400, /id/],
      ['a missing incident', () => call('POST', '/api/v1/incidents/424242/ack', oncall, {}), 404, /incident 424242 not found/],
      ['a bad query value', () => call('GET', '/api/v1/incidents?limit=100000', viewer), 400, /limit/],
      ['invalid UTF-8', () => call('POST', '/api/v1/incidents', reporter, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), { 'content-type': 'application/json' }), 400, /UTF-8/],
      ['JSON nested 10,000 deep', () => call('POST', '/api/v1/incidents', reporter, '['.repeat(10_000) + ']'.repeat(10_000), { 'content-type': 'application/json' }), 400, /deeper than 64/],
      ['an empty body', () => call('POST', '/api/v1/incidents', reporter, '', { 'content-type': 'application/json' }), 400, /empty body/],
      ['a body over 1 MiB', () => call('POST', '/api/v1/incidents', reporter, JSON.stringify({ system: 'enbek', title: 'x'.repeat(1_100_000) }), { 'content-type': 'application/json' }), 413, /body/i],
      ['an unsupported content type', () => call('POST', '/api/v1/incidents', reporter, '<x/>', { 'content-type': 'application/xml' }), 415, /content-type|media/i],
      ['a __proto__ key', () => call('POST', '/api/v1/incidents', reporter, '{"system":"enbek","title":"x","__proto__":{"admin":true}}', { 'content-type': 'application/json' }), 400, /proto|malformed/i],
    ];
    for (const [name, run, status, msg] of cases) {
      const r = await run();
      assert.equal(r.statusCode, status, `${name}: ${r.body}`);
      assert.equal(r.headers['content-type']?.toString().startsWith('application/json'), true, name);
      assert.match(r.json().error.message, msg, name);
    }
  });

  it('serves an OpenAPI document, metrics and readiness', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json')).json();
    assert.equal(doc.openapi, '3.0.3');
    assert.ok(doc.paths['/api/v1/incidents'].post, 'the open call is documented');
    assert.ok(doc.paths['/api/v1/incidents/{id}/ack'], 'ack is documented');
    const ready = await call('GET', '/readyz');
    assert.equal(ready.statusCode, 200);
    const metrics = (await call('GET', '/metrics')).body;
    assert.match(metrics, /kuzet_signals_total\{source="staff"\} [1-9]/);
    assert.match(metrics, /kuzet_incidents_open\{system="nqs",severity="major"\} 5/);
    assert.match(metrics, /kuzet_incident_duration_seconds_count 3/);
    assert.match(metrics, /process_resident_memory_bytes/);
  });

  it('writes an audit row for every mutating call, refused ones included', async () => {
    await call('POST', '/api/v1/incidents/1/ack', undefined, {});
    await call('POST', '/api/v1/tokens', admin, { name: 'grafana', role: 'viewer' });
    await t.app.stop(); // drains the audit writer
    const rows = (await t.store.query<{ actor: string; action: string; outcome: string; remote: string; detail: { refused?: Record<string, number> } }>('SELECT actor, action, outcome, remote, detail FROM audit_log ORDER BY id')).rows;
    // Refusals of callers without a token are counted per address and minute (one row, the count in its detail).
    assert.ok(rows.some((r) => r.actor === 'anonymous' && (r.detail.refused?.['POST /api/v1/incidents/:id/ack -> 401'] ?? 0) >= 1), JSON.stringify(rows.filter((r) => r.actor === 'anonymous')));
    assert.ok(rows.some((r) => r.actor === 'token:admin' && r.action === 'POST /api/v1/tokens' && r.outcome === '201'));
    assert.ok(rows.some((r) => r.actor === 'token:alice' && r.action === 'POST /api/v1/incidents/:id/resolve' && r.outcome === '200'));
    assert.ok(rows.every((r) => r.remote === '127.0.0.1'));
    const tokens = (await t.store.query<{ token_hash: string }>('SELECT token_hash FROM api_tokens')).rows;
    assert.ok(tokens.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash)), 'tokens are stored hashed');
  });
});

describe(`configuration reload on ${storeKind}`, () => {
  it('applies a valid change and refuses an invalid one, keeping the running config', async () => {
    const t = await testApp();
    try {
      writeFileSync(t.configPath, TEST_CONFIG.replace('  - { id: nqs, name: NQS platform, form: nqs }\n', '  - { id: nqs, name: NQS platform, form: nqs }\n  - { id: qandas, name: Qandas }\n'));
      assert.equal(await t.app.reload(), null);
      assert.ok(t.app.config.kuzet.systems.some((s) => s.id === 'qandas'));
      writeFileSync(t.configPath, TEST_CONFIG + 'incidents:\n  reopen_window: soon\n');
      const problems = await t.app.reload();
      assert.match(problems ?? '', /kuzet\.yaml:\d+:\d+: incidents\.reopen_window: expected a duration like "30s", got "soon"/);
      assert.equal(t.app.config.kuzet.incidents.reopen_window, '30m', 'the running config stays');
      assert.ok(t.app.config.kuzet.systems.some((s) => s.id === 'qandas'));
    } finally {
      await t.close();
    }
  });
});
