import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testApp, type TestApp } from '../../support/app.ts';
import { mailText } from '../../support/mail.ts';
import { storeKind } from '../../support/store.ts';

// A user's request runs on the escalation engine: its 50 % / 75 % warnings and its breach are durable timers
// that, for a request still unanswered, become signals on the request's own incident; answering resolves it.

const HOUR = 3_600_000;

describe(`request deadlines through escalation on ${storeKind}`, () => {
  let t: TestApp;
  let reporter: string;
  before(async () => {
    t = await testApp(); // the clock starts Mon 2 Mar 2026 09:00 Almaty
    reporter = await t.token('reporter', 'desk');
  });
  after(() => t.close());

  const api = (method: 'GET' | 'POST', url: string, json?: unknown) =>
    t.app.http.inject({ method, url, payload: json as object, headers: { authorization: `Bearer ${reporter}` } });
  const incident = async (id: number) =>
    (await t.store.query<{ status: string; severity: string; signal_count: number }>(`SELECT status, severity, signal_count FROM incidents WHERE fingerprint = $1`, [`request:${id}`])).rows;

  it('warns at 50 % and 75 %, breaches at the deadline, and resolves when answered', async () => {
    const filed = await t.app.http.inject({
      method: 'POST', url: '/report', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ system: 'enbek', contact: 'Айгүл', email: 'aigul@example.kz', subject: 'Поиск', body: 'Не работает поиск' }).toString(),
    });
    assert.ok(filed.statusCode < 400, filed.body);
    const req = (await t.store.query<{ id: number; due_at: Date }>('SELECT id, due_at FROM requests ORDER BY id DESC LIMIT 1')).rows[0]!;
    // 3 working days after Mon 2 Mar: Thu 5 Mar 18:00 Almaty = 13:00 UTC.
    assert.equal(new Date(req.due_at).toISOString(), '2026-03-05T13:00:00.000Z');
    const timers = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM timers WHERE subject_kind = 'request' AND subject_id = $1 AND state = 'pending'`, [req.id])).rows[0]!.n;
    assert.equal(timers, 3, 'two warnings and the breach');

    assert.equal(await t.app.escalation.escalator.sweep(), 0, 'nothing is due yet');
    assert.deepEqual(await incident(req.id), []);
    t.clock.advance(41 * HOUR); // past 50 % of 81 h: Tue 3 Mar 20:00 Almaty, outside working hours
    await t.app.escalation.escalator.sweep();
    assert.deepEqual(await incident(req.id), [], 'the warning waits for the next working morning');
    t.clock.advance(13 * HOUR); // Wed 4 Mar 09:00
    await t.app.escalation.escalator.sweep();
    assert.deepEqual((await incident(req.id)).map((i) => [i.status, i.severity]), [['open', 'warning']]);
    t.clock.advance(7 * HOUR); // past 75 %: Wed 16:00 + … = Wed 22:00 Almaty, deferred to Thu 09:00
    await t.app.escalation.escalator.sweep();
    assert.deepEqual((await incident(req.id)).map((i) => i.severity), ['warning']);
    t.clock.advance(11 * HOUR); // Thu 5 Mar 09:00
    await t.app.escalation.escalator.sweep();
    assert.deepEqual((await incident(req.id)).map((i) => i.severity), ['major']);
    t.clock.advance(10 * HOUR); // Thu 19:00: past the deadline (18:00); a breach is never deferred
    await t.app.escalation.escalator.sweep();
    const breached = await incident(req.id);
    assert.deepEqual(breached.map((i) => [i.status, i.severity, i.signal_count]), [['open', 'critical', 3]]);

    assert.equal((await api('POST', `/api/v1/requests/${req.id}/acknowledge`, {})).statusCode, 200);
    const ans = await api('POST', `/api/v1/requests/${req.id}/answer`, { answer: 'Поиск восстановлен' });
    assert.equal(ans.statusCode, 200, ans.body);
    assert.deepEqual((await incident(req.id)).map((i) => i.status), ['resolved']);
    const left = (await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM timers WHERE subject_kind = 'request' AND subject_id = $1 AND state = 'pending'`, [req.id])).rows[0]!.n;
    assert.equal(left, 0);
  });

  it('an answered request raises nothing when its timers come due', async () => {
    await t.app.http.inject({
      method: 'POST', url: '/report', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ system: 'enbek', contact: 'B', email: 'b@example.kz', subject: 's', body: 'b' }).toString(),
    });
    const id = (await t.store.query<{ id: number }>('SELECT id FROM requests ORDER BY id DESC LIMIT 1')).rows[0]!.id;
    assert.equal((await api('POST', `/api/v1/requests/${id}/acknowledge`, {})).statusCode, 200);
    assert.equal((await api('POST', `/api/v1/requests/${id}/answer`, { answer: 'done' })).statusCode, 200);
    t.clock.advance(200 * HOUR);
    await t.app.escalation.escalator.sweep();
    assert.deepEqual(await incident(id), []);
  });
});

