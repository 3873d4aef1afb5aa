import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { createApp, type App } from '../../../src/app.ts';
import { FakeClock } from '../../../src/clock.ts';
import { ownerOf } from '../../../src/cluster/index.ts';
import { nullLogger } from '../../../src/log.ts';
import { openStore, type Store } from '../../../src/store/store.ts';
import { TEST_CONFIG } from '../../support/app.ts';
import { freshStore, storeKind, testDatabaseUrl } from '../../support/store.ts';
import { twoLocations } from '../../support/locations.ts';
import { tmpTree } from '../../support/tmp.ts';

// Confirmation from several places: a probe with confirm.locations: 2 fires only when two live locations see
// it failing, once, and resolves when fewer than two do. Each location here probes its own target, so the two
// locations can disagree (as they do when a network path, not the service, is broken).

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

const listen = (port = 0) =>
  new Promise<Server>((ok, fail) => {
    const s = createServer((sock) => sock.end());
    s.once('error', fail);
    s.listen(port, '127.0.0.1', () => ok(s));
  });
const portOf = (s: Server) => (s.address() as { port: number }).port;
const close = (s: Server) => new Promise<void>((ok) => s.close(() => ok()));

describe(`confirmation from several locations on ${storeKind}`, () => {
  it('fires when 2 of 2 locations see the probe failing, once; resolves when one sees it up again', async () => {
    const base = await freshStore();
    closers.push(() => base.close());
    const schema = testDatabaseUrl ? (await base.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s : '';
    const refused = await listen();
    const refusedPort = portOf(refused);
    await close(refused); // nothing listens here: connection refused
    let target = await listen();
    const targetPort = portOf(target);
    closers.push(() => close(target));

    const clock = new FakeClock('2026-03-02T04:00:00Z');
    const apps: Record<string, App> = {};
    for (const [location, port] of [['almaty', refusedPort], ['astana', targetPort]] as const) {
      const t = tmpTree({
        'kuzet.yaml': `${TEST_CONFIG}cluster:\n  location: ${location}\n  instance_id: ${location}-1\n`,
        'probes/web.yaml': `probes:\n  - { name: web, kind: tcp, system: enbek, interval: 30s, timeout: 2s, retries: 0, confirm: { failures: 1, locations: 2 }, recover: { successes: 1 }, severity: critical, tcp: { host: 127.0.0.1, port: ${port} } }\n`,
      });
      let store: Store = base;
      if (testDatabaseUrl) {
        store = await openStore({ url: testDatabaseUrl, schema, poolSize: 4 });
        closers.push(() => store.close());
      }
      const app = await createApp({ configFile: t.path('kuzet.yaml'), store, clock, log: nullLogger, port: 0 });
      closers.push(async () => {
        await app.stop();
        t.cleanup();
      });
      await app.start();
      apps[location] = app;
    }
    const { almaty, astana } = apps as { almaty: App; astana: App };
    // Move the clock a second at a time, letting heartbeats finish, so both locations stay live.
    const step = async (seconds: number) => {
      for (let i = 0; i < seconds; i++) {
        clock.advance(1000);
        for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
        await Promise.all([almaty.membership.settled(), astana.membership.settled(), almaty.probes.settled(), astana.probes.settled()]);
      }
    };
    // One location per instance: each owns the probe in its own location.
    assert.deepEqual([...almaty.probes.owned], ['web']);
    assert.deepEqual([...astana.probes.owned], ['web']);
    const incidents = async () => (await base.query<{ status: string; title: string }>(`SELECT status, title FROM incidents WHERE check_name = 'web' ORDER BY id`)).rows;
    const probeSignals = async () =>
      (await base.query<{ status: string; summary: string; locations: { required: number; down: number; of: number; views: Array<{ location: string; status: string }> } }>(
        `SELECT status, summary, payload->'locations' AS locations FROM signals WHERE check_name = 'web' ORDER BY observed_at, id`,
      )).rows;

    // Almaty sees it down, Astana up: one of two is not enough.
    assert.equal((await almaty.probes.runNow('web'))?.ok, false);
    assert.equal((await astana.probes.runNow('web'))?.ok, true);
    assert.deepEqual(await incidents(), []);
    const views = (await base.query<{ location: string; status: string; instance: string }>(`SELECT location, status, instance FROM probe_locations WHERE probe = 'web' ORDER BY location`)).rows;
    assert.deepEqual(views, [{ location: 'almaty', status: 'down', instance: 'almaty-1' }]);

    // Astana's target goes away too: two of two, one incident, with each location's view on its signal.
    await close(target);
    await step(30);
    assert.equal((await astana.probes.runNow('web'))?.ok, false);
    assert.deepEqual((await incidents()).map((i) => i.status), ['open']);
    let sigs = await probeSignals();
    assert.equal(sigs.length, 1);
    assert.equal(sigs[0]!.status, 'firing');
    assert.match(sigs[0]!.summary, /down from almaty, astana \(2 of 2 locations\)/);
    assert.deepEqual(sigs[0]!.locations.views.map((v) => [v.location, v.status]), [['almaty', 'down'], ['astana', 'down']]);
    assert.equal(sigs[0]!.locations.required, 2);

    // Still failing in both: no further signal.
    await step(30);
    assert.equal((await almaty.probes.runNow('web'))?.ok, false);
    assert.equal((await astana.probes.runNow('web'))?.ok, false);
    assert.equal((await probeSignals()).length, 1);

    // Astana sees it up again: fewer than two locations see it failing, the incident resolves.
    target = await listen(targetPort);
    await step(30);
    assert.equal((await astana.probes.runNow('web'))?.ok, true);
    sigs = await probeSignals();
    assert.deepEqual(sigs.map((s) => s.status), ['firing', 'resolved']);
    assert.match(sigs[1]!.summary, /down from almaty \(1 of 2 locations\)/);
    assert.deepEqual((await incidents()).map((i) => i.status), ['resolved']);

    // The results say where they were measured (the runs above, and scheduled ones as the clock moved).
    await Promise.all([almaty.probes.writer?.flush(), astana.probes.writer?.flush()]);
    const where = (await base.query<{ location: string | null; instance: string | null; n: number }>(
      `SELECT location, instance, count(*)::int AS n FROM probe_results WHERE probe = 'web' GROUP BY 1, 2 ORDER BY 1`,
    )).rows;
    assert.deepEqual(where.map((w) => [w.location, w.instance]), [['almaty', 'almaty-1'], ['astana', 'astana-1']]);
    assert.ok(where[0]!.n >= 3 && where[1]!.n >= 4, JSON.stringify(where));
  });

  it('2 of 2 down in a maintenance window: recorded; still down when the window ends: fired again, once, to page', async () => {
    // Both locations: connection refused. The window covers the first ten minutes of the fake clock.
    const two = await twoLocations('', 'maintenance:\n  - { name: night-works, cron: "0 4 * * *", timezone: UTC, duration: 10m, systems: [enbek] }\n');
    closers.push(() => two.close());
    const { store: base, almaty, astana, step } = two;
    const signals = async () =>
      (await base.query<{ status: string; maintenance: string | null; down: number | null }>(
        `SELECT status, labels->>'maintenance' AS maintenance, (payload->'locations'->>'down')::int AS down FROM signals WHERE check_name = 'web' ORDER BY observed_at, id`,
      )).rows;

    await step(60);
    assert.equal((await almaty.probes.runNow('web'))?.ok, false);
    assert.equal((await astana.probes.runNow('web'))?.ok, false);
    assert.deepEqual(await signals(), [{ status: 'firing', maintenance: 'true', down: 2 }], 'in the window: recorded, not paged');

    await step(10 * 60); // the window is over, both still failing
    assert.equal((await almaty.probes.runNow('web'))?.ok, false);
    assert.deepEqual((await signals()).map((x) => [x.status, x.maintenance, x.down]), [['firing', 'true', 2], ['firing', null, 2]], 'fired again without the maintenance flag');
    assert.equal((await astana.probes.runNow('web'))?.ok, false);
    await step(30);
    assert.equal((await almaty.probes.runNow('web'))?.ok, false);
    assert.equal((await signals()).length, 2, 'once: the other location\'s re-fire and later failures add nothing');
  });

  it('a probe taken over from a dead instance continues from its stored state: no second firing, one resolve', async () => {
    const base = await freshStore();
    closers.push(() => base.close());
    const schema = testDatabaseUrl ? (await base.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s : '';
    const probe = await listen();
    const port = portOf(probe);
    await close(probe); // refused until it listens again
    const clock = new FakeClock('2026-03-02T04:00:00Z');
    const apps: Record<string, App> = {};
    for (const id of ['x', 'y']) {
      const t = tmpTree({
        'kuzet.yaml': `${TEST_CONFIG}cluster:\n  location: almaty\n  instance_id: ${id}\n`,
        'probes/web.yaml': `probes:\n  - { name: web, kind: tcp, system: enbek, interval: 30s, timeout: 2s, retries: 0, confirm: { failures: 1 }, recover: { successes: 1 }, severity: critical, tcp: { host: 127.0.0.1, port: ${port} } }\n`,
      });
      let store: Store = base;
      if (testDatabaseUrl) {
        store = await openStore({ url: testDatabaseUrl, schema, poolSize: 4 });
        closers.push(() => store.close());
      }
      const app = await createApp({ configFile: t.path('kuzet.yaml'), store, clock, log: nullLogger, port: 0 });
      closers.push(async () => {
        await app.stop();
        t.cleanup();
      });
      await app.start();
      apps[id] = app;
    }
    const step = async (seconds: number) => {
      for (let i = 0; i < seconds; i++) {
        clock.advance(1000);
        for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
        await Promise.all(Object.values(apps).map((a) => a.membership.settled()));
      }
    };
    await step(5);
    const ownerId = ownerOf('web', ['x', 'y'])!;
    const owner = apps[ownerId]!;
    const heir = apps[ownerId === 'x' ? 'y' : 'x']!;
    assert.deepEqual([...owner.probes.owned], ['web']);
    assert.deepEqual([...heir.probes.owned], []);
    const signals = async () => (await base.query<{ status: string }>(`SELECT status FROM signals WHERE check_name = 'web' ORDER BY observed_at, id`)).rows.map((r) => r.status);

    assert.equal((await owner.probes.runNow('web'))?.ok, false);
    assert.deepEqual(await signals(), ['firing']);
    await step(2); // its state reaches the store with the next flush
    owner.membership.halt();
    await owner.probes.stop();
    await step(15);
    assert.deepEqual([...heir.probes.owned], ['web'], 'taken over');
    assert.equal((await heir.probes.runNow('web'))?.ok, false);
    assert.deepEqual(await signals(), ['firing'], 'still down: the heir knew, and did not fire again');
    const up = await listen(port);
    closers.push(() => close(up));
    assert.equal((await heir.probes.runNow('web'))?.ok, true);
    assert.deepEqual(await signals(), ['firing', 'resolved']);
    assert.deepEqual((await base.query<{ status: string }>(`SELECT status FROM incidents WHERE check_name = 'web'`)).rows, [{ status: 'resolved' }]);
  });
});
