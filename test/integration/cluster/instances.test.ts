import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createToken } from '../../../src/access/tokens.ts';
import { createApp, type App } from '../../../src/app.ts';
import { runCli } from '../../../src/cli/index.ts';
import { FakeClock } from '../../../src/clock.ts';
import { listMembers, ownerOf } from '../../../src/cluster/index.ts';
import { nullLogger } from '../../../src/log.ts';
import { openStore, type Store } from '../../../src/store/store.ts';
import { TEST_CONFIG } from '../../support/app.ts';
import { freshStore, storeKind, testDatabaseUrl } from '../../support/store.ts';
import { tmpTree } from '../../support/tmp.ts';

// Three kuzet instances in one test process on one database (PostgreSQL: each its own pool on the same schema;
// PGlite: one in-process store shared), one fake clock moved in one-second steps.

const N = 30;
const INTERVAL_S = 30;
const probeYaml = `probes:\n${Array.from({ length: N }, (_, i) => `  - name: hb-${String(i).padStart(2, '0')}
    kind: heartbeat
    system: enbek
    interval: ${INTERVAL_S}s
    timeout: 5s
    heartbeat:
      period: 24h
      token: \${HB_TOKEN}
`).join('')}`;
const NAMES = Array.from({ length: N }, (_, i) => `hb-${String(i).padStart(2, '0')}`);

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

