import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../../src/app.ts';
import { runCli } from '../../../src/cli/index.ts';
import { FakeClock } from '../../../src/clock.ts';
import { ConfigError, loadConfig } from '../../../src/config/load.ts';
import { nullLogger, type Logger } from '../../../src/log.ts';
import { localTime, parseDateOrInstant } from '../../../src/local-time.ts';
import { schemaPlugins } from '../../../src/sections.ts';
import { testApp, TEST_CONFIG, type TestApp } from '../../support/app.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { tmpTree } from '../../support/tmp.ts';

// Issue 19, items 5 and 6: local times for people, and the small snags a newcomer hits.

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s) }, { run: async () => {} });
  return { code, out, err };
}

describe('local times', () => {
  it('prints Asia/Almaty wall time with the zone, on both sides of the 2024 switch', () => {
    assert.equal(localTime('2026-03-02T04:00:00Z'), '2026-03-02 09:00:00 +05:00 Asia/Almaty');
    assert.equal(localTime(Date.parse('2024-01-10T04:00:00Z')), '2024-01-10 10:00:00 +06:00 Asia/Almaty');
    assert.equal(localTime(null), '-');
  });

  it('reads a bare date as local midnight and an ISO time only with its zone', () => {
    assert.equal(parseDateOrInstant('2026-12-01'), Date.parse('2026-11-30T19:00:00Z'));
    assert.equal(parseDateOrInstant('2026-12-01T09:00:00+05:00'), Date.parse('2026-12-01T04:00:00Z'));
    assert.equal(parseDateOrInstant('2026-12-01T04:00:00Z'), Date.parse('2026-12-01T04:00:00Z'));
    for (const bad of ['2026-02-30', 'yesterday', '2026-12-01T09:00:00', '']) assert.ok(Number.isNaN(parseDateOrInstant(bad)), bad);
  });
});

describe(`a newcomer's snags on ${storeKind}`, () => {
  let t: TestApp;
  let url: string, oncall: string, viewer: string;
  before(async () => {
    t = await testApp(`${TEST_CONFIG}escalation:
  people:
    aigerim: { name: Aigerim, email: aigerim@ops.kz, lang: kk }
  channels:
    email: { type: email, host: 127.0.0.1, port: 2525, from: kuzet@ops.kz }
  policies:
    - { name: all, ack_deadline: 15m, steps: [{ after: 0m, notify: [{ person: aigerim }] }] }
`);
    url = (await t.app.start()).url;
    [oncall, viewer] = await Promise.all([t.token('oncall', 'aigerim'), t.token('viewer')]);
  });
  after(() => t.close());

  const call = (method: 'GET' | 'POST', path: string, token: string, payload?: string | object, headers: Record<string, string> = {}) =>
    t.app.http.inject({ method, url: path, payload, headers: { authorization: `Bearer ${token}`, ...headers } });

  it('shows the description given when the incident was opened, in the API and the CLI', async () => {
    const open = await call('POST', '/api/v1/incidents', oncall, { system: 'enbek', title: 'Search is empty', description: 'Since 08:50 the vacancy search\nreturns nothing for Almaty' });
    assert.equal(open.statusCode, 201, open.body);
    assert.equal(open.json().description, 'Since 08:50 the vacancy search\nreturns nothing for Almaty');
    const id = open.json().id as number;
    assert.equal((await call('GET', `/api/v1/incidents/${id}`, viewer)).json().description, 'Since 08:50 the vacancy search\nreturns nothing for Almaty');
    const show = await cli(['incidents', 'show', String(id), '--url', url, '--token', viewer]);
    assert.equal(show.code, 0, show.err);
    assert.match(show.out, /description:\n {4}Since 08:50 the vacancy search\n {4}returns nothing for Almaty/);
    assert.match(show.out, /opened: {4}2026-03-02 09:00:00 \+05:00 Asia\/Almaty/);
    const none = await call('POST', '/api/v1/incidents', oncall, { system: 'enbek', title: 'no words' });
    assert.equal(none.json().description, null);
  });

  it('acknowledges and resolves with no body, or an empty one', async () => {
    const a = (await call('POST', '/api/v1/incidents', oncall, { system: 'nqs', title: 'A' })).json().id as number;
    const b = (await call('POST', '/api/v1/incidents', oncall, { system: 'nqs', title: 'B' })).json().id as number;
    const noBody = await call('POST', `/api/v1/incidents/${a}/ack`, oncall);
    assert.equal(noBody.statusCode, 200, noBody.body);
    assert.equal(noBody.json().status, 'acknowledged');
    const empty = await call('POST', `/api/v1/incidents/${b}/ack`, oncall, '', { 'content-type': 'application/json' });
    assert.equal(empty.statusCode, 200, empty.body);
    const resolved = await call('POST', `/api/v1/incidents/${b}/resolve`, oncall, '', { 'content-type': 'application/json' });
    assert.equal(resolved.json().status, 'resolved');
    // Where a body is required, an empty one is still an error.
    const note = await call('POST', `/api/v1/incidents/${a}/notes`, oncall, '', { 'content-type': 'application/json' });
    assert.equal(note.statusCode, 400);
  });

  it('filters by a local date as well as by a timestamp, and says what it expects otherwise', async () => {
    const id = (await call('POST', '/api/v1/incidents', oncall, { system: 'enbek', title: 'at 09:00 on 2 March' })).json().id as number;
    const ids = async (qs: string) => ((await call('GET', `/api/v1/incidents?${qs}`, viewer)).json().items as Array<{ id: number }>).map((i) => i.id);
    assert.ok((await ids('since=2026-03-02')).includes(id));
    assert.ok(!(await ids('since=2026-03-03')).includes(id));
    assert.ok((await ids('until=2026-03-03')).includes(id));
    assert.ok(!(await ids('until=2026-03-02')).includes(id));
    assert.ok((await ids(`since=${encodeURIComponent('2026-03-02T08:59:00+05:00')}`)).includes(id));
    const bad = await call('GET', '/api/v1/incidents?since=tomorrow', viewer);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error.message, /querystring\.since: expected a date \(2026-12-01, midnight Asia\/Almaty\)/);
    const ls = await cli(['incidents', 'ls', '--since', '2026-03-02', '--url', url, '--token', viewer]);
    assert.equal(ls.code, 0, ls.err);
    assert.match(ls.out, new RegExp(`^${id}\\s+open\\s+major\\s+enbek\\s+2026-03-02 09:00:00 \\+05:00 Asia/Almaty`, 'm'));
    assert.equal((await cli(['incidents', 'ls', '--since', 'soon', '--url', url, '--token', viewer])).code, 2);
  });

  it('gives the escalation view in ISO 8601 only', async () => {
    const id = (await call('POST', '/api/v1/incidents', oncall, { system: 'enbek', title: 'paged' })).json().id as number;
    const r = (await call('GET', `/api/v1/incidents/${id}/escalation`, viewer)).json();
    const times: unknown[] = [];
    const walk = (v: unknown, key = ''): void => {
      if (Array.isArray(v)) v.forEach((x) => walk(x));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
      else if (/(_at|At)$/.test(key)) times.push(v);
    };
    walk(r);
    assert.equal(r.items.length, 1);
    assert.equal(r.notifications.length, 1);
    assert.ok(times.length >= 5, JSON.stringify(r));
    for (const v of times) assert.ok(v === null || (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)), `not ISO 8601: ${JSON.stringify(v)}`);
  });
});

