import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { storeKind } from '../../support/store.ts';
import { pdApp, type PdApp } from './pd-fixture.ts';

// Issue 12, items 1 and 2: an acknowledge link exists only in the message sent to its person (no API answer,
// log line or metric holds it), acknowledging by link records that person, and an incident's views never list
// the notifications of the user request that happens to have the same id.

describe(`acknowledge links and subject scoping on ${storeKind}`, () => {
  let t: PdApp;
  before(async () => {
    t = await pdApp();
  });
  after(async () => t?.close());

  it('a viewer or soc token finds no acknowledge link anywhere; the link from the mail acknowledges as alice', async () => {
    const [reporter, viewer, soc, admin] = await Promise.all([t.token('reporter'), t.token('viewer'), t.token('soc'), t.token('admin')]);
    const api = (token: string, url: string) => t.app.http.inject({ url, headers: { authorization: `Bearer ${token}` } });
    const opened = await t.app.http.inject({
      method: 'POST', url: '/api/v1/incidents', headers: { authorization: `Bearer ${reporter}` },
      payload: { system: 'enbek', title: 'vacancy search returns 502', severity: 'critical' },
    });
    assert.equal(opened.statusCode, 201, opened.body);
    const id = opened.json().id as number;
    await t.deliver();

    // The page reached alice by mail with a link; bob's webhook refused his (400): a dead letter.
    const mail = t.sent().find((m) => m.to === 'alice@example.kz');
    assert.ok(mail, 'alice was paged by mail');
    const link = /\/ack\/(\S+)/.exec(mail.text)?.[1];
    assert.ok(link, `the page carries an acknowledge link:\n${mail.text}`);
    const secret = link.split('.').slice(2).join('.'); // nonce, expiry and signature: what makes the link work
    const dead = await api(admin, '/api/v1/notifications/dead-letters');
    assert.equal(dead.json().items.length, 1, 'bob\'s page is a dead letter');

    const views = [
      '/api/v1/incidents', `/api/v1/incidents/${id}`, `/api/v1/incidents/${id}/escalation`, '/api/v1/notifications/dead-letters',
      '/api/v1/oncall', '/api/v1/silences', '/api/v1/requests',
    ];
    for (const token of [viewer, soc, admin]) {
      for (const url of views) {
        const r = await api(token, url);
        assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
        assert.ok(!r.body.includes(secret) && !r.body.includes('/api/v1/ack/') && !r.body.includes('/ack/'), `${url} holds no acknowledge link: ${r.body.slice(0, 400)}`);
      }
    }
    const metrics = await t.app.http.inject({ url: '/metrics' });
    assert.ok(!metrics.body.includes(secret));

    // Anyone holding the link (and only the link) acknowledges; the incident names the person it was sent to.
    const ack = await t.app.http.inject({ method: 'POST', url: `/api/v1/ack/${link}` });
    assert.equal(ack.statusCode, 200, ack.body);
    const inc = (await api(viewer, `/api/v1/incidents/${id}`)).json();
    assert.equal(inc.status, 'acknowledged');
    assert.equal(inc.acknowledged_by, 'alice', 'the person the link was sent to, not "ack-link"');
    assert.equal((await t.app.http.inject({ method: 'POST', url: `/api/v1/ack/${link}` })).statusCode, 409, 'single use');

    // The audit log (admin) records the acknowledgement without the link; no log line holds it either.
    await t.app.stop();
    const rows = (await t.store.query<{ actor: string; target: string | null; detail: unknown }>('SELECT actor, target, detail FROM audit_log')).rows;
    assert.ok(rows.some((r) => r.actor === 'alice'), 'audited as alice');
    assert.ok(!JSON.stringify(rows).includes(secret), `no audit row holds the link: ${JSON.stringify(rows)}`);
    assert.ok(!(await t.logText()).includes(secret), 'no log line holds the link');
  });
});

describe(`an incident's views and the request with the same id on ${storeKind}`, () => {
  let t: PdApp;
  before(async () => {
    t = await pdApp();
  });
  after(async () => t?.close());

  it('incident 1 lists only its own notifications, never the mail to the user of request 1', async () => {
    const [reporter, viewer, admin] = await Promise.all([t.token('reporter'), t.token('viewer'), t.token('admin')]);
    const call = (token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.http.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });
    const inc = await call(reporter, 'POST', '/api/v1/incidents', { system: 'enbek', title: 'login page down', severity: 'critical' });
    const req = await call(reporter, 'POST', '/api/v1/requests', {
      system: 'enbek', contact: 'Aigerim', email: 'aigerim.user@mail.kz', subject: 'cannot log in', body: 'the page does not open',
    });
    assert.equal(req.statusCode, 201, req.body);
    const incidentId = inc.json().id as number;
    const requestId = req.json().request.id as number;
    assert.equal(incidentId, requestId, 'the ids collide (both tables start at 1)');
    assert.equal((await call(reporter, 'POST', `/api/v1/requests/${requestId}/acknowledge`)).statusCode, 200);
    await t.deliver();
    assert.ok(t.sent().some((m) => m.to === 'aigerim.user@mail.kz'), 'the user got the acknowledgement mail');

    for (const token of [viewer, admin]) {
      const view = (await call(token, 'GET', `/api/v1/incidents/${incidentId}/escalation`)).json() as {
        notifications: Array<{ subjectKind: string; subjectId: number; recipient: { address?: string } }>;
      };
      assert.ok(view.notifications.length >= 2, 'the pages to alice and bob are listed');
      assert.deepEqual([...new Set(view.notifications.map((n) => `${n.subjectKind}:${n.subjectId}`))], [`incident:${incidentId}`]);
      assert.ok(!JSON.stringify(view).includes('aigerim'), 'the user\'s address is not in the incident\'s view');
    }
  });
});
