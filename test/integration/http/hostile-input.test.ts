import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { testApp, TEST_CONFIG, type TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

// Bad bytes and out-of-range values on every route, the order of checks for anonymous callers, what a flood of refused
// requests costs the audit log, and bodies that trickle.

const NUL = 'a\u0000b';
const LONE = 'a\ud800b';
const J = (o: unknown) => JSON.stringify(o);

describe(`hostile input on every route on ${storeKind}`, () => {
  let t: TestApp;
  let admin: string, viewer: string;
  before(async () => {
    t = await testApp(`${TEST_CONFIG}intake:
  soc:
    sources:
      - { name: soc-main, secret: "\${SOC_SECRET}", system: enbek }
escalation:
  public_url: http://127.0.0.1:8080
  ack_links:
    secret: "\${ACK_SECRET}"
`, {}, { SOC_SECRET: 'soc-shared-secret-0123456789', ACK_SECRET: 'ack-link-secret-0123456789abcdef' });
    [admin, viewer] = await Promise.all([t.token('admin'), t.token('viewer')]);
  });
  after(() => t.close());

  const call = (method: string, url: string, body?: string, token: string | null = admin, extra: Record<string, string> = {}) =>
    t.app.http.inject({
      method: method as 'GET',
      url,
      payload: body,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...extra },
    });

  it('answers 400 naming the field to U+0000 and unpaired surrogates in bodies, queries and paths, and stores nothing', async () => {
    const signalsBefore = (await t.store.query<{ n: number }>('SELECT count(*)::int AS n FROM signals')).rows[0]!.n;
    const cases: Array<[string, string, (bad: string) => string | undefined, RegExp]> = [
      ['POST', '/api/v1/incidents', (b) => J({ system: 'enbek', title: b }), /body\.title/],
      ['POST', '/api/v1/incidents', (b) => J({ system: 'enbek', title: 'x', description: b }), /body\.description/],
      ['POST', '/api/v1/incidents', (b) => J({ system: 'enbek', title: 'x', fingerprint: b }), /body\.fingerprint/],
      ['POST', '/api/v1/incidents', (b) => J({ system: 'enbek', title: 'x', labels: { team: b } }), /body\.labels\.team/],
      ['POST', '/api/v1/incidents', (b) => J({ system: 'enbek', title: 'x', labels: { [b]: 'v' } }), /body\.labels\.a\\u/],
      ['POST', '/api/v1/incidents/1/notes', (b) => J({ text: b }), /body\.text/],
      ['POST', '/api/v1/incidents/1/ack', (b) => J({ note: b }), /body\.note/],
      ['POST', '/api/v1/incidents/1/resolve', (b) => J({ note: b }), /body\.note/],
      ['POST', '/api/v1/tokens', (b) => J({ name: b, role: 'viewer' }), /body\.name/],
      ['POST', '/api/v1/silences', (b) => J({ matchers: { system: b }, ends_at: '2026-03-03T00:00:00Z', reason: 'x' }), /body\.matchers\.system/],
      ['POST', '/api/v1/silences', (b) => J({ matchers: { system: 'enbek' }, ends_at: '2026-03-03T00:00:00Z', reason: b }), /body\.reason/],
      ['POST', '/api/v1/requests/1/answer', (b) => J({ answer: b }), /body\.answer/],
      ['POST', '/api/v1/requests/1/extend', (b) => J({ reason: 'defect_fix', note: b }), /body\.note/],
      ['POST', '/api/v2/alerts', (b) => J([{ labels: { alertname: b } }]), /body\[0\]\.labels\.alertname/],
      ['POST', '/api/v2/alerts', (b) => J([{ labels: { alertname: 'x' }, annotations: { summary: b } }]), /body\[0\]\.annotations\.summary/],
      ['GET', '/api/v1/incidents?system=%s', () => undefined, /querystring\.system/],
      ['GET', '/api/v1/incidents?source=%s', () => undefined, /querystring\.source/],
      ['GET', '/api/v1/requests?system=%s', () => undefined, /querystring\.system/],
      ['GET', '/api/v1/backups?job=%s', () => undefined, /querystring\.job/],
      ['GET', '/api/v1/heartbeats/%s', () => undefined, /params\.name/],
      ['GET', '/api/v1/ack/%s', () => undefined, /params\.token/],
    ];
    for (const bad of [NUL, LONE]) {
      for (const [method, url0, body, field] of cases) {
        // In a URL the NUL travels as %00; an unpaired surrogate cannot be percent-encoded as UTF-8, so paths get NUL only.
        if (url0.includes('%s') && bad === LONE) continue;
        const url = url0.includes('%s') ? url0.replace('%s', encodeURIComponent(bad)) : url0;
        const r = await call(method, url, body(bad));
        assert.equal(r.statusCode, 400, `${method} ${url} ${JSON.stringify(bad)}: ${r.body}`);
        assert.match(r.json().error.message, field, `${method} ${url}`);
        assert.match(r.json().error.message, bad === NUL ? /NUL character/ : /unpaired UTF-16 surrogate/);
      }
    }
    assert.equal((await t.store.query<{ n: number }>('SELECT count(*)::int AS n FROM signals')).rows[0]!.n, signalsBefore);
    // User requests name the field in the user's language, for every field of both forms.
    const trouble = { kind: 'trouble', system: 'enbek', lang: 'ru', contact: 'email', email: 'user@example.kz', subject: 'Не открывается', body: 'Страница не открывается' };
    const access = { kind: 'access', system: 'enbek', lang: 'ru', full_name: 'Асқар Бекұлы', iin: '850115300011', position: 'инспектор', email: 'user@example.kz', phone: '+7 701 123 45 67', access: { action: 'grant', systems: 'enbek', functions: 'просмотр', basis: 'приказ' } };
    for (const clean of [trouble, access]) {
      const ok = await call('POST', '/api/v1/requests', J(clean));
      assert.equal(ok.statusCode, 201, `the clean ${clean.kind} request is taken: ${ok.body}`);
    }
    for (const bad of [NUL, LONE]) {
      for (const [base, field] of [[trouble, 'subject'], [trouble, 'body'], [trouble, 'email'], [trouble, 'contact'], [access, 'full_name'], [access, 'position'], [access, 'phone'], [access, 'iin'], [access, 'access.functions'], [access, 'access.basis'], [access, 'access.systems']] as const) {
        const body = structuredClone(base) as Record<string, unknown>;
        if (field.startsWith('access.')) (body.access as Record<string, unknown>)[field.slice(7)] = bad;
        else body[field] = bad;
        const r = await call('POST', '/api/v1/requests', J(body));
        assert.equal(r.statusCode, 400, `${field} ${JSON.stringify(bad)}: ${r.body}`);
        assert.ok(r.json().error.fields?.length || /\(/.test(r.json().error.message), `${field}: ${r.body}`);
      }
    }
  });

  it('answers 400 naming the field to ids and dates out of range on every route', async () => {
    const huge = '99999999999999999999';
    const cases: Array<[string, string, string | undefined, RegExp]> = [
      ['GET', `/api/v1/incidents?before=${huge}`, undefined, /before/],
      ['GET', `/api/v1/incidents/${huge}`, undefined, /id/],
      ['GET', `/api/v1/incidents/${huge}/escalation`, undefined, /id/],
      ['POST', `/api/v1/incidents/${huge}/ack`, '{}', /id/],
      ['DELETE', `/api/v1/tokens/${huge}`, undefined, /id/],
      ['DELETE', `/api/v1/silences/${huge}`, undefined, /id/],
      ['POST', `/api/v1/notifications/${huge}/retry`, '{}', /id/],
      ['GET', `/api/v1/backups?before=${huge}`, undefined, /before/],
      ['GET', `/api/v1/requests?before=${huge}`, undefined, /before/],
      ['GET', '/api/v1/requests/9999999999999999', undefined, /id/],
      ['GET', '/api/v1/requests/1/attachments/9999999999999999', undefined, /aid/],
      ['POST', '/api/v1/requests/9999999999999999/acknowledge', '{}', /id/],
      ['GET', '/api/v1/incidents?since=0000-01-01T00:00:00Z', undefined, /since/],
      ['GET', '/api/v1/incidents?until=2026-02-30T00:00:00Z', undefined, /until/],
      ['GET', '/api/v1/oncall?at=0000-06-01T00:00:00Z', undefined, /at/],
      ['POST', '/api/v1/silences', J({ matchers: { system: 'enbek' }, ends_at: '0000-12-31T00:00:00Z', reason: 'x' }), /ends_at/],
      ['POST', '/api/v1/silences', J({ matchers: { system: 'enbek' }, starts_at: '2026-13-01T00:00:00Z', ends_at: '2026-03-03T00:00:00Z', reason: 'x' }), /starts_at/],
      ['POST', '/api/v2/alerts', J([{ labels: { alertname: 'x' }, startsAt: '0000-01-01T00:00:00Z' }]), /body\[0\]\.startsAt/],
      ['POST', '/api/v2/alerts', J([{ labels: { alertname: 'x' }, endsAt: '2026-02-29T00:00:00Z' }]), /body\[0\]\.endsAt/],
    ];
    for (const [method, url, body, field] of cases) {
      const r = await call(method, url, body);
      assert.equal(r.statusCode, 400, `${method} ${url}: ${r.body}`);
      assert.match(r.json().error.message, field, `${method} ${url}`);
    }
    // The largest id JavaScript holds exactly is a plain "not found", and Go's zero time is still "not set".
    assert.equal((await call('GET', '/api/v1/incidents/9007199254740991')).statusCode, 404);
    assert.equal((await call('POST', '/api/v2/alerts', J([{ labels: { alertname: 'ZeroTime', system: 'nqs' }, endsAt: '0001-01-01T00:00:00Z' }]))).statusCode, 200);
  });

  it('checks the token before the body: anonymous callers get 401, weak roles 403, never a list of fields', async () => {
    const cases: Array<[string, string, string]> = [
      ['POST', '/api/v1/incidents', J({ nonsense: true })],
      ['POST', '/api/v1/incidents', '{"broken":'],
      ['POST', '/api/v1/incidents/1/ack', J({ unknown: 1 })],
      ['POST', '/api/v1/tokens', J({})],
      ['POST', '/api/v1/silences', J({ matchers: 5 })],
      ['POST', '/api/v1/requests', J({ subject: 5 })],
      ['POST', '/api/v1/requests/1/answer', J({})],
      ['POST', '/api/v2/alerts', '{"x"'],
      ['POST', '/api/v1/incidents', J({ system: 'enbek', title: NUL })],
    ];
    for (const [method, url, body] of cases) {
      const anon = await call(method, url, body, null);
      assert.equal(anon.statusCode, 401, `${url} ${body}: ${anon.body}`);
      assert.doesNotMatch(anon.body, /body\.|missing required|unknown field|malformed/, url);
    }
    const weak = await call('POST', '/api/v1/tokens', J({}), viewer);
    assert.equal(weak.statusCode, 403, weak.body);
  });

  it('audits refused anonymous requests as one row per address per minute with a count', async () => {
    const rows = async () => (await t.store.query<{ remote: string; action: string; outcome: string; detail: { count: number; refused: Record<string, number> } }>(
      `SELECT remote, action, outcome, detail FROM audit_log WHERE actor = 'anonymous' ORDER BY remote`)).rows;
    const start = (await rows()).length;
    const flood = async (ip: string, n: number) => {
      for (let i = 0; i < n; i++) {
        await t.app.http.inject({ method: 'POST', url: i % 2 ? '/api/v1/incidents' : '/api/v1/tokens', payload: '{}', headers: { 'content-type': 'application/json' }, remoteAddress: ip });
      }
    };
    await flood('192.0.2.10', 300);
    await flood('192.0.2.11', 40);
    // Forged acknowledge links, viewed and posted: counted with the rest of that address's refusals.
    for (let i = 0; i < 50; i++) {
      const r = await t.app.http.inject({ method: i % 2 ? 'POST' : 'GET', url: `/api/v1/ack/forged${i}`, remoteAddress: '192.0.2.11' });
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, r.body);
    }
    t.clock.advance(60_000); // the minute is over: its rows are written
    let got = await rows();
    for (let i = 0; i < 200 && got.length < start + 2; i++) {
      await new Promise((r) => setImmediate(r)); // the audit writer commits in the background
      got = await rows();
    }
    const mine = got.filter((r) => r.remote.startsWith('192.0.2.'));
    assert.equal(mine.length, 2, JSON.stringify(mine));
    assert.deepEqual(mine.map((r) => r.remote), ['192.0.2.10', '192.0.2.11']);
    assert.equal(mine[0]!.detail.count, 300);
    // 40 API refusals, 50 refused links, and the 25 posted ones once more as refused requests
    assert.equal(mine[1]!.detail.count, 40 + 50 + 25, JSON.stringify(mine[1]!.detail));
    assert.equal(mine[0]!.outcome, '401');
    assert.deepEqual(mine[0]!.detail.refused, { 'POST /api/v1/tokens -> 401': 150, 'POST /api/v1/incidents -> 401': 150 });
    // A successful call with a token is still one row of its own.
    const before = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE actor = 'token:admin'`)).rows[0]!.n;
    assert.equal((await call('POST', '/api/v1/tokens', J({ name: 'ci', role: 'viewer' }))).statusCode, 201);
    let n = before;
    for (let i = 0; i < 200 && n === before; i++) {
      await new Promise((r) => setImmediate(r));
      n = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE actor = 'token:admin'`)).rows[0]!.n;
    }
    assert.equal(n, before + 1);
  });

  it('cuts a request body that trickles, with 408, after server.body_timeout of the injected clock', async () => {
    const address = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let closed = false;
    sock.on('data', (d) => got.push(d));
    sock.on('close', () => (closed = true));
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const settle = async (until: () => boolean) => {
      for (let i = 0; i < 200 && !until(); i++) await new Promise((r) => setTimeout(r, 5)); // socket I/O only
    };
    try {
      const arrived = new Promise((r) => t.app.http.server.once('request', r));
      sock.write(`POST /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"system":`);
      await arrived;
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      t.clock.advance(29_999);
      sock.write(' ');
      await settle(() => got.length > 0);
      assert.equal(got.length, 0, 'nothing is cut before server.body_timeout');
      t.clock.advance(1);
      await settle(() => closed);
      const answer = Buffer.concat(got).toString();
      assert.match(answer, /^HTTP\/1\.1 408/, answer || 'no answer: the slow body was never cut');
      assert.match(answer, /not received within 30 s/);
      assert.ok(closed, 'the connection is closed');
    } finally {
      sock.destroy(); // a failing run must not keep the server from closing
    }
  });
});
