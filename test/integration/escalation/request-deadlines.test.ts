import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testApp, type TestApp } from '../../support/app.ts';
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
    t.clock.advance(41 * HOUR); // past 50 % of 81 h
    await t.app.escalation.escalator.sweep();
    assert.deepEqual((await incident(req.id)).map((i) => [i.status, i.severity]), [['open', 'warning']]);
    t.clock.advance(20 * HOUR); // past 75 %
    await t.app.escalation.escalator.sweep();
    t.clock.advance(21 * HOUR); // past the deadline
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

describe(`request acknowledgement e-mail on ${storeKind}`, () => {
  it('is written to the outbox in the user\'s language, with the acknowledgement', async () => {
    const { TEST_CONFIG } = await import('../../support/app.ts');
    const t = await testApp(`${TEST_CONFIG}escalation:\n  channels:\n    mail: { type: email, host: 127.0.0.1, port: 2525, from: kuzet@example.kz }\n`);
    try {
      const reporter = await t.token('reporter');
      await t.app.http.inject({
        method: 'POST', url: '/report?lang=kk', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ system: 'enbek', contact: 'Айгүл', email: 'aigul@example.kz', subject: 'Іздеу', body: 'Іздеу жұмыс істемейді', lang: 'kk' }).toString(),
      });
      const id = (await t.store.query<{ id: number }>('SELECT id FROM requests ORDER BY id DESC LIMIT 1')).rows[0]!.id;
      const ack = await t.app.http.inject({ method: 'POST', url: `/api/v1/requests/${id}/acknowledge`, payload: {}, headers: { authorization: `Bearer ${reporter}` } });
      assert.equal(ack.statusCode, 200, ack.body);
      const rows = (await t.store.query<{ channel: string; recipient: { address: string }; message: { kind: string; mail: { subject: string; text: string } }; lang: string }>(
        `SELECT channel, recipient, message, lang FROM outbox WHERE subject_kind = 'request' AND subject_id = $1`, [id])).rows;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.channel, 'mail');
      assert.equal(rows[0]!.lang, 'kk', 'the form was filed in Kazakh');
      assert.equal(rows[0]!.recipient.address, 'aigul@example.kz');
      assert.equal(rows[0]!.message.kind, 'mail');
      assert.match(rows[0]!.message.mail.text, /R-2026-\d{6}/, 'the request number is in the mail');
      assert.match(rows[0]!.message.mail.text, /2026-03-05/, 'so is the due date');
    } finally {
      await t.close();
    }
  });
});