describe(`several instances on one ${storeKind} store`, () => {
  it('membership, probes split without overlap, a dead instance taken over within one interval, results say who ran them', async () => {
    const base = await freshStore();
    closers.push(() => base.close());
    const schema = testDatabaseUrl ? (await base.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s : '';
    const clock = new FakeClock('2026-03-02T04:00:00Z');
    const apps: Record<string, App> = {};
    for (const id of ['a', 'b', 'c']) {
      const t = tmpTree({
        'kuzet.yaml': `${TEST_CONFIG}cluster:\n  location: almaty\n  heartbeat: 5s\n  instance_id: ${id}\n`,
        'probes/hb.yaml': probeYaml,
      });
      let store: Store = base;
      if (testDatabaseUrl) {
        store = await openStore({ url: testDatabaseUrl, schema, poolSize: 4 });
        closers.push(() => store.close());
      }
      const app = await createApp({ configFile: t.path('kuzet.yaml'), store, clock, log: nullLogger, port: 0, env: { HB_TOKEN: '0123456789abcdef0123' } });
      closers.push(async () => {
        await app.stop();
        t.cleanup();
      });
      await app.start();
      apps[id] = app;
    }
    const { a, b, c } = apps as { a: App; b: App; c: App };
    // One second of clock at a time; after each, let every instance finish its heartbeat and probe runs.
    const step = async (seconds: number) => {
      for (let i = 0; i < seconds; i++) {
        clock.advance(1000);
        for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
        await Promise.all(Object.values(apps).map((x) => x.membership.settled()));
      }
      await Promise.all(Object.values(apps).map((x) => x.probes.writer?.flush()));
    };
    const resultsSince = async (from: number, to = clock.now()) =>
      (
        await base.query<{ probe: string; instance: string | null; location: string | null; started_at: number }>(
          `SELECT probe, instance, location, (EXTRACT(EPOCH FROM started_at) * 1000)::float8 AS started_at FROM probe_results
           WHERE started_at >= to_timestamp($1::float8 / 1000.0) AND started_at < to_timestamp($2::float8 / 1000.0) ORDER BY started_at`,
          [from, to],
        )
      ).rows;

    // Membership: after one heartbeat every instance sees all three.
    await step(6);
    for (const x of [a, b, c]) assert.deepEqual(x.membership.live, ['a', 'b', 'c']);
    const viewer = (await createToken(base, clock, 'viewer', 'viewer', 'test')).token;
    const res = await a.http.inject({ method: 'GET', url: '/api/v1/instances', headers: { authorization: `Bearer ${viewer}` } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { self: string; instances: Array<{ id: string; location: string; status: string; version: string; self: boolean }> };
    assert.equal(body.self, 'a');
    assert.deepEqual(body.instances.map((i) => [i.id, i.location, i.status, i.self]), [['a', 'almaty', 'live', true], ['b', 'almaty', 'live', false], ['c', 'almaty', 'live', false]]);
    assert.match(body.instances[0]!.version, /^\d+\.\d+\.\d+/);
    assert.equal((await a.http.inject({ method: 'GET', url: '/api/v1/instances' })).statusCode, 401);

    // Sharding: disjoint, complete, each instance has a share, and it is the rendezvous owner's.
    const owned = { a: [...a.probes.owned], b: [...b.probes.owned], c: [...c.probes.owned] };
    assert.deepEqual([...owned.a, ...owned.b, ...owned.c].sort(), NAMES, 'every probe has exactly one owner');
    for (const [id, names] of Object.entries(owned)) {
      assert.ok(names.length > 0, `${id} owns some probes`);
      for (const n of names) assert.equal(ownerOf(n, ['a', 'b', 'c']), id);
    }

    // Steady state: two intervals, each probe runs exactly twice, on its owner, and the results say so.
    const t0 = clock.now();
    await step(2 * INTERVAL_S);
    const steady = await resultsSince(t0);
    for (const n of NAMES) {
      const rows = steady.filter((r) => r.probe === n);
      assert.equal(rows.length, 2, `${n} ran twice in two intervals (ran ${rows.length} times)`);
      for (const r of rows) {
        assert.equal(r.instance, ownerOf(n, ['a', 'b', 'c']));
        assert.equal(r.location, 'almaty');
      }
    }

    // c is killed (its connection closes, no stop recorded): noticed at the next heartbeat of the others (within
    // one period), and each of its probes runs elsewhere within one interval of the kill: a probe whose slot
    // passed unprobed meanwhile runs at once, the others on their slots.
    const cProbes = owned.c;
    const lastRuns = async () => new Map((await resultsSince(0)).filter((r) => r.instance === 'c').map((r) => [r.probe, r.started_at]));
    // Killed right after a heartbeat, when one of its probes falls due before the next: that slot passes unprobed.
    let lastOnC = await lastRuns();
    let missed: string | undefined;
    for (let i = 0; i < 40 && !missed; i++) {
      await step(1);
      const beat = (await listMembers(base, clock.now())).find((m) => m.id === 'a')!.heartbeatAt;
      if (beat !== clock.now()) continue;
      lastOnC = await lastRuns();
      missed = cProbes.find((n) => lastOnC.get(n)! + INTERVAL_S * 1000 > clock.now() && lastOnC.get(n)! + INTERVAL_S * 1000 < clock.now() + 5000);
    }
    assert.ok(missed, 'a heartbeat with one of c\'s probes due before the next');
    await c.probes.stop();
    await c.membership.abandon();
    const t1 = clock.now();
    await step(5);
    for (const x of [a, b]) assert.deepEqual(x.membership.live, ['a', 'b'], 'dead within one heartbeat period of the kill');
    const t2 = clock.now();
    await step(INTERVAL_S);
    const taken = await resultsSince(t1);
    for (const n of cProbes) {
      const first = taken.find((r) => r.probe === n);
      assert.ok(first, `${n} ran after the takeover`);
      assert.equal(first.instance, ownerOf(n, ['a', 'b']));
      const after = first.started_at - t1;
      assert.ok(after <= INTERVAL_S * 1000, `${n}: first run elsewhere ${after / 1000} s after the kill (at most one interval)`);
      const gap = first.started_at - lastOnC.get(n)!;
      assert.ok(gap <= (INTERVAL_S + 5) * 1000, `${n}: ${gap / 1000} s unprobed (at most one interval and one heartbeat)`);
    }
    assert.equal(taken.find((r) => r.probe === missed)!.started_at, t2, `${missed}, whose slot passed unprobed, ran as soon as c was seen dead`);
    assert.ok(taken.every((r) => r.instance !== 'c'));
    const list = (await a.http.inject({ method: 'GET', url: '/api/v1/instances', headers: { authorization: `Bearer ${viewer}` } })).json() as typeof body;
    assert.deepEqual(list.instances.map((i) => i.status), ['live', 'live', 'dead']);

    // Steady again: every probe once per interval, no overlap between a and b.
    await step(INTERVAL_S);
    const t3 = clock.now();
    await step(INTERVAL_S);
    const after2 = await resultsSince(t3);
    for (const n of NAMES) assert.equal(after2.filter((r) => r.probe === n).length, 1, `${n} ran once`);

    // A clean stop says so: the survivor takes everything at its next heartbeat.
    await b.stop();
    await step(5);
    assert.deepEqual(a.membership.live, ['a']);
    assert.deepEqual([...a.probes.owned].sort(), NAMES, 'a single instance owns everything');

    // `kuzet instances` shows them.
    let out = '';
    const code = await runCli(['instances', '--url', `http://127.0.0.1:${(a.http.server.address() as { port: number }).port}`, '--token', viewer], { out: (s) => (out += s), err: (s) => (out += s) }, { run: async () => {} });
    assert.equal(code, 0, out);
    assert.match(out, /^a \*\s+almaty\s+live\s/m);
    assert.match(out, /^b\s+almaty\s+stopped\s/m);
    assert.match(out, /^c\s+almaty\s+dead\s/m);
  });
});
