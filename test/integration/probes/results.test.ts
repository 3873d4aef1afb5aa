import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import type { Signal } from '../../../src/signals/signal.ts';
import type { HostSample } from '../../../src/sources/probes/kinds/host.ts';
import { insertResults, pruneResults, ResultWriter, rollupDays, rollupHours, type ResultRow } from '../../../src/sources/probes/results.ts';
import { ProbeService } from '../../../src/sources/probes/service.ts';
import type { ProbeFile } from '../../../src/sources/probes/types.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, storeKind } from '../../support/store.ts';

// Results in the store: batched writes, hourly and daily roll-up arithmetic, retention, and the
// confirmation state surviving a restart. Runs on PGlite, and on PostgreSQL when configured.

const H = Date.parse('2026-01-05T04:00:00Z'); // 09:00 in Almaty
const S = 1000;
const row = (probe: string, atMs: number, ok: boolean, durationMs: number, over: Partial<ResultRow> = {}): ResultRow => ({
  probe,
  system: 'enbek',
  startedAt: atMs,
  durationMs,
  ok,
  intervalS: 60,
  maintenance: false,
  ...over,
});

let store: Store;
before(async () => {
  store = await freshStore();
});
after(async () => store.close());

type Rollup = { probe: string; period: string; period_start: Date; count: number; failures: number; downtime_seconds: number; maintenance_failures: number; maintenance_downtime_seconds: number; p50_ms: number | null; p95_ms: number | null; p99_ms: number | null };
const rollups = async () =>
  (await store.query<Rollup>('SELECT * FROM probe_rollups ORDER BY probe, period DESC, period_start')).rows.map((r) => ({
    probe: r.probe,
    period: r.period,
    start: new Date(r.period_start).toISOString(),
    count: r.count,
    failures: r.failures,
    down: Math.round(r.downtime_seconds * 1000) / 1000,
    mfail: r.maintenance_failures,
    mdown: r.maintenance_downtime_seconds,
    p: [r.p50_ms, r.p95_ms, r.p99_ms].map((x) => (x === null ? null : Math.round(x * 1000) / 1000)),
  }));

describe(`probe results on ${storeKind}`, () => {
  test('roll-up arithmetic: counts, downtime split at the hour, the interval cap, maintenance, percentiles', async () => {
    await insertResults(store, [
      row('a', H + 0 * S, true, 100),
      row('a', H + 60 * S, true, 200),
      row('a', H + 120 * S, false, 5000), // down 60 s until the next result
      row('a', H + 180 * S, false, 5000, { maintenance: true }), // down 60 s, inside a window
      row('a', H + 240 * S, true, 300),
      row('a', H + 3570 * S, false, 5000), // down 40 s: 30 s in this hour, 10 s in the next
      row('a', H + 3610 * S, true, 400),
      row('b', H + 600 * S, false, 10, { intervalS: 300 }), // no next result: down one interval (300 s)
    ]);
    const now = H + 2 * 3600 * S;
    await rollupHours(store, H, now, now);
    await rollupDays(store, H, now, 'Asia/Almaty', now, { percentiles: false }); // counts only: raw rows not read
    assert.deepEqual((await rollups()).find((r) => r.period === 'day' && r.probe === 'a')?.p, [null, null, null]);
    await rollupDays(store, H, now, 'Asia/Almaty', now);
    await rollupHours(store, H, now, now); // idempotent
    await rollupDays(store, H, now, 'Asia/Almaty', now);
    assert.deepEqual(await rollups(), [
      { probe: 'a', period: 'hour', start: '2026-01-05T04:00:00.000Z', count: 6, failures: 3, down: 150, mfail: 1, mdown: 60, p: [200, 290, 298] },
      { probe: 'a', period: 'hour', start: '2026-01-05T05:00:00.000Z', count: 1, failures: 0, down: 10, mfail: 0, mdown: 0, p: [400, 400, 400] },
      // The Almaty day of 2026-01-05 starts at 2026-01-04T19:00Z.
      { probe: 'a', period: 'day', start: '2026-01-04T19:00:00.000Z', count: 7, failures: 3, down: 160, mfail: 1, mdown: 60, p: [250, 385, 397] },
      { probe: 'b', period: 'hour', start: '2026-01-05T04:00:00.000Z', count: 1, failures: 1, down: 300, mfail: 0, mdown: 0, p: [null, null, null] },
      { probe: 'b', period: 'day', start: '2026-01-04T19:00:00.000Z', count: 1, failures: 1, down: 300, mfail: 0, mdown: 0, p: [null, null, null] },
    ]);
  });

  test('downtime never runs past now', async () => {
    await insertResults(store, [row('c', H + 3000 * S, false, 10, { intervalS: 3600 })]);
    await rollupHours(store, H, H + 3600 * S, H + 3100 * S);
    const r = (await rollups()).find((x) => x.probe === 'c')!;
    assert.equal(r.down, 100);
  });

  test('retention deletes raw rows before the cut-off and keeps roll-ups', async () => {
    const before = (await store.query<{ n: number }>('SELECT count(*)::int AS n FROM probe_results')).rows[0]!.n;
    const deleted = await pruneResults(store, H + 1800 * S, 2);
    assert.equal(deleted, 6); // a: 5 rows before 04:30, b: 1 row (chunks of 2)
    const left = (await store.query<{ n: number }>('SELECT count(*)::int AS n FROM probe_results')).rows[0]!.n;
    assert.equal(left, before - 6);
    assert.ok((await rollups()).length >= 5);
  });

  test('the writer batches rows into few statements and writes everything on stop', async () => {
    const clock = new FakeClock(H);
    const w = new ResultWriter({ store, clock, batchSize: 50, flushMs: 1000 });
    w.start();
    for (let i = 0; i < 120; i++) w.add(row('w', H + i * S, i % 10 !== 0, 5));
    await new Promise((r) => setImmediate(r));
    clock.advance(1000);
    await w.stop();
    const n = (await store.query<{ n: number; f: number }>("SELECT count(*)::int AS n, (count(*) FILTER (WHERE NOT ok))::int AS f FROM probe_results WHERE probe = 'w'")).rows[0]!;
    assert.deepEqual(n, { n: 120, f: 12 });
    assert.equal(w.pending, 0);
    assert.equal(w.written, 120);
  });
});

