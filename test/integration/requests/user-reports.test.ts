import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testApp, type TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

// A user report is a source of failure (REQUIREMENTS §2.1): reports open or join their system's incident at once.

const MIN = 60_000;

async function file(t: TestApp, system: string, subject: string, body = 'Не работает') {
  const r = await t.app.http.inject({
    method: 'POST', url: '/report', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ system, contact: 'Айгүл', email: 'aigul@example.kz', subject, body }).toString(),
  });
  assert.ok(r.statusCode < 400, r.body);
}

const incidents = (t: TestApp) =>
  t.store.query<{ id: string; source: string; system: string; severity: string; status: string }>(
    `SELECT id, source, system, severity, status FROM incidents ORDER BY id`).then((r) => r.rows);
const links = (t: TestApp) =>
  t.store.query<{ incident_id: string | null }>('SELECT incident_id FROM requests ORDER BY id').then((r) => r.rows.map((x) => (x.incident_id === null ? null : Number(x.incident_id))));

describe(`user reports as a source of failure on ${storeKind}`, () => {
  it('three reports on one system within 15 minutes open one incident at once, linked to all three', async () => {
    const t = await testApp();
    try {
      await file(t, 'enbek', 'Поиск вакансий');
      t.clock.advance(6 * MIN);
      await file(t, 'enbek', 'Ошибка при поиске');
      assert.deepEqual(await incidents(t), [], 'two reports are not yet an outage');
      t.clock.advance(6 * MIN);
      await file(t, 'enbek', 'Не ищет');
      const inc = await incidents(t);
      assert.equal(inc.length, 1);
      assert.deepEqual([inc[0]!.source, inc[0]!.system, inc[0]!.severity, inc[0]!.status], ['user', 'enbek', 'major', 'open']);
      assert.deepEqual(await links(t), [Number(inc[0]!.id), Number(inc[0]!.id), Number(inc[0]!.id)]);
      // A fourth report joins the same incident.
      await file(t, 'enbek', 'Опять не работает');
      assert.equal((await incidents(t)).length, 1);
      assert.deepEqual((await links(t)).at(-1), Number(inc[0]!.id));
    } finally {
      await t.close();
    }
  });

  it('reports spread wider than the window open nothing', async () => {
    const t = await testApp();
    try {
      for (let i = 0; i < 3; i++) {
        await file(t, 'enbek', `Вопрос ${i}`);
        t.clock.advance(16 * MIN);
      }
      assert.deepEqual(await incidents(t), []);
    } finally {
      await t.close();
    }
  });

  it('one report in a critical category opens a critical incident', async () => {
    const t = await testApp();
    try {
      await file(t, 'integration-bus', 'Сайт не открывается', 'С утра сайт не открывается ни с одного компьютера');
      const inc = await incidents(t);
      assert.deepEqual(inc.map((i) => [i.source, i.system, i.severity]), [['user', 'integration-bus', 'critical']]);
    } finally {
      await t.close();
    }
  });

  it('a report filed shortly before an incident opens is linked to it when it opens', async () => {
    const t = await testApp();
    try {
      await file(t, 'integration-bus', 'Ошибка обмена');
      t.clock.advance(5 * MIN);
      const reporter = await t.token('reporter');
      const opened = await t.app.http.inject({
        method: 'POST', url: '/api/v1/incidents', headers: { authorization: `Bearer ${reporter}` },
        payload: { system: 'integration-bus', title: 'Шина не отвечает', severity: 'critical' },
      });
      assert.equal(opened.statusCode, 201, opened.body);
      const id = (await incidents(t))[0]!.id;
      assert.deepEqual(await links(t), [Number(id)]);
    } finally {
      await t.close();
    }
  });
});