describe(`mails to the user through a real SMTP server on ${storeKind}`, () => {
  it('the acknowledgement leaves at receipt and the answer when given, in the form\'s language', async () => {
    const { TEST_CONFIG } = await import('../../support/app.ts');
    const { smtpStandIn } = await import('../notify/stand-ins.ts');
    const smtp = await smtpStandIn();
    const t = await testApp(`${TEST_CONFIG}escalation:\n  channels:\n    mail: { type: email, host: 127.0.0.1, port: ${smtp.port}, from: kuzet@example.kz, timeout: 5s }\n`);
    try {
      const reporter = await t.token('reporter');
      const filed = await t.app.http.inject({
        method: 'POST', url: '/report?lang=kk', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ system: 'enbek', contact: 'Айгүл', email: 'aigul@example.kz', subject: 'Іздеу', body: 'Іздеу жұмыс істемейді', lang: 'kk' }).toString(),
      });
      assert.ok(filed.statusCode < 400, filed.body);
      const id = (await t.store.query<{ id: number }>('SELECT id FROM requests ORDER BY id DESC LIMIT 1')).rows[0]!.id;
      assert.equal(await t.app.escalation.worker.runOnce(), 1);
      assert.equal(smtp.mails.length, 1, 'the acknowledgement leaves at receipt, before any specialist acts');
      const receipt = smtp.mails[0]!;
      assert.deepEqual(receipt.to, ['aigul@example.kz']);
      const body = mailText(receipt.data).text;
      assert.match(body, /R-2026-\d{6}/, 'the request number is in the mail');
      assert.match(body, /2026-03-05 18:00, бейсенбі/, 'so is the due date with its weekday, in Kazakh');
      assert.match(body, /3 жұмыс күні \(000 §7\)/, 'and the rule that set it');

      const ack = await t.app.http.inject({ method: 'POST', url: `/api/v1/requests/${id}/acknowledge`, payload: {}, headers: { authorization: `Bearer ${reporter}` } });
      assert.equal(ack.statusCode, 200, ack.body);
      assert.equal(await t.app.escalation.worker.runOnce(), 0, 'acknowledging mails nothing more');
      const ans = await t.app.http.inject({ method: 'POST', url: `/api/v1/requests/${id}/answer`, payload: { answer: 'Іздеу қалпына келтірілді' }, headers: { authorization: `Bearer ${reporter}` } });
      assert.equal(ans.statusCode, 200, ans.body);
      assert.equal(await t.app.escalation.worker.runOnce(), 1);
      assert.equal(smtp.mails.length, 2);
      assert.match(mailText(smtp.mails[1]!.data).text, /Іздеу қалпына келтірілді/);
    } finally {
      await t.close();
      await smtp.close();
    }
  });
});
