import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { workingMsBetween } from '../../../src/console/admin.ts';
import { upcomingMaintenance } from '../../../src/console/status.ts';
import { enqueueNotifications } from '../../../src/escalation/outbox.ts';
import { dayNumber } from '../../../src/requests/calendar.ts';
import { consoleApp, signIn } from '../../support/console.ts';
import type { TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';
import { smtpStandIn } from '../notify/stand-ins.ts';

// The console's tables and their actions: on call, silences, the requests queue, dead letters, and the rest.

const HOUR = 3_600_000;
const post = (t: TestApp, url: string, cookie: string, body: Record<string, string>) =>
  t.app.http.inject({ method: 'POST', url, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(body).toString() });

describe(`console tables on ${storeKind}`, { timeout: 120_000 }, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof smtpStandIn>>;
  let on: { cookie: string; csrf: string };
  let admin: { cookie: string; csrf: string };
  let viewer: { cookie: string; csrf: string };

  before(async () => {
    smtp = await smtpStandIn();
    t = await consoleApp(smtp.port);
    on = await signIn(t, await t.token('oncall', 'aigerim'));
    admin = await signIn(t, await t.token('admin', 'boss'));
    viewer = await signIn(t, await t.token('viewer', 'auditor'));
  });
  after(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('shows who is on call now and the next hand-off', async () => {
    // 2026-03-02 09:00 Almaty: alice and bob hand off daily at 09:00 from 2026-01-01.
    const r = await t.app.http.inject({ url: '/oncall?lang=en', headers: { cookie: viewer.cookie } });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /<html lang="en">/);
    assert.match(r.body, /<td>primary<\/td><td><strong>(alice|bob)<\/strong>/);
    assert.match(r.body, /main: (alice|bob) 2026-03-0[23] 09:00 → 2026-03-0[34] 09:00/);
    assert.match(String(r.headers['set-cookie']), /kuzet_lang=en/, 'the language is remembered');
    const again = await t.app.http.inject({ url: '/oncall', headers: { cookie: `${viewer.cookie}; kuzet_lang=kk` } });
    assert.match(again.body, /<html lang="kk">/);
  });

  it('creates and expires silences from forms; refuses bad fields and the viewer role', async () => {
    const bad = await post(t, '/silences', on.cookie, { _csrf: on.csrf, system: 'nope', for: '1h', reason: 'x' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /system:/);
    assert.equal((await post(t, '/silences', on.cookie, { _csrf: on.csrf, system: 'enbek', for: '3y', reason: 'x' })).statusCode, 400);
    assert.equal((await post(t, '/silences', viewer.cookie, { _csrf: viewer.csrf, system: 'enbek', for: '1h', reason: 'x' })).statusCode, 403);
    const ok = await post(t, '/silences', on.cookie, { _csrf: on.csrf, system: 'enbek', check: 'home-ru', for: '4h', reason: 'planned deploy' });
    assert.equal(ok.statusCode, 303);
    const row = (await t.store.query<{ id: number; matchers: unknown; author: string; ends_at: Date }>('SELECT id, matchers, author, ends_at FROM silences')).rows[0]!;
    assert.deepEqual(row.matchers, { system: 'enbek', check: 'home-ru' });
    assert.equal(row.author, 'token:aigerim');
    assert.equal(new Date(row.ends_at).getTime(), t.clock.now() + 4 * HOUR);
    const page = await t.app.http.inject({ url: '/silences', headers: { cookie: on.cookie } });
    assert.match(page.body, /check=home-ru, system=enbek|system=enbek, check=home-ru/);
    const exp = await post(t, `/silences/${row.id}/expire`, on.cookie, { _csrf: on.csrf });
    assert.equal(exp.statusCode, 303);
    assert.doesNotMatch((await t.app.http.inject({ url: '/silences', headers: { cookie: on.cookie } })).body, /check=home-ru, system=enbek|system=enbek, check=home-ru/);
    assert.equal((await post(t, '/silences/999/expire', on.cookie, { _csrf: on.csrf })).statusCode, 404);
  });

  it('orders the requests queue by legal deadline, shows working time left, and acknowledges, answers and extends', async () => {
    for (const [system, body] of [['nqs', 'a'], ['enbek', 'b']] as const) {
      const fields: Record<string, string> = system === 'nqs'
        ? { lang: 'ru', system, full_name: 'Асқар Бекұлы', iin: '850115300011', login: 'askar85', phone: '+7 701 123 45 67', email: 'askar@example.kz', subject: 'Вход', body }
        : { lang: 'ru', system, contact: 'Айгүл', email: 'aigul@example.kz', subject: 'Поиск', body };
      const r = await t.app.http.inject({ method: 'POST', url: '/report?lang=ru', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() });
      assert.ok(r.statusCode < 400, r.body);
    }
    const due = (await t.store.query<{ number: string; id: number }>('SELECT number, id FROM requests ORDER BY due_at, id')).rows;
    const q = await t.app.http.inject({ url: '/requests', headers: { cookie: on.cookie } });
    assert.equal(q.statusCode, 200);
    const shown = [...q.body.matchAll(/data-number="(R-[^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(shown, due.map((r) => r.number), 'ordered by deadline');
    assert.match(q.body, /class="working-left">[^<]+рабочего времени осталось/);
    assert.ok(!q.body.includes('850115300011') && !q.body.includes('askar@example.kz'), 'no personal data in the queue');

    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM requests WHERE form = 'nqs'`)).rows[0]!.id);
    const enbek = Number((await t.store.query<{ id: number }>(`SELECT id FROM requests WHERE form = 'enbek'`)).rows[0]!.id);
    assert.ok(q.body.includes(`action="/requests/${id}/extend`), 'an NQS deadline may be extended');
    assert.ok(!q.body.includes(`action="/requests/${enbek}/extend`), 'others may not (004 §16): no form offered');
    const refused = await post(t, `/requests/${enbek}/extend`, on.cookie, { _csrf: on.csrf, reason: 'defect_fix', note: 'x' });
    assert.ok(refused.statusCode >= 400 && refused.statusCode < 500, `extending an enbek request: ${refused.statusCode}`);
    assert.match(refused.headers['content-type'] as string, /text\/html/);
    assert.equal((await post(t, `/requests/${id}/acknowledge`, on.cookie, { _csrf: on.csrf })).statusCode, 303);
    assert.equal((await post(t, `/requests/${id}/extend`, on.cookie, { _csrf: on.csrf, reason: 'whim', note: 'x' })).statusCode, 400);
    const before = (await t.store.query<{ due_at: Date }>('SELECT due_at FROM requests WHERE id = $1', [id])).rows[0]!.due_at;
    const ext = await post(t, `/requests/${id}/extend`, on.cookie, { _csrf: on.csrf, reason: 'defect_fix', note: 'fix deploys next week' });
    assert.equal(ext.statusCode, 303, ext.body.slice(0, 300));
    assert.ok(new Date((await t.store.query<{ due_at: Date }>('SELECT due_at FROM requests WHERE id = $1', [id])).rows[0]!.due_at) > new Date(before));
    assert.equal((await post(t, `/requests/${id}/answer`, on.cookie, { _csrf: on.csrf, answer: '' })).statusCode, 400);
    assert.equal((await post(t, `/requests/${id}/answer`, on.cookie, { _csrf: on.csrf, answer: 'Доступ восстановлен' })).statusCode, 303);
    const row = (await t.store.query<{ status: string; answer: string }>('SELECT status, answer FROM requests WHERE id = $1', [id])).rows[0]!;
    assert.deepEqual(row, { status: 'answered', answer: 'Доступ восстановлен' });
    const audit = await t.store.query<{ actor: string }>(`SELECT DISTINCT actor FROM request_events WHERE request_id = $1 AND actor LIKE 'token:%'`, [id]);
    assert.deepEqual(audit.rows.map((r) => r.actor), ['token:aigerim'], 'the request\'s history names the person');
  });

  it('lists dead letters and retries one as an admin only', async () => {
    await enqueueNotifications(t.store, [{ key: 'dead-1', subjectKind: 'incident', subjectId: 1, channel: 'mail', recipient: { person: 'alice' }, lang: 'ru', message: { kind: 'page', ackUrl: 'http://kuzet.test/ack/secret-token-x' } }], t.clock.now());
    await t.store.query(`UPDATE outbox SET state = 'dead', attempts = 5, last_error = 'SMTP 550 mailbox unavailable' WHERE idempotency_key = 'dead-1'`);
    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM outbox WHERE idempotency_key = 'dead-1'`)).rows[0]!.id);
    const page = await t.app.http.inject({ url: '/dead-letters', headers: { cookie: on.cookie } });
    assert.match(page.body, /SMTP 550 mailbox unavailable/);
    assert.ok(!page.body.includes('secret-token-x'), 'never the acknowledge link');
    assert.equal((await post(t, `/dead-letters/${id}/retry`, on.cookie, { _csrf: on.csrf })).statusCode, 403);
    assert.equal((await post(t, `/dead-letters/${id}/retry`, admin.cookie, { _csrf: admin.csrf })).statusCode, 303);
    assert.equal((await t.store.query<{ state: string }>('SELECT state FROM outbox WHERE id = $1', [id])).rows[0]!.state, 'pending');
    assert.equal((await post(t, `/dead-letters/${id}/retry`, admin.cookie, { _csrf: admin.csrf })).statusCode, 404, 'no longer dead');
  });

  it('renders backups, systems and reports, each page labelled and in the asked language', async () => {
    for (const path of ['/backups', '/systems', '/reports', '/incidents', '/oncall', '/silences', '/requests', '/dead-letters']) {
      for (const lang of ['ru', 'kk', 'en']) {
        const r = await t.app.http.inject({ url: `${path}?lang=${lang}`, headers: { cookie: on.cookie } });
        assert.equal(r.statusCode, 200, `${path} ${lang}`);
        assert.match(r.body, new RegExp(`<html lang="${lang}">`));
        for (const m of r.body.matchAll(/<(input|select|textarea)\b([^>]*)>/g)) {
          if (/type="hidden"/.test(m[2]!)) continue;
          const id = /id="([^"]+)"/.exec(m[2]!)?.[1];
          assert.ok(id && r.body.includes(`<label for="${id}">`), `${path}: unlabelled ${m[0]}`);
        }
      }
    }
    const sys = await t.app.http.inject({ url: '/systems', headers: { cookie: on.cookie } });
    assert.equal([...sys.body.matchAll(/<tr class="system-row"/g)].length, 3);
    assert.equal([...sys.body.matchAll(/<div class="bars"/g)].length, 3, '90-day bars for each system');
    assert.doesNotMatch(sys.body, /style="/, 'no inline style: the CSP would refuse it');
    const doc = (await t.app.http.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/api/v1/incidents'], 'the API is documented');
    assert.deepEqual(Object.keys(doc.paths).filter((p) => !p.startsWith('/api/') && !p.startsWith('/webhooks/') && !p.startsWith('/report')), [], 'console pages are not API');
    const rep = await t.app.http.inject({ url: '/reports', headers: { cookie: on.cookie } });
    assert.match(rep.body, /href="\/api\/v1\/reports\/availability\?period=2026-03&amp;format=pdf&amp;lang=ru"/);
  });

  it('/status announces the probes\' maintenance windows and paints each day of the last 90 by its worst incident', async () => {
    const s2 = await smtpStandIn();
    const t2 = await consoleApp(s2.port, undefined, {
      'probes/windows.yaml': 'maintenance:\n  - { name: nqs-upgrade, start: "2026-03-04T16:00:00Z", end: "2026-03-04T18:00:00Z", systems: [nqs] }\n',
    });
    try {
      const day = 86_400_000;
      const now = t2.clock.now();
      // A critical outage 10 days ago, resolved after an hour; a minor one 3 days ago, resolved the next day.
      await t2.store.query(
        `INSERT INTO incidents (fingerprint, source, system, check_name, title, severity, status, opened_at, resolved_at, last_signal_at, updated_at)
         VALUES ('a', 'probe', 'enbek', 'c', 'SECRET-ALERT-TEXT', 'critical', 'resolved', $1, $2, $1, $1),
                ('b', 'probe', 'enbek', 'c', 'SECRET-ALERT-TEXT', 'minor', 'resolved', $3, $4, $3, $3)`,
        [new Date(now - 10 * day).toISOString(), new Date(now - 10 * day + 3_600_000).toISOString(), new Date(now - 3 * day).toISOString(), new Date(now - 2 * day).toISOString()]);
      const r = await t2.app.http.inject({ url: '/status?lang=kk' });
      assert.match(r.body, /id="maintenance"><li>2026-03-04 21:00 – 2026-03-04 23:00: NQS platform<\/li>/);
      const enbek = /data-system="enbek"[\s\S]*?<div class="bars"[^>]*>([\s\S]*?)<\/div>/.exec(r.body)![1]!;
      const bars = [...enbek.matchAll(/<span( class="(\w)")?/g)].map((m) => m[2] ?? '-');
      assert.equal(bars.length, 90);
      assert.equal(bars.join(''), '-'.repeat(79) + 'x' + '-'.repeat(6) + 'dd' + '-'.repeat(2));
      assert.match(r.body, /data-system="enbek" data-state="operational"/);
      assert.doesNotMatch(r.body, /SECRET-ALERT-TEXT/);
    } finally {
      await t2.close();
      await s2.close();
    }
  });

  it('streams a change to a live incident page (server-sent events) and ends the stream when the server stops', async () => {
    await t.app.http.inject({ method: 'POST', url: '/api/v1/incidents', headers: { authorization: `Bearer ${await t.token('reporter', 'rep')}`, 'content-type': 'application/json' }, payload: JSON.stringify({ system: 'nqs', title: 'Вход не работает', severity: 'minor' }) });
    const id = Number((await t.store.query<{ id: number }>(`SELECT max(id) AS id FROM incidents`)).rows[0]!.id);
    const page = await t.app.http.inject({ url: `/incidents/${id}`, headers: { cookie: on.cookie } });
    assert.match(page.body, new RegExp(`<main id="main" data-live="/live\\?incident=${id}"`));
    assert.match(page.body, /<script src="\/console.js" defer><\/script>/);
    assert.match(page.headers['content-security-policy'] as string, /script-src 'self'; connect-src 'self'/);
    assert.equal((await t.app.http.inject({ url: '/console.js' })).statusCode, 200);
    assert.equal((await t.app.http.inject({ url: `/live?incident=${id}` })).statusCode, 303, 'the stream needs a session');

    const { url } = await t.app.start();
    const chunks: string[] = [];
    let wake = () => {};
    const res = await new Promise<IncomingMessage>((resolve, reject) => get(`${url}/live?incident=${id}`, { headers: { cookie: on.cookie } }, resolve).on('error', reject));
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    res.setEncoding('utf8');
    res.on('data', (c: string) => { chunks.push(c); wake(); });
    const until = async (re: RegExp) => {
      for (let i = 0; i < 100 && !re.test(chunks.join('')); i++) await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
      assert.match(chunks.join(''), re);
    };
    await until(/event: version\ndata: open:/);
    t.clock.advance(2_000);
    // A keep-alive, or a change already (the outbox worker may be delivering the incident's page meanwhile).
    await until(/: keep-alive|event: change/);
    assert.doesNotMatch(chunks.join(''), /data: acknowledged:/, 'not acknowledged yet');
    assert.equal((await post(t, `/incidents/${id}/ack`, on.cookie, { _csrf: on.csrf })).statusCode, 303);
    t.clock.advance(2_000);
    await until(/event: change\ndata: acknowledged:/);
    const ended = new Promise<void>((r) => res.on('end', () => r()));
    await t.app.http.close();
    await ended;
  });

  it('announces maintenance windows active now or within 14 days, and counts working time on the calendar', () => {
    const now = Date.parse('2026-03-02T04:00:00Z'); // Monday 09:00 Almaty
    const w = upcomingMaintenance([
      { name: 'weekly', cron: '0 2 * * 0', timezone: 'Asia/Almaty', duration: '2h', systems: ['enbek'] },
      { name: 'now', start: '2026-03-02T03:00:00Z', end: '2026-03-02T05:00:00Z', systems: ['nqs'] },
      { name: 'past', start: '2026-02-01T03:00:00Z', end: '2026-02-01T05:00:00Z' },
      { name: 'far', start: '2026-06-01T03:00:00Z', end: '2026-06-01T05:00:00Z' },
    ], now);
    assert.deepEqual(w.map((x) => [x.name, new Date(x.start).toISOString()]), [['now', '2026-03-02T03:00:00.000Z'], ['weekly', '2026-03-07T21:00:00.000Z']]);
    const weekdays = (day: number) => ![0, 6].includes(new Date(day * 86_400_000).getUTCDay());
    // Friday 17:00 to Monday 10:00 Almaty: one hour on Friday, one on Monday.
    assert.equal(workingMsBetween(weekdays, Date.parse('2026-03-06T12:00:00Z'), Date.parse('2026-03-09T05:00:00Z')), 2 * HOUR);
    assert.equal(workingMsBetween((d) => d !== dayNumber('2026-03-09') && weekdays(d), Date.parse('2026-03-06T12:00:00Z'), Date.parse('2026-03-10T05:00:00Z')), 2 * HOUR, 'a holiday counts nothing');
  });
});
