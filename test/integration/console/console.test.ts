import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { listForConsole } from '../../../src/console/queries.ts';
import { signRequestStatus } from '../../../src/console/request-status.ts';
import { consoleApp, decodeMail, postAlert, signIn, alert, ACK_SECRET } from '../../support/console.ts';
import type { TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';
import { smtpStandIn } from '../notify/stand-ins.ts';

// The console over HTTP on the whole app: sessions, CSRF, roles, the incident page, acknowledge links, the public
// status page and the users' request status page.

const form = (o: Record<string, string>) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(o).toString() });
const post = (t: TestApp, url: string, cookie: string, body: Record<string, string>) =>
  t.app.http.inject({ method: 'POST', url, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(body).toString() });

// Personal data filed in the fixtures: a user's request and the on-call people's addresses.
const PERSONAL = {
  full_name: 'Асқар Бекұлы', iin: '850115300011', login: 'askar85', phone: '+7 701 123 45 67', email: 'askar@example.kz',
};
const STAFF = ['alice.oncall@example.kz', 'bob.second@example.kz', 'Alice Oncall', 'Bob Second'];

describe(`console on ${storeKind}`, { timeout: 120_000 }, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof smtpStandIn>>;
  let soc: string;
  let oncall: string;
  let viewer: string;

  before(async () => {
    smtp = await smtpStandIn();
    t = await consoleApp(smtp.port);
    soc = await t.token('soc', 'prometheus');
    oncall = await t.token('oncall', 'aigerim');
    viewer = await t.token('viewer', 'auditor');
  });
  after(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('sends visitors without a session to /login?next=…, and signs in for an httpOnly SameSite=Strict cookie stored hashed', async () => {
    const r = await t.app.http.inject({ url: '/incidents/7?lang=kk' });
    assert.equal(r.statusCode, 303);
    assert.equal(r.headers.location, `/login?next=${encodeURIComponent('/incidents/7?lang=kk')}`);

    const login = await t.app.http.inject({ url: '/login?next=%2Fincidents%2F7' });
    assert.equal(login.statusCode, 200);
    assert.match(login.body, /<label for="token">/);
    assert.match(login.body, /name="next" value="\/incidents\/7"/);
    const pre = /kuzet_login_csrf=([^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const send = (body: Record<string, string>, cookie = `kuzet_login_csrf=${pre}`) =>
      t.app.http.inject({ method: 'POST', url: '/login', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(body).toString() });

    const bad = await send({ _csrf: csrf, token: 'kzt_nope', next: '/incidents/7' });
    assert.equal(bad.statusCode, 401);
    assert.match(bad.body, /Токен не подходит/);
    const forged = await send({ _csrf: 'x'.repeat(43), token: oncall, next: '/incidents/7' });
    assert.equal(forged.statusCode, 403, 'a login form that did not come from the page is refused');
    const offsite = await send({ _csrf: csrf, token: oncall, next: '//evil.example/' });
    assert.equal(offsite.statusCode, 303);
    assert.equal(offsite.headers.location, '/incidents', 'next never leaves the site');

    const ok = await send({ _csrf: csrf, token: oncall, next: '/incidents/7' });
    assert.equal(ok.statusCode, 303);
    assert.equal(ok.headers.location, '/incidents/7');
    const cookie = ([] as string[]).concat(ok.headers['set-cookie'] as string[]).find((c) => c.startsWith('kuzet_session='))!;
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.match(cookie, /; Path=\//);
    assert.match(cookie, /; Max-Age=43200/);
    assert.doesNotMatch(cookie, /Secure/, 'plain http here; https public addresses get Secure (below)');
    const id = /kuzet_session=([^;]+)/.exec(cookie)![1]!;
    const rows = (await t.store.query<{ id_hash: string; name: string; role: string }>('SELECT id_hash, name, role FROM console_sessions')).rows;
    assert.ok(rows.some((r) => r.id_hash === createHash('sha256').update(id).digest('hex') && r.name === 'aigerim' && r.role === 'oncall'));
    assert.ok(!rows.some((r) => r.id_hash === id), 'the session id itself is never stored');

    // Sign-out ends the session: the same cookie no longer opens a page.
    const page = await t.app.http.inject({ url: '/incidents', headers: { cookie: `kuzet_session=${id}` } });
    assert.equal(page.statusCode, 200);
    const pageCsrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const out = await post(t, '/logout', `kuzet_session=${id}`, { _csrf: pageCsrf });
    assert.equal(out.statusCode, 303);
    assert.match(String(out.headers['set-cookie']), /kuzet_session=; .*Max-Age=0/);
    assert.equal((await t.app.http.inject({ url: '/incidents', headers: { cookie: `kuzet_session=${id}` } })).statusCode, 303);
  });

  it('marks the cookie Secure when the public address is https', async () => {
    const s2 = await smtpStandIn();
    const t2 = await consoleApp(s2.port, 'https://kuzet.example.kz');
    try {
      const login = await t2.app.http.inject({ url: '/login' });
      assert.match(String(login.headers['set-cookie']), /; Secure/);
      const tok = await t2.token('viewer');
      const pre = /kuzet_login_csrf=([^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)![1]!;
      const ok = await t2.app.http.inject({ method: 'POST', url: '/login', headers: { cookie: `kuzet_login_csrf=${pre}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ _csrf: csrf, token: tok }).toString() });
      assert.match(([] as string[]).concat(ok.headers['set-cookie'] as string[]).find((c) => c.startsWith('kuzet_session='))!, /HttpOnly; SameSite=Strict; Max-Age=\d+; Secure/);
    } finally {
      await t2.close();
      await s2.close();
    }
  });

  it('refuses a form without the session CSRF token, and a role that may not, changing nothing', async () => {
    await postAlert(t, soc, [alert({ labels: { alertname: 'CsrfProbe', system: 'nqs', severity: 'major' } })]);
    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM incidents WHERE check_name = 'CsrfProbe'`)).rows[0]!.id);
    const s = await signIn(t, oncall);
    for (const body of [{}, { _csrf: 'x'.repeat(43) }, { _csrf: '' }] as Array<Record<string, string>>) {
      const r = await post(t, `/incidents/${id}/ack`, s.cookie, body);
      assert.equal(r.statusCode, 403, JSON.stringify(body));
      assert.match(r.headers['content-type'] as string, /text\/html/);
      assert.match(r.body, /Форма устарела/);
    }
    const v = await signIn(t, viewer);
    const pageOf = async (cookie: string) => (await t.app.http.inject({ url: `/incidents/${id}`, headers: { cookie } })).body;
    const viewerPage = await pageOf(v.cookie);
    assert.doesNotMatch(viewerPage, /<form method="post" action="\/incidents\/\d+\//, 'a viewer is offered no form it may not send');
    assert.match(await pageOf(s.cookie), /id="ack-button"/, 'on call is offered the acknowledge form');
    const r = await post(t, `/incidents/${id}/ack`, v.cookie, { _csrf: v.csrf });
    assert.equal(r.statusCode, 403);
    assert.match(r.body, /viewer → oncall/);
    const st = (await t.store.query<{ status: string }>('SELECT status FROM incidents WHERE id = $1', [id])).rows[0]!.status;
    assert.equal(st, 'open', 'nothing was acknowledged');
    // Audit rows are written by a group committer: wait (bounded) until the four refusals are in.
    let refused = { rows: [] as Array<{ outcome: string }> };
    for (let i = 0; i < 100 && refused.rows.length < 4; i++) {
      refused = await t.store.query<{ outcome: string }>(`SELECT outcome FROM audit_log WHERE action = 'POST /incidents/:id/ack' ORDER BY id`);
      if (refused.rows.length < 4) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(refused.rows.map((x) => x.outcome), ['403', '403', '403', '403'], 'refusals are audited too');
  });

  it('shows an alert\'s incident with its notification rows and no acknowledge link, and acknowledges as the signed-in person', async () => {
    await postAlert(t, soc);
    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM incidents WHERE check_name = 'EnbekDown'`)).rows[0]!.id);
    await t.app.escalation.escalator.sweep();
    await t.app.escalation.worker.runOnce();
    const s = await signIn(t, oncall);
    const list = await t.app.http.inject({ url: '/incidents', headers: { cookie: s.cookie } });
    assert.match(list.body, new RegExp(`href="/incidents/${id}"`));
    const page = await t.app.http.inject({ url: `/incidents/${id}`, headers: { cookie: s.cookie } });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<tr class="tl-notification" data-state="st_sent">.*Канал: mail · <strong>отправлено<\/strong>.*<td class="person">alice<\/td>/);
    assert.match(page.body, /id="deadlines"/);
    assert.match(page.body, /30 мин осталось/);
    const mailed = decodeMail(smtp.mails.at(-1)!.data);
    const ackToken = /\/ack\/(\S+)/.exec(mailed)![1]!;
    assert.ok(!page.body.includes(ackToken.split('.')[2]!), 'the page never carries an acknowledge token');
    assert.doesNotMatch(page.body, /\/ack\//);

    const ack = await post(t, `/incidents/${id}/ack?lang=kk`, s.cookie, { _csrf: s.csrf, note: 'on it' });
    assert.equal(ack.statusCode, 303);
    assert.equal(ack.headers.location, `/incidents/${id}?done=ack&lang=kk`);
    const inc = (await t.store.query<{ status: string; acknowledged_by: string }>('SELECT status, acknowledged_by FROM incidents WHERE id = $1', [id])).rows[0]!;
    assert.deepEqual(inc, { status: 'acknowledged', acknowledged_by: 'token:aigerim' });
    // The audit writer commits in groups, after the answer: wait for its row (bounded).
    const auditRows = () => t.store.query<{ actor: string; outcome: string }>(`SELECT actor, outcome FROM audit_log WHERE action = 'POST /incidents/:id/ack' AND target = $1`, [`/incidents/${id}/ack`]);
    for (let i = 0; i < 200 && !(await auditRows()).rowCount; i++) await new Promise((r) => setImmediate(r));
    const audit = await auditRows();
    assert.deepEqual(audit.rows, [{ actor: 'token:aigerim', outcome: '303' }]);
    const shown = await t.app.http.inject({ url: `/incidents/${id}?lang=kk`, headers: { cookie: s.cookie } });
    assert.match(shown.body, /id="acked-by">token:aigerim/);
    assert.match(shown.body, /<tr class="tl-event" data-kind="acknowledged"><td>[^<]+<\/td><td>қабылданды<br>жазба: on it<\/td><td>token:aigerim<\/td>/, 'the timeline in the page\'s language (kk)');
    assert.doesNotMatch(shown.body.slice(shown.body.indexOf('id="timeline"')), />(opened|acknowledged|firing)</, 'no engine word shown raw');
    assert.doesNotMatch(shown.body, /id="ack-button"/, 'no acknowledge button once acknowledged');

    const note = await post(t, `/incidents/${id}/note`, s.cookie, { _csrf: s.csrf, text: '' });
    assert.equal(note.statusCode, 400);
    assert.match(note.body, /text:/);
    const missing = await t.app.http.inject({ url: '/incidents/999999', headers: { cookie: s.cookie } });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.body, /<html lang="ru">/);
  });

  it('the acknowledge link shows the summary, acknowledges as the person it was sent to, and answers refusals as pages', async () => {
    await postAlert(t, soc, [alert({ labels: { alertname: 'LinkProbe', system: 'enbek', severity: 'critical', runbook: 'portal-unavailable' } })]);
    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM incidents WHERE check_name = 'LinkProbe'`)).rows[0]!.id);
    await t.app.escalation.escalator.sweep();
    const before = smtp.mails.length;
    await t.app.escalation.worker.runOnce();
    const mail = decodeMail(smtp.mails.slice(before).find((m) => decodeMail(m.data).includes(`/incidents/${id}`))!.data);
    const link = new URL(/http:\/\/kuzet\.test\/ack\/\S+/.exec(mail)![0]);
    const view = await t.app.http.inject({ url: `${link.pathname}?lang=kk` });
    assert.equal(view.statusCode, 200);
    assert.match(view.body, /<html lang="kk">/);
    assert.match(view.body, /id="ack-person">alice</);
    assert.match(view.body, /LinkProbe|enbek\.kz does not answer/);
    assert.equal((await t.store.query(`SELECT 1 FROM ack_link_uses`)).rowCount, 0, 'viewing does not acknowledge');
    const ok = await t.app.http.inject({ method: 'POST', url: link.pathname });
    assert.equal(ok.statusCode, 200);
    assert.match(ok.body, /id="ack-done"/);
    const inc = (await t.store.query<{ acknowledged_by: string }>('SELECT acknowledged_by FROM incidents WHERE id = $1', [id])).rows[0]!;
    assert.equal(inc.acknowledged_by, 'alice');
    // Its page shows the runbook the label names, every numbered step of it.
    const s = await signIn(t, oncall);
    const page = await t.app.http.inject({ url: `/incidents/${id}`, headers: { cookie: s.cookie } });
    const rb = /<div class="card" id="runbook"><strong>([^<]+)<\/strong> <span class="muted">\(portal-unavailable\)<\/span><ol>([\s\S]*?)<\/ol>/.exec(page.body);
    assert.ok(rb, 'the runbook is shown');
    const steps = [...rb[2]!.matchAll(/<li>/g)].length;
    const file = readFileSync(new URL('../../../runbooks/portal-unavailable.md', import.meta.url), 'utf8');
    assert.equal(steps, [...file.matchAll(/^\s*\d+\.\s+/gm)].length);
    assert.match(page.body, /<td class="person">alice<\/td>/);
    assert.match(page.body, /acknowledged from a notification link/);
    const used = await t.app.http.inject({ method: 'POST', url: link.pathname });
    assert.equal(used.statusCode, 409);
    assert.match(used.headers['content-type'] as string, /text\/html/);
    assert.match(used.body, /уже использована/);
    const forged = await t.app.http.inject({ url: `/ack/${id}.1.AAAAAAAAAAAA.9999999999999.forged` });
    assert.equal(forged.statusCode, 403);
    assert.match(forged.body, /недействительна/);
    assert.equal((await t.app.http.inject({ url: '/ack/nonsense' })).statusCode, 400);
  });

  it('/status shows states and staff notes, never raw alert text or any personal datum filed', async () => {
    const filed = await t.app.http.inject({ method: 'POST', url: '/report?lang=kk', ...form({ lang: 'kk', system: 'nqs', ...PERSONAL, subject: 'Кіру', body: 'Кіру мүмкін емес' }) });
    assert.ok(filed.statusCode < 400, filed.body);
    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM incidents WHERE check_name = 'EnbekDown'`)).rows[0]!.id);
    const s = await signIn(t, oncall);
    const note = await post(t, `/incidents/${id}/public-note`, s.cookie, { _csrf: s.csrf, text: 'Поиск вакансий недоступен, работаем над восстановлением' });
    assert.equal(note.statusCode, 303);
    t.clock.advance(6_000); // past the page cache
    for (const lang of ['ru', 'kk', 'en']) {
      const r = await t.app.http.inject({ url: `/status?lang=${lang}` });
      assert.equal(r.statusCode, 200);
      assert.match(r.headers['cache-control'] as string, /public, max-age=5/);
      assert.equal(r.headers['set-cookie'], undefined, 'the public page sets no cookie');
      assert.match(r.body, new RegExp(`<html lang="${lang}">`));
      assert.match(r.body, /data-system="enbek" data-state="down"/);
      assert.match(r.body, /data-system="nqs" data-state="degraded"/);
      assert.match(r.body, /data-system="integration-bus" data-state="operational"/);
      assert.match(r.body, /Поиск вакансий недоступен/);
      assert.doesNotMatch(r.body, /does not answer|EnbekDown|CsrfProbe|enbek\.kz:443/, 'no raw alert text');
      for (const datum of [...Object.values(PERSONAL), ...STAFF, 'aigerim', 'alice', 'R-20']) assert.ok(!r.body.includes(datum), `${lang}: /status shows ${datum}`);
      const again = await t.app.http.inject({ url: `/status?lang=${lang}`, headers: { 'if-none-match': r.headers.etag as string } });
      assert.equal(again.statusCode, 304, 'an unchanged page is not sent again');
    }
    // The page is kept for 5 s: a new note shows once that has passed.
    const second = await post(t, `/incidents/${id}/public-note`, s.cookie, { _csrf: s.csrf, text: 'Восстановлено частично' });
    assert.equal(second.statusCode, 303);
    assert.doesNotMatch((await t.app.http.inject({ url: '/status?lang=ru' })).body, /Восстановлено частично/);
    t.clock.advance(5_000);
    assert.match((await t.app.http.inject({ url: '/status?lang=ru' })).body, /Восстановлено частично/);
  });

  it('the user\'s status link from the receipt mail opens the status; a number and e-mail find it too', async () => {
    const before = smtp.mails.length;
    const filed = await t.app.http.inject({ method: 'POST', url: '/report?lang=ru', ...form({ lang: 'ru', system: 'enbek', contact: 'Айгүл', email: 'aigul@example.kz', subject: 'Поиск', body: 'Поиск не работает' }) });
    assert.ok(filed.statusCode < 400, filed.body);
    await t.app.escalation.worker.runOnce();
    const receipt = smtp.mails.slice(before).map((m) => decodeMail(m.data)).find((m) => m.includes('/request-status?t='))!;
    assert.ok(receipt, 'the receipt carries the status link');
    const url = new URL(/http:\/\/kuzet\.test\/request-status\?t=\S+/.exec(receipt)![0]);
    const number = /R-\d{4}-\d{6}/.exec(receipt)![0];
    const page = await t.app.http.inject({ url: url.pathname + url.search });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, new RegExp(`id="request-number">${number}<`));
    assert.match(page.body, /id="request-due">\d{4}-\d\d-\d\d \d\d:\d\d, (понедельник|вторник|среда|четверг|пятница|суббота|воскресенье)/);
    assert.match(page.body, /id="request-rule">[^<]+/);
    assert.match(page.body, /Ответа пока нет/);
    assert.ok(!page.body.includes('aigul@example.kz') && !page.body.includes('Айгүл'), 'no personal data on the status page');

    const enbekId = Number((await t.store.query<{ id: number }>(`SELECT incident_id AS id FROM requests WHERE number = $1`, [number])).rows[0]!.id);
    const staff = await signIn(t, oncall);
    const incPage = await t.app.http.inject({ url: `/incidents/${enbekId}`, headers: { cookie: staff.cookie } });
    assert.match(incPage.body, new RegExp(`<li>${number} · trouble · получено`), 'the incident page lists the linked user request');

    const forged = await t.app.http.inject({ url: `/request-status?t=${encodeURIComponent(signRequestStatus('wrong-secret', number))}` });
    assert.equal(forged.statusCode, 404);
    assert.ok(signRequestStatus(ACK_SECRET, number).length > number.length);

    const rid = Number((await t.store.query<{ id: number }>('SELECT id FROM requests WHERE number = $1', [number])).rows[0]!.id);
    const rep = await t.token('reporter', 'specialist');
    await t.app.http.inject({ method: 'POST', url: `/api/v1/requests/${rid}/acknowledge`, payload: {}, headers: { authorization: `Bearer ${rep}` } });
    await t.app.http.inject({ method: 'POST', url: `/api/v1/requests/${rid}/answer`, payload: { answer: 'Поиск восстановлен' }, headers: { authorization: `Bearer ${rep}` } });

    const lookup = await t.app.http.inject({ url: '/request-status?lang=kk' });
    assert.match(lookup.body, /<label for="number">/);
    assert.match(lookup.body, /<label for="email">/);
    const pre = /kuzet_rs_csrf=([^;]+)/.exec(String(lookup.headers['set-cookie']))![1]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(lookup.body)![1]!;
    const find = (email: string, c = csrf) => t.app.http.inject({ method: 'POST', url: '/request-status?lang=kk', headers: { cookie: `kuzet_rs_csrf=${pre}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ _csrf: c, number, email }).toString() });
    const wrong = await find('someone@example.kz');
    assert.equal(wrong.statusCode, 404);
    const nocsrf = await find('aigul@example.kz', 'x');
    assert.equal(nocsrf.statusCode, 403);
    const found = await find('AIGUL@example.kz');
    assert.equal(found.statusCode, 200);
    assert.match(found.body, /id="request-answer">Поиск восстановлен/);
    assert.match(found.body, /жауап берілді/);
  });

  it('a session reads API documents (report downloads) but never changes state without a token; revoking the token ends it', async () => {
    const tok = await t.token('viewer', 'reader');
    const s = await signIn(t, tok);
    const read = await t.app.http.inject({ url: '/api/v1/oncall', headers: { cookie: s.cookie } });
    assert.equal(read.statusCode, 200, read.body);
    const write = await t.app.http.inject({ method: 'POST', url: '/api/v1/incidents', headers: { cookie: s.cookie, 'content-type': 'application/json' }, payload: JSON.stringify({ system: 'enbek', title: 'x' }) });
    assert.equal(write.statusCode, 401, 'a cookie never authorizes a change through the API');
    assert.equal((await t.app.http.inject({ url: '/api/v1/tokens', headers: { cookie: s.cookie } })).statusCode, 403, 'and only what the role may read');
    for (let i = 0; i < 200 && !(await t.store.query(`SELECT 1 FROM audit_log WHERE action = 'POST /login' AND actor = 'token:reader'`)).rowCount; i++) await new Promise((r) => setImmediate(r));
    assert.equal((await t.store.query(`SELECT 1 FROM audit_log WHERE action = 'POST /login' AND actor = 'token:reader' AND outcome = '303'`)).rowCount, 1, 'the sign-in is audited as the person');

    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM api_tokens WHERE name = 'reader'`)).rows[0]!.id);
    const admin = await t.token('admin', 'boss');
    assert.equal((await t.app.http.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: { authorization: `Bearer ${admin}` } })).statusCode, 200);
    const after = await t.app.http.inject({ url: '/incidents', headers: { cookie: s.cookie } });
    assert.equal(after.statusCode, 303, 'a revoked token\'s session is over');
    assert.match(after.headers.location as string, /^\/login\?next=/);
  });

  it('lists open incidents first, newest first, paging by keyset', async () => {
    const resolved = Number((await t.store.query<{ id: number }>(`SELECT id FROM incidents WHERE check_name = 'LinkProbe'`)).rows[0]!.id);
    await t.app.engine.resolve(resolved, 'test');
    const all: number[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await listForConsole(t.store, { limit: 1, after });
      all.push(...page.items.map((x) => x.id));
      if (!page.next) break;
      after = page.next;
    }
    const rows = (await t.store.query<{ id: number; status: string }>('SELECT id, status FROM incidents')).rows.map((r) => ({ id: Number(r.id), open: r.status !== 'resolved' }));
    const want = [...rows.filter((r) => r.open).map((r) => r.id).sort((a, b) => b - a), ...rows.filter((r) => !r.open).map((r) => r.id).sort((a, b) => b - a)];
    assert.deepEqual(all, want);
    assert.equal(all.at(-1), resolved);
    const onlyResolved = await listForConsole(t.store, { status: 'resolved' });
    assert.deepEqual(onlyResolved.items.map((x) => x.id), [resolved]);
  });
});
