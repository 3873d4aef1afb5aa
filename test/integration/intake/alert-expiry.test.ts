import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createToken } from '../../../src/access/tokens.ts';
import { createApp } from '../../../src/app.ts';
import { FakeClock } from '../../../src/clock.ts';
import { nullLogger } from '../../../src/log.ts';
import { testApp, TEST_CONFIG, type TestApp } from '../../support/app.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { tmpTree } from '../../support/tmp.ts';

// Alerts from the Alertmanager API expire: at endsAt when it is set and not moved by a re-send, else
// intake.alertmanager.resolve_timeout after the last send. Time moves only on the injected clock.

const ZERO = '0001-01-01T00:00:00Z';

describe(`Alertmanager alerts expire without a re-send, on ${storeKind}`, () => {
  let t: TestApp;
  let soc: string;
  before(async () => {
    t = await testApp(`${TEST_CONFIG}intake:\n  alertmanager:\n    resolve_timeout: 2m\n`);
    soc = await t.token('soc', 'prometheus');
    await t.app.start();
    await t.app.alertExpiry.idle();
  });
  after(() => t.close());

  const post = (alerts: unknown) =>
    t.app.http.inject({ method: 'POST', url: '/api/v2/alerts', payload: JSON.stringify(alerts), headers: { 'content-type': 'application/json', authorization: `Bearer ${soc}` } });
  const status = async (check: string) =>
    (await t.store.query<{ status: string; resolved_at: Date | null }>('SELECT status, resolved_at FROM incidents WHERE check_name = $1 ORDER BY id', [check])).rows;
  const at = (ms: number) => new Date(t.clock.now() + ms).toISOString();
  /** Move the clock in the sweeper's 5 s steps; each step fires its timer, and the sweep it starts is awaited. */
  const advance = async (ms: number) => {
    for (let left = ms; left > 0; left -= 5_000) {
      t.clock.advance(Math.min(5_000, left));
      await t.app.alertExpiry.idle();
    }
  };
  const listed = async () => {
    const r = await t.app.http.inject({ method: 'GET', url: '/api/v2/alerts', headers: { authorization: `Bearer ${soc}` } });
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as Array<{ labels: Record<string, string> }>).map((a) => a.labels.alertname);
  };

  it('resolves an alert when its endsAt passes without a re-send (amtool, 20 s ahead)', async () => {
    assert.equal((await post([{ labels: { alertname: 'Ends20s', system: 'nqs' }, endsAt: at(20_000) }])).statusCode, 200);
    await advance(15_000);
    assert.deepEqual((await status('Ends20s')).map((r) => r.status), ['open']);
    assert.ok((await listed()).includes('Ends20s'));
    await advance(10_000);
    const rows = await status('Ends20s');
    assert.deepEqual(rows.map((r) => r.status), ['resolved']);
    assert.ok((await listed()).every((n) => n !== 'Ends20s'), 'an expired alert is no longer listed');
    const ledger = (await t.store.query<{ status: string; payload: { expired?: string } }>(`SELECT status, payload FROM signals WHERE check_name = 'Ends20s' ORDER BY id`)).rows;
    assert.deepEqual(ledger.map((r) => r.status), ['firing', 'resolved']);
    assert.match(String(ledger[1]!.payload.expired), /endsAt passed/);
  });

  it('keeps an alert open while re-sends move endsAt forward (Prometheus), and resolves it once they stop', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await post([{ labels: { alertname: 'PromResend', job: 'enbek' }, startsAt: at(-60_000), endsAt: at(40_000) }])).statusCode, 200);
      await advance(30_000);
      assert.deepEqual((await status('PromResend')).map((r) => r.status), ['open'], `after re-send ${i + 1}`);
    }
    // Prometheus stopped: 40 s after the last send the alert has ended.
    await advance(15_000);
    assert.deepEqual((await status('PromResend')).map((r) => r.status), ['resolved']);
  });

  it('resolves an alert sent without endsAt after resolve_timeout (2m here), counted from the last send', async () => {
    assert.equal((await post([{ labels: { alertname: 'NoEnd', system: 'enbek' }, endsAt: ZERO }])).statusCode, 200);
    await advance(90_000);
    assert.equal((await post([{ labels: { alertname: 'NoEnd', system: 'enbek' } }])).statusCode, 200);
    await advance(110_000);
    assert.deepEqual((await status('NoEnd')).map((r) => r.status), ['open'], '2m from the second send has not passed');
    await advance(15_000);
    assert.deepEqual((await status('NoEnd')).map((r) => r.status), ['resolved']);
  });

  it('an alert that fires again after it expired is open again and listed', async () => {
    assert.equal((await post([{ labels: { alertname: 'Back', system: 'enbek' }, endsAt: at(10_000) }])).statusCode, 200);
    await advance(15_000);
    assert.deepEqual((await status('Back')).map((r) => r.status), ['resolved']);
    assert.equal((await post([{ labels: { alertname: 'Back', system: 'enbek' }, endsAt: at(10_000) }])).statusCode, 200);
    assert.equal((await status('Back')).at(-1)!.status, 'open');
    assert.ok((await listed()).includes('Back'));
  });
});

describe(`alert expiry survives a restart, on ${storeKind}`, () => {
  it('an alert whose endsAt passed while kuzet was down resolves when it starts again', async () => {
    const tree = tmpTree({ 'kuzet.yaml': TEST_CONFIG, 'probes/.keep': '' });
    const store = await freshStore();
    try {
      const clock = new FakeClock('2026-03-02T04:00:00Z');
      const first = await createApp({ configFile: tree.path('kuzet.yaml'), store, clock, log: nullLogger, port: 0, env: {} });
      await first.start();
      const token = (await createToken(store, clock, 'prometheus', 'soc', 'test')).token;
      const r = await first.http.inject({
        method: 'POST', url: '/api/v2/alerts', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        payload: JSON.stringify([{ labels: { alertname: 'WhileDown', system: 'enbek' }, endsAt: new Date(clock.now() + 60_000).toISOString() }]),
      });
      assert.equal(r.statusCode, 200, r.body);
      await first.stop();

      // Down for ten minutes; nothing re-sends.
      const later = new FakeClock(clock.now() + 600_000);
      const second = await createApp({ configFile: tree.path('kuzet.yaml'), store, clock: later, log: nullLogger, port: 0, env: {} });
      try {
        const before = (await store.query<{ status: string }>(`SELECT status FROM incidents WHERE check_name = 'WhileDown'`)).rows;
        assert.deepEqual(before, [{ status: 'open' }]);
        await second.start();
        await second.alertExpiry.idle();
        const rows = (await store.query<{ status: string; resolved_at: Date }>(`SELECT status, resolved_at FROM incidents WHERE check_name = 'WhileDown'`)).rows;
        assert.deepEqual(rows.map((x) => x.status), ['resolved']);
        const sig = (await store.query<{ observed_at: Date }>(`SELECT observed_at FROM signals WHERE check_name = 'WhileDown' AND status = 'resolved'`)).rows;
        assert.equal(new Date(sig[0]!.observed_at).toISOString(), '2026-03-02T04:01:00.000Z', 'resolved as of its endsAt, not as of the restart');
      } finally {
        await second.stop();
      }
    } finally {
      await store.close();
      tree.cleanup();
    }
  });
});
