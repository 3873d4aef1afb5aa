import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { signKuzet, signStandard } from '../../../src/sources/webhooks/signature.ts';
import { testApp, TEST_CONFIG, type TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

const SECRET = 'soc-shared-secret-0123456789';
const WHSEC = 'whsec_' + Buffer.from('standard-webhooks-key-0123456789').toString('base64');
const CONFIG = `${TEST_CONFIG}intake:
  soc:
    sources:
      - { name: soc-main, secret: "\${SOC_SECRET}", system: enbek }
      - { name: soc-std, secret: "\${SOC_WHSEC}" }
signals:
  max_queue: 50
`;

const alert = (over: Record<string, unknown> = {}) => ({
  id: 'evt-1', rule: 'brute-force-login', severity: 'high', status: 'firing', asset: 'enbek-web-01',
  summary: '250 failed logins in 5 minutes', details: { ip_count: 17 }, observed_at: '2026-03-02T03:59:00Z', ...over,
});

describe(`SOC webhook and Alertmanager API on ${storeKind}`, () => {
  let t: TestApp;
  let soc: string, viewer: string;
  before(async () => {
    t = await testApp(CONFIG, {}, { SOC_SECRET: SECRET, SOC_WHSEC: WHSEC });
    [soc, viewer] = await Promise.all([t.token('soc', 'prometheus'), t.token('viewer')]);
  });
  after(() => t.close());

  const nowS = () => Math.floor(t.clock.now() / 1000);
  const postSoc = (source: string, body: string | Buffer, headers: Record<string, string>) =>
    t.app.http.inject({ method: 'POST', url: `/webhooks/soc/${source}`, payload: body, headers: { 'content-type': 'application/json', ...headers } });
  const signed = (body: string, ts = nowS()) => signKuzet(SECRET, body, ts);
  const ledger = async (source: string) =>
    (await t.store.query<{ n: number }>('SELECT coalesce(sum(repeat_count),0)::int AS n FROM signals WHERE source = $1', [source])).rows[0]!.n;

  it('accepts a signed SOC alert, opens an incident, and takes a repeated id once', async () => {
    const body = JSON.stringify(alert());
    const r = await postSoc('soc-main', body, signed(body));
    assert.equal(r.statusCode, 202, r.body);
    assert.deepEqual(r.json(), { accepted: 1, duplicates: 0 });
    const again = await postSoc('soc-main', body, signed(body));
    assert.deepEqual(again.json(), { accepted: 0, duplicates: 1 });
    assert.equal(await ledger('soc'), 1);
    const inc = (await t.store.query<{ system: string; severity: string; status: string }>(`SELECT system, severity, status FROM incidents WHERE source = 'soc'`)).rows;
    assert.deepEqual(inc, [{ system: 'enbek', severity: 'major', status: 'open' }]);
    const resolved = JSON.stringify(alert({ id: 'evt-2', status: 'resolved' }));
    assert.equal((await postSoc('soc-main', resolved, signed(resolved))).statusCode, 202);
    assert.equal((await t.store.query<{ status: string }>(`SELECT status FROM incidents WHERE source = 'soc'`)).rows[0]!.status, 'resolved');
  });

  it('accepts Standard Webhooks signatures, any one of several', async () => {
    const body = JSON.stringify([alert({ id: 'std-1', rule: 'malware' }), alert({ id: 'std-2', rule: 'exfiltration' })]);
    const h = signStandard(WHSEC, 'msg_1', body, nowS());
    h['webhook-signature'] = `v1,${Buffer.from('not-it').toString('base64')} ${h['webhook-signature']}`;
    const r = await postSoc('soc-std', body, h);
    assert.equal(r.statusCode, 202, r.body);
    assert.equal(r.json().accepted, 2);
  });

  it('refuses bad signatures, stale and future timestamps, unknown sources and malformed bodies with a precise 4xx', async () => {
    const body = JSON.stringify(alert({ id: 'bad-1' }));
    const cases: Array<[string, () => ReturnType<typeof postSoc>, number, RegExp]> = [
      ['no signature', () => postSoc('soc-main', body, {}), 401, /signature missing/],
      ['a wrong signature', () => postSoc('soc-main', body, signKuzet('other-secret-0123456789', body, nowS())), 401, /does not match/],
      ['a signature of another body', () => postSoc('soc-main', body.replace('high', 'low'), signed(body)), 401, /does not match/],
      ['a stale timestamp', () => postSoc('soc-main', body, signed(body, nowS() - 301)), 401, /301 s old .*stale or replayed/],
      ['a future timestamp', () => postSoc('soc-main', body, signed(body, nowS() + 400)), 401, /in the future/],
      ['a forged standard signature', () => postSoc('soc-std', body, { ...signStandard(WHSEC, 'm', body, nowS()), 'webhook-id': 'other' }), 401, /no v1 signature matches/],
      ['an unknown source', () => postSoc('nobody', body, signed(body)), 401, /does not match/],
      ['malformed JSON', () => postSoc('soc-main', '{"id":', signed('{"id":')), 400, /malformed JSON/],
      ['a missing field', () => { const b = JSON.stringify({ ...alert(), rule: undefined }); return postSoc('soc-main', b, signed(b)); }, 400, /missing required field "rule"/],
      ['a wrong type', () => { const b = JSON.stringify(alert({ severity: 5 })); return postSoc('soc-main', b, signed(b)); }, 400, /body\.severity/],
      ['a bad status', () => { const b = JSON.stringify(alert({ status: 'maybe' })); return postSoc('soc-main', b, signed(b)); }, 400, /body\.status: expected one of firing, resolved/],
      ['a bad time', () => { const b = JSON.stringify(alert({ observed_at: 'yesterday' })); return postSoc('soc-main', b, signed(b)); }, 400, /observed_at/],
      ['invalid UTF-8', () => { const b = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]); return postSoc('soc-main', b, signKuzet(SECRET, b, nowS())); }, 400, /not valid UTF-8/],
      ['deep nesting', () => { const b = '['.repeat(5000) + ']'.repeat(5000); return postSoc('soc-main', b, signed(b)); }, 400, /deeper than 64/],
      ['a body over 1 MiB', () => { const b = JSON.stringify(alert({ summary: 'x'.repeat(1_200_000) })); return postSoc('soc-main', b, signed(b)); }, 413, /body/i],
      ['a wrong content type', () => t.app.http.inject({ method: 'POST', url: '/webhooks/soc/soc-main', payload: body, headers: { 'content-type': 'text/plain', ...signed(body) } }), 415, /expected application\/json/],
    ];
    for (const [name, run, status, msg] of cases) {
      const r = await run();
      assert.equal(r.statusCode, status, `${name}: ${r.body}`);
      assert.match(r.json().error.message, msg, name);
    }
    const m = (await t.app.http.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(m, /kuzet_intake_rejected_total\{endpoint="soc",reason="signature"\} [5-9]/);
  });

  it('answers an unknown source exactly as a bad signature: same status, same body, for every kind of header', async () => {
    const body = JSON.stringify(alert({ id: 'oracle-1' }));
    const headerSets: Array<[string, Record<string, string>]> = [
      ['none', {}],
      ['a wrong kuzet signature', signKuzet('not-the-secret-0123456789', body, nowS())],
      ['a stale timestamp', signKuzet('not-the-secret-0123456789', body, nowS() - 900)],
      ['a malformed signature', { 'x-kuzet-timestamp': String(nowS()), 'x-kuzet-signature': 'md5=00' }],
      ['a wrong standard signature', signStandard('whsec_' + Buffer.from('another-key-0123456789').toString('base64'), 'msg_9', body, nowS())],
    ];
    for (const [name, h] of headerSets) {
      const known = await postSoc('soc-main', body, h);
      const unknown = await postSoc('no-such-source', body, h);
      assert.equal(known.statusCode, 401, `${name}: ${known.body}`);
      assert.equal(unknown.statusCode, known.statusCode, name);
      assert.equal(unknown.body, known.body, name);
      assert.equal(unknown.headers['content-type'], known.headers['content-type'], name);
    }
    // Even a request signed with a real source's secret learns nothing under another name.
    const withReal = await postSoc('soc-other', body, signed(body));
    assert.equal(withReal.statusCode, 401);
    assert.match(withReal.json().error.message, /does not match/);
    const n = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM signals WHERE payload::text LIKE '%oracle-1%' OR summary LIKE '%oracle%'`)).rows[0]!.n;
    assert.equal(n, 0);
  });

  it('keeps fields the schema does not name in details instead of refusing the alert', async () => {
    const body = JSON.stringify(alert({
      id: 'extra-1', rule: 'impossible-travel', tenant: 'ministry', mitre: { tactic: 'TA0001' }, details: { ip_count: 17, tenant: 'from-details' },
    }));
    const raw = body.replace('{', '{"__proto__":{"polluted":true},');
    const r = await postSoc('soc-main', raw, signed(raw));
    assert.equal(r.statusCode, 202, r.body);
    const p = (await t.store.query<{ payload: { details: Record<string, unknown> } }>(`SELECT payload FROM signals WHERE check_name = 'impossible-travel'`)).rows;
    assert.equal(p.length, 1);
    // A field named "__proto__" is kept as a plain field (JSON.parse makes it an own property, as the store returns it).
    assert.deepEqual(p[0]!.payload.details, JSON.parse('{"ip_count":17,"tenant":"from-details","field:tenant":"ministry","mitre":{"tactic":"TA0001"},"__proto__":{"polluted":true}}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // A known field with a wrong type is still refused, naming it.
    const bad = JSON.stringify(alert({ id: 'extra-2', summary: 42, vendor_score: 9 }));
    const b = await postSoc('soc-main', bad, signed(bad));
    assert.equal(b.statusCode, 400);
    assert.match(b.json().error.message, /body\.summary/);
  });

  const postAm = (alerts: unknown, token: string | null = soc, headers: Record<string, string> = {}) =>
    t.app.http.inject({ method: 'POST', url: '/api/v2/alerts', payload: JSON.stringify(alerts), headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const am = (over: Record<string, unknown> = {}) => ({
    labels: { alertname: 'EnbekDown', job: 'enbek', severity: 'critical', instance: 'enbek.kz:443' },
    annotations: { summary: 'enbek.kz does not answer' },
    startsAt: '2026-03-02T03:55:00Z',
    endsAt: '2026-03-02T04:04:00Z',
    generatorURL: 'http://prometheus.local/graph',
    ...over,
  });

  it('takes Prometheus alerts with exactly 200; re-sends fold and do not page again; a past endsAt resolves', async () => {
    const pages: string[] = [];
    t.app.engine.onChanges(async (_q, ch) => void ch.forEach((c) => c.event.page && c.incident.source === 'alertmanager' && pages.push(c.event.kind)));
    const r = await postAm([am()]);
    assert.equal(r.statusCode, 200, r.body);
    for (let i = 1; i <= 3; i++) {
      t.clock.advance(60_000);
      assert.equal((await postAm([am({ endsAt: new Date(t.clock.now() + 240_000).toISOString() })])).statusCode, 200);
    }
    const rows = (await t.store.query<{ rows: number; total: number }>(`SELECT count(*)::int AS rows, sum(repeat_count)::int AS total FROM signals WHERE source = 'alertmanager'`)).rows[0]!;
    assert.deepEqual(rows, { rows: 1, total: 4 }, 'four deliveries, one ledger row');
    assert.deepEqual(pages, ['opened']);
    t.clock.advance(60_000);
    assert.equal((await postAm([am({ endsAt: new Date(t.clock.now() - 1000).toISOString() })])).statusCode, 200);
    assert.deepEqual(pages, ['opened', 'resolved']);
    // Prometheus keeps re-sending the resolve: harmless
    assert.equal((await postAm([am({ endsAt: new Date(t.clock.now() - 1000).toISOString() })])).statusCode, 200);
    assert.deepEqual(pages, ['opened', 'resolved']);
    const inc = (await t.store.query<{ status: string; system: string; check_name: string }>(`SELECT status, system, check_name FROM incidents WHERE source = 'alertmanager'`)).rows;
    assert.deepEqual(inc, [{ status: 'resolved', system: 'enbek', check_name: 'EnbekDown' }]);
  });

  it("treats Go's zero endsAt (amtool) as not set, and takes basic auth", async () => {
    const basic = 'Basic ' + Buffer.from(`prometheus:${soc}`).toString('base64');
    const r = await postAm([{ labels: { alertname: 'ZeroEnd', system: 'nqs' }, endsAt: '0001-01-01T00:00:00Z' }], null, { authorization: basic });
    assert.equal(r.statusCode, 200, r.body);
    const inc = (await t.store.query<{ status: string }>(`SELECT status FROM incidents WHERE check_name = 'ZeroEnd'`)).rows;
    assert.deepEqual(inc, [{ status: 'open' }]);
  });

  it('refuses Alertmanager posts without a token, with a weak role, or malformed', async () => {
    assert.equal((await postAm([am()], null)).statusCode, 401);
    assert.equal((await postAm([am()], viewer)).statusCode, 403);
    const cases: Array<[unknown, RegExp]> = [
      [{ labels: {} }, /expected array|must be array/],
      [[{ annotations: {} }], /missing required field "labels"/],
      [[{ labels: { 'bad-name': 'x' } }], /label name "bad-name" is not valid/],
      [[{ labels: { alertname: 5 } }], /labels\.alertname/],
      [[{ labels: { alertname: 'x' }, endsAt: 'soon' }], /endsAt/],
    ];
    for (const [body, msg] of cases) {
      const r = await postAm(body);
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().error.message, msg);
    }
  });

  it('answers 503 with Retry-After when the intake queue is full, and stores nothing half', async () => {
    const many = Array.from({ length: 51 }, (_, i) => am({ labels: { alertname: `Flood${i}` } }));
    const r = await postAm(many);
    assert.equal(r.statusCode, 503);
    assert.equal(r.headers['retry-after'], '2');
    const n = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM signals WHERE check_name LIKE 'Flood%'`)).rows[0]!.n;
    assert.equal(n, 0);
    const kept = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM alertmanager_alerts WHERE labels->>'alertname' LIKE 'Flood%'`)).rows[0]!.n;
    assert.equal(kept, 0, 'no expiry is kept for alerts refused with 503');
  });

  it('serves /api/v2/status the way amtool reads it, to a soc token only (as the README says)', async () => {
    const anon = await t.app.http.inject({ method: 'GET', url: '/api/v2/status' });
    assert.equal(anon.statusCode, 401, anon.body);
    assert.equal((await t.app.http.inject({ method: 'GET', url: '/api/v2/status', headers: { authorization: `Bearer ${viewer}` } })).statusCode, 403);
    const basic = 'Basic ' + Buffer.from(`amtool:${soc}`).toString('base64');
    const r = await t.app.http.inject({ method: 'GET', url: '/api/v2/status', headers: { authorization: basic } });
    assert.equal(r.statusCode, 200);
    // amtool compares major.minor with its own (0.25 from Debian) and warns otherwise.
    assert.match(r.json().versionInfo.version, /^0\.25\.0\+kuzet\./);
    assert.equal(typeof r.json().config.original, 'string');
    assert.equal(r.json().cluster.status, 'ready');
  });

  it('never answers 5xx to random bodies and headers on any intake endpoint (property)', async () => {
    const endpoints = ['/webhooks/soc/soc-main', '/webhooks/soc/soc-std', '/webhooks/soc/x', '/api/v2/alerts', '/api/v1/incidents', '/api/v1/requests', '/report', '/api/v1/heartbeats/nightly-backup'];
    const header = fc.dictionary(
      fc.constantFrom('content-type', 'authorization', 'x-kuzet-token', 'x-kuzet-signature', 'x-kuzet-timestamp', 'webhook-id', 'webhook-timestamp', 'webhook-signature'),
      fc.oneof(fc.string({ maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')), fc.constant('application/json'), fc.constant('application/x-www-form-urlencoded'), fc.constant('multipart/form-data; boundary=x'), fc.constant(`Bearer ${soc}`), fc.constant(String(nowS()))),
    );
    const body = fc.oneof(
      fc.json({ maxDepth: 6 }),
      // any UTF-16 code unit in strings and keys: NUL and unpaired surrogates included
      fc.json({ maxDepth: 4, stringUnit: 'binary' }),
      fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
      fc.array(fc.record({ labels: fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer())), endsAt: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())) }, { requiredKeys: [] }), { maxLength: 5 }).map((a) => JSON.stringify(a)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...endpoints), header, body, async (url, headers, payload) => {
        const r = await t.app.http.inject({ method: 'POST', url, headers, payload });
        assert.ok(r.statusCode < 500 || (r.statusCode === 503 && r.headers['retry-after']), `${url} -> ${r.statusCode} ${r.body}`);
        if (r.statusCode >= 400 && r.statusCode !== 503) {
          // The public page answers people with HTML in their language; every API answers JSON naming the problem.
          if (url === '/report') assert.match(String(r.headers['content-type']), /^text\/html/);
          else assert.ok(r.json().error.message.length > 0, `${url}: ${r.body}`);
        }
      }),
      { numRuns: 300, seed: 20261124 },
    );
  });

  // Text that cannot be stored (U+0000, unpaired surrogates) and dates outside 0001–9999 or not on the calendar, in
  // any field of an authenticated Alertmanager post or a correctly signed SOC delivery: 400 naming the field, never a
  // 5xx (a 503 would make Prometheus re-send the bad alert for ever), and nothing stored.
  it('answers 400 naming the field to NUL, lone surrogates and impossible dates in any field (property)', async () => {
    const nasty = fc.oneof(
      fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\udbff\u0000', 'ok\ud83d'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((x) => x.includes('\u0000') || !(x as unknown as { isWellFormed(): boolean }).isWellFormed()),
    );
    const badDate = fc.constantFrom('0000-01-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '+275760-09-13T00:00:00Z', '-000001-01-01T00:00:00Z', '2026-03-02T24:00:00Z', '10000-01-01T00:00:00Z');
    type Case = { kind: 'am' | 'soc'; body: unknown; field: RegExp };
    const amCase: fc.Arbitrary<Case> = fc.oneof(
      fc.tuple(fc.constantFrom('alertname', 'job', 'severity', 'instance'), nasty).map(([k, v]) => ({ kind: 'am' as const, body: [am({ labels: { alertname: 'Nasty', [k]: v } })], field: new RegExp(`body\\[0\\]\\.labels\\.${k}`) })),
      fc.tuple(fc.constantFrom('summary', 'description'), nasty).map(([k, v]) => ({ kind: 'am' as const, body: [am(), am({ annotations: { [k]: v } })], field: new RegExp(`body\\[1\\]\\.annotations\\.${k}`) })),
      fc.tuple(nasty).map(([v]) => ({ kind: 'am' as const, body: [am({ generatorURL: v })], field: /body\[0\]\.generatorURL/ })),
      fc.tuple(fc.constantFrom('startsAt', 'endsAt'), badDate).map(([k, v]) => ({ kind: 'am' as const, body: [am({ [k]: v })], field: new RegExp(`body\\[0\\]\\.${k}`) })),
    );
    const socCase: fc.Arbitrary<Case> = fc.oneof(
      fc.tuple(fc.constantFrom('id', 'rule', 'asset', 'system', 'summary'), nasty).map(([k, v]) => ({ kind: 'soc' as const, body: alert({ id: 'nasty', [k]: v }), field: new RegExp(`body\\.${k}`) })),
      fc.tuple(nasty).map(([v]) => ({ kind: 'soc' as const, body: [alert({ id: 'n1' }), alert({ id: 'n2', details: { note: v } })], field: /body\[1\]\.details\.note/ })),
      fc.tuple(nasty).map(([v]) => ({ kind: 'soc' as const, body: alert({ id: 'n3', details: { [v]: 1 } }), field: /body\.details\./ })),
      fc.tuple(badDate).map(([v]) => ({ kind: 'soc' as const, body: alert({ id: 'n4', observed_at: v }), field: /body\.observed_at/ })),
    );
    const before = (await t.store.query<{ n: number }>('SELECT count(*)::int AS n FROM signals')).rows[0]!.n;
    await fc.assert(
      fc.asyncProperty(fc.oneof(amCase, socCase), async (c) => {
        const text = JSON.stringify(c.body);
        const r = c.kind === 'am' ? await postAm(c.body) : await postSoc('soc-main', text, signed(text));
        assert.equal(r.statusCode, 400, `${c.kind} ${text} -> ${r.statusCode} ${r.body}`);
        assert.match(r.json().error.message, c.field, text);
      }),
      { numRuns: 200, seed: 20261207 },
    );
    assert.equal((await t.store.query<{ n: number }>('SELECT count(*)::int AS n FROM signals')).rows[0]!.n, before, 'nothing stored');
  });

  it('refuses more alerts per request than intake.max_alerts_per_request with 413, before storing any', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => am({ labels: { alertname: `Cap${i}` } }));
    const r = await postAm(many);
    assert.equal(r.statusCode, 413, r.body);
    assert.match(r.json().error.message, /1001 alerts in one request; at most 1000 .*intake\.max_alerts_per_request.*smaller batches/);
    const socMany = JSON.stringify(Array.from({ length: 1001 }, (_, i) => alert({ id: `cap-${i}` })));
    const s = await postSoc('soc-main', socMany, signed(socMany));
    assert.equal(s.statusCode, 413, s.body);
    assert.match(s.json().error.message, /at most 1000/);
    const n = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM signals WHERE check_name LIKE 'Cap%'`)).rows[0]!.n;
    assert.equal(n, 0);
  });
  it('records machine alerts in the ledger with the token that sent them, not as audit rows; refusals are counted', async () => {
    const metric = async (reason: string) => {
      const text = (await t.app.http.inject({ method: 'GET', url: '/metrics' })).body;
      const line = text.split('\n').find((l) => l.startsWith(`kuzet_intake_rejected_total{endpoint="alertmanager",reason="${reason}"}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const unauthenticated = await metric('unauthenticated');
    const forbidden = await metric('forbidden');
    assert.equal((await postAm([{ labels: { alertname: 'Credential', system: 'enbek' } }])).statusCode, 200);
    const body = JSON.stringify(alert({ id: 'evt-audit' }));
    assert.equal((await postSoc('soc-main', body, { ...signed(body), 'content-type': 'application/json' })).statusCode, 202);
    assert.equal((await postAm([am()], null)).statusCode, 401);
    assert.equal((await postAm([am()], viewer)).statusCode, 403);
    const led = await t.store.query<{ credential: string }>(`SELECT payload->>'credential' AS credential FROM signals WHERE check_name = 'Credential'`);
    assert.deepEqual(led.rows, [{ credential: 'token:prometheus' }]);
    // A person's action after the machines': once its audit row is there, the machines' would be too.
    const reporter = await t.token('reporter', 'desk');
    const open = await t.app.http.inject({ method: 'POST', url: '/api/v1/incidents', payload: JSON.stringify({ system: 'enbek', title: 'audited' }), headers: { 'content-type': 'application/json', authorization: `Bearer ${reporter}` } });
    assert.equal(open.statusCode, 201, open.body);
    let actions: string[] = [];
    for (let i = 0; i < 200 && !actions.includes('POST /api/v1/incidents'); i++) {
      await new Promise((r) => setImmediate(r));
      actions = (await t.store.query<{ action: string }>(`SELECT action FROM audit_log`)).rows.map((r) => r.action);
    }
    assert.ok(actions.includes('POST /api/v1/incidents'), 'people are audited');
    assert.deepEqual(actions.filter((a) => /api\/v2\/alerts|webhooks\/soc/.test(a)), [], 'machines are not');
    assert.equal(await metric('unauthenticated'), unauthenticated + 1);
    assert.equal(await metric('forbidden'), forbidden + 1);
  });
});
