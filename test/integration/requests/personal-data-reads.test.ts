import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

// 002 §13.2: who read which request's personal data, and when, is in the audit trail; masked views are not reads.

describe(`reads of personal data are audited on ${storeKind}`, () => {
  it('records a reporter reading a request whole, and not a viewer reading it masked', async () => {
    const t = await testApp();
    try {
      const filed = await t.app.http.inject({
        method: 'POST', url: '/report', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ system: 'enbek', contact: 'Айгүл', email: 'aigul@example.kz', subject: 'Поиск', body: 'Не работает поиск' }).toString(),
      });
      assert.ok(filed.statusCode < 400, filed.body);
      const id = (await t.store.query<{ id: string }>('SELECT id FROM requests')).rows[0]!.id;
      const reporter = await t.token('reporter', 'aliya');
      const viewer = await t.token('viewer', 'vera');
      const get = (token: string, url: string) => t.app.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

      assert.equal((await get(viewer, `/api/v1/requests/${id}`)).statusCode, 200);
      assert.equal((await get(viewer, '/api/v1/requests')).statusCode, 200);
      const whole = await get(reporter, `/api/v1/requests/${id}`);
      assert.equal(whole.statusCode, 200);
      assert.match(whole.body, /aigul@example\.kz/, 'the reporter sees the address whole');
      assert.equal((await get(reporter, '/api/v1/requests')).statusCode, 200);

      let rows: Array<{ actor: string; target: string; detail: { requests: number[] } }> = [];
      for (let i = 0; i < 100 && rows.length < 2; i++) {
        rows = (await t.store.query<{ actor: string; target: string; detail: { requests: number[] } }>(
          `SELECT actor, target, detail FROM audit_log WHERE action = 'request.personal_data.read' ORDER BY id`)).rows;
        if (rows.length < 2) await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(rows.map((r) => [r.actor, r.target]), [['token:aliya', `request:${id}`], ['token:aliya', 'requests:1']]);
      assert.deepEqual(rows[1]!.detail.requests, [Number(id)]);
    } finally {
      await t.close();
    }
  });
});