describe('the bootstrap admin token', () => {
  const config = TEST_CONFIG + 'auth:\n  bootstrap_token: "${KUZET_ADMIN_TOKEN:-}"\n';

  it('is refused below 32 characters, naming the field and the rule', () => {
    const t = tmpTree({ 'kuzet.yaml': config, 'probes/.keep': '' });
    try {
      assert.throws(() => loadConfig(t.path('kuzet.yaml'), schemaPlugins, { KUZET_ADMIN_TOKEN: 'short-admin-token' }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /auth\.bootstrap_token: the bootstrap admin token \(KUZET_ADMIN_TOKEN\) has 17 characters; at least 32 are required/);
        return true;
      });
      assert.doesNotThrow(() => loadConfig(t.path('kuzet.yaml'), schemaPlugins, { KUZET_ADMIN_TOKEN: 'x'.repeat(32) }));
      assert.doesNotThrow(() => loadConfig(t.path('kuzet.yaml'), schemaPlugins, {}));
    } finally {
      t.cleanup();
    }
  });

  it('is logged once when active, and works', async () => {
    const t = tmpTree({ 'kuzet.yaml': config, 'probes/.keep': '' });
    const store = await freshStore();
    const lines: string[] = [];
    const log: Logger = { ...nullLogger, warn: (m) => void lines.push(m), info: () => {}, child: () => log };
    const token = 'kzt_' + 'b'.repeat(40);
    const app = await createApp({ configFile: t.path('kuzet.yaml'), store, clock: new FakeClock('2026-03-02T04:00:00Z'), log, port: 0, env: { KUZET_ADMIN_TOKEN: token } });
    try {
      await app.start();
      assert.equal(lines.filter((l) => /bootstrap admin token \(KUZET_ADMIN_TOKEN\) is active/.test(l)).length, 1);
      const r = await app.http.inject({ url: '/api/v1/tokens', headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.statusCode, 200, r.body);
    } finally {
      await app.stop();
      await store.close();
      t.cleanup();
    }
  });
});