describe(`confirmation state across a restart on ${storeKind}`, () => {
  test('a probe down before the restart resolves after it, without firing again', async () => {
    const s = await freshStore();
    try {
      const clock = new FakeClock('2026-01-10T00:00:00Z');
      const signals: Signal[] = [];
      const sink = { submit: async (x: Signal[]) => (signals.push(...x), x.map(() => ({}))) };
      let memory = 95;
      const hostSampler = async (): Promise<HostSample> => ({ cpuPercent: 0, load1: 0, disks: [], memoryPercent: memory });
      const files: ProbeFile[] = [{ probes: [{ name: 'host', kind: 'host', system: 'kuzet', interval: '10s', timeout: '5s', confirm: { failures: 2 }, recover: { successes: 2 }, host: { memory_percent: 90 } }] }];
      const flush = async () => {
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      };
      const stepOnce = async (svc: ProbeService) => {
        clock.set(svc.status()[0]!.nextDue!);
        await flush();
      };
      const first = new ProbeService({ clock, sink, store: s, hostSampler });
      await first.apply(files);
      await first.start();
      await stepOnce(first);
      await stepOnce(first);
      assert.deepEqual(signals.map((x) => x.status), ['firing']);
      await first.stop();
      const rows = (await s.query<{ n: number }>('SELECT count(*)::int AS n FROM probe_results')).rows[0]!.n;
      assert.equal(rows, 2);
      assert.equal((await s.query<{ status: string }>('SELECT status FROM probe_state')).rows[0]?.status, 'down');

      memory = 50;
      const second = new ProbeService({ clock, sink, store: s, hostSampler });
      await second.apply(files);
      await second.start();
      assert.equal(second.status()[0]!.status, 'down');
      await stepOnce(second);
      await stepOnce(second);
      assert.deepEqual(signals.map((x) => x.status), ['firing', 'resolved']);
      memory = 95;
      await stepOnce(second);
      await stepOnce(second);
      assert.deepEqual(signals.map((x) => x.status), ['firing', 'resolved', 'firing']);
      await second.stop();

      // Removed from the files while kuzet was stopped, and down: the next start resolves it.
      const third = new ProbeService({ clock, sink, store: s, hostSampler });
      await third.apply([{ probes: [] }]);
      assert.deepEqual(signals.slice(3).map((x) => [x.status, x.check, x.system, x.fingerprint]), [['resolved', 'host', 'kuzet', signals[0]!.fingerprint]]);
      await third.start();
      await third.stop();
      assert.equal((await s.query<{ status: string }>('SELECT status FROM probe_state')).rows[0]?.status, 'up');
    } finally {
      await s.close();
    }
  });
});
