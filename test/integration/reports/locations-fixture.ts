import type { ProbeInfo } from '../../../src/reports/availability.ts';
import type { ReportContext } from '../../../src/reports/build.ts';
import { insertResults, rollupDays, rollupHours, type ResultRow } from '../../../src/sources/probes/results.ts';
import type { Store } from '../../../src/store/store.ts';
import { context } from './fixture.ts';

// Two locations probing the same targets on 2026-03-10 between 05:00 and 07:00 UTC (10:00–12:00 Almaty): Almaty
// on the minute, Astana on the half minute, every 60 s, each 120 results per probe. Hand-computed figures:
//
// enbek-web (confirm.locations: 2)
//   almaty fails 05:10:00–05:29:00 (20 results: down 05:10–05:30, 20 min) and 06:00:00–06:04:00 (5 min): 25 min
//   astana fails 05:20:30–05:39:30 (20 results: down 05:20:30–05:40:30, 20 min) and 06:30:30–06:32:30 (3 min): 23 min
//   both down 05:20:30–05:30:00 only: overall 9.5 min (the non-overlapping failures are seen from one place only)
// enbek-api (confirm.locations not set: 1)
//   almaty fails 05:55:00–06:04:00 (down 05:55–06:05, 10 min, across the UTC hour); astana fails 06:00:30–06:09:30
//   (down 06:00:30–06:10:30, 10 min); at least one down 05:55–06:10:30: overall 15.5 min
// nqs-home: results without a location (written before migration 090), fails 05:00:00–05:04:00: 5 min
//
// March has 44,640 minutes: availability 1 − down / 44,640 (25 → 99.944 %, 23 → 99.9485 %, 9.5 → 99.9787 %,
// 10 → 99.9776 %, 15.5 → 99.9653 %). The systems table's probe downtime: enbek 9.5 + 15.5 = 25 min, nqs 5 min.
// Before roll-ups were per location, a failed result ended at the next result from either location (30 s later):
// enbek-web 48 × 0.5 = 24 min, enbek-api 20 × 0.5 = 10 min, enbek 34 min.

export const LOC_PROBES: ProbeInfo[] = [
  { name: 'enbek-web', system: 'enbek', kind: 'http', availability: true, enabled: true, labels: {}, locations: 2 },
  { name: 'enbek-api', system: 'enbek', kind: 'http', availability: true, enabled: true, labels: {} },
  { name: 'nqs-home', system: 'nqs', kind: 'http', availability: true, enabled: true, labels: {} },
];

const T0 = Date.parse('2026-03-10T05:00:00Z');
const MIN = 60_000;
/** Minute offsets from 05:00 UTC (Almaty) or 05:00:30 (Astana) of the failed results. */
const FAILS: Record<string, Record<string, number[]>> = {
  'enbek-web': { almaty: [...range(10, 29), ...range(60, 64)], astana: [...range(20, 39), ...range(90, 92)] },
  'enbek-api': { almaty: range(55, 64), astana: range(60, 69) },
  'nqs-home': { '': range(0, 4) },
};

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

export async function seedLocations(store: Store): Promise<{ now: number; ctx: ReportContext }> {
  const rows: ResultRow[] = [];
  for (const [probe, byLoc] of Object.entries(FAILS)) {
    const system = probe.split('-')[0]!;
    for (const [location, fails] of Object.entries(byLoc)) {
      const offset = location === 'astana' ? 30_000 : 0;
      for (let m = 0; m < 120; m++) {
        const ok = !fails.includes(m);
        rows.push({
          probe, system, startedAt: T0 + m * MIN + offset, durationMs: location === 'astana' ? 300 : 100, ok, intervalS: 60, maintenance: false,
          ...(ok ? {} : { reason: 'status 502' }), ...(location ? { location, instance: `${location}-1` } : {}),
        });
      }
    }
  }
  await insertResults(store, rows);
  const now = Date.parse('2026-04-02T00:00:00Z');
  await rollupHours(store, T0, T0 + 3 * 60 * MIN, now);
  await rollupDays(store, T0, T0 + 3 * 60 * MIN, 'Asia/Almaty', now);
  return { now, ctx: { ...context(store, now), probes: LOC_PROBES, maintenance: [] } };
}
