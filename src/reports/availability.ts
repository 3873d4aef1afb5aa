import type { MaintenanceWindow } from '../sources/probes/types.ts';
import { CronExpressionParser } from 'cron-parser';
import { parseDuration } from '../clock.ts';
import { dateOf, fromLocal } from '../requests/calendar.ts';
import type { Queryable } from '../store/store.ts';
import { clip, overlap, subtract, total, union, type Interval } from './intervals.ts';
import { daysOf, type Period } from './period.ts';

// Down, degraded and available, per system (the definitions are in README.md, "Reports"):
// - a probe stands for user-facing functionality when its `availability` field says so (default: true for
//   kinds http and flow). While such a probe's incident is open (confirmed failing: between the engine's
//   `opened`/`reopened` and `resolved` events) the system is down, unless every firing signal of that
//   stretch failed only on a latency budget ("response time <= …"): then it is degraded;
// - a staff-declared outage (an incident of source `staff` with label outage=true) is down while open;
// - down time of a system is the union of those stretches, so overlapping probes count once.
// Everything reads incidents and their timelines (a handful of rows per outage) and the daily roll-ups:
// a year of raw results is never scanned.

export interface ProbeInfo {
  name: string;
  system: string;
  kind: string;
  availability: boolean;
  enabled: boolean;
  labels: Record<string, string>;
  /** sql probes: the limit of their first `<=` expectation (a feed's maximum age in days). */
  maxValue?: number;
  /** sql probes judging a cadence's last finished period (`sql.period`): they fail during the period after. */
  period?: string;
  /** confirm.locations: how many locations must see it failing (default 1). */
  locations?: number;
}

/** A maintenance window as the probe files declare it. */
export type MaintenanceInfo = MaintenanceWindow;

export interface Episode {
  incidentId: number;
  system: string;
  source: string;
  check: string;
  title: string;
  start: number;
  end: number;
  open: boolean;
  degraded: boolean;
  cause: string;
}

interface IncidentRow {
  id: string | number;
  system: string;
  source: string;
  check_name: string;
  title: string;
  labels: Record<string, string> | string;
  resolved_at: Date | string | null;
}

const ms = (v: Date | string | number) => new Date(v).getTime();
const labelsOf = (v: Record<string, string> | string) => (typeof v === 'string' ? (JSON.parse(v) as Record<string, string>) : v ?? {});
const LATENCY = /^(response|query) time <=/;

/** Whether an incident stands for the system being down (or degraded): availability probes and staff outages. */
export function countsForAvailability(row: { source: string; check_name: string; labels: Record<string, string> }, probes: Map<string, ProbeInfo>): boolean {
  if (row.source === 'staff') return row.labels.outage === 'true';
  if (row.source !== 'probe') return false;
  const p = probes.get(row.check_name);
  if (p) return p.availability;
  // A probe since removed from the files: its recorded kind decides, as the default would have.
  return row.labels.kind === 'http' || row.labels.kind === 'flow';
}

/** Confirmed-failing stretches of the incidents that count for availability, for these systems, overlapping [from, to). */
export async function loadEpisodes(q: Queryable, systems: string[], probes: Map<string, ProbeInfo>, from: number, to: number, now: number, filter = countsForAvailability): Promise<Episode[]> {
  const inc = await q.query<IncidentRow>(
    `SELECT id, system, source, check_name, title, labels, resolved_at FROM incidents
      WHERE system = ANY($1::text[]) AND source IN ('probe', 'staff') AND opened_at < $3::timestamptz
        AND (resolved_at IS NULL OR resolved_at > $2::timestamptz)`,
    [systems, new Date(from).toISOString(), new Date(to).toISOString()],
  );
  const rows = inc.rows.map((r) => ({ ...r, labels: labelsOf(r.labels) })).filter((r) => filter(r, probes));
  if (!rows.length) return [];
  const ids = rows.map((r) => Number(r.id));
  const ev = await q.query<{ incident_id: string | number; at: Date | string; kind: string }>(
    `SELECT incident_id, at, kind FROM incident_events WHERE incident_id = ANY($1::bigint[]) AND kind IN ('opened', 'reopened', 'resolved')
      ORDER BY incident_id, at, id`,
    [ids],
  );
  const sig = await q.query<{ incident_id: string | number; observed_at: Date | string; last_observed_at: Date | string; summary: string; reason: string | null; failed: unknown }>(
    `SELECT incident_id, observed_at, last_observed_at, summary, payload->>'reason' AS reason, payload->'failed_assertions' AS failed
       FROM signals WHERE incident_id = ANY($1::bigint[]) AND status = 'firing' ORDER BY incident_id, observed_at, id`,
    [ids],
  );
  const sigBy = new Map<number, typeof sig.rows>();
  for (const s of sig.rows) {
    const k = Number(s.incident_id);
    if (!sigBy.has(k)) sigBy.set(k, []);
    sigBy.get(k)!.push(s);
  }
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  const out: Episode[] = [];
  const end = Math.min(to, now);
  let cur: { id: number; start: number } | undefined;
  const close = (id: number, at: number, open: boolean) => {
    const r = byId.get(id)!;
    const start = cur!.start;
    cur = undefined;
    if (at <= from || start >= to) return;
    // The firing signals of this stretch (a folded repeat spans observed_at..last_observed_at).
    const ss = (sigBy.get(id) ?? []).filter((s) => ms(s.last_observed_at) >= start - 600_000 && ms(s.observed_at) <= at);
    const latencyOnly = ss.length > 0 && ss.every((s) => {
      const f = (typeof s.failed === 'string' ? JSON.parse(s.failed) : s.failed) as { name?: string }[] | null;
      return Array.isArray(f) && f.length > 0 && f.every((a) => LATENCY.test(a.name ?? ''));
    });
    const last = ss[ss.length - 1];
    out.push({
      incidentId: id,
      system: r.system,
      source: r.source,
      check: r.check_name,
      title: r.title,
      start,
      end: at,
      open,
      degraded: r.source === 'probe' && latencyOnly,
      cause: last ? (last.reason ?? last.summary) : r.title,
    });
  };
  let prevId: number | undefined;
  for (const e of ev.rows) {
    const id = Number(e.incident_id);
    if (prevId !== undefined && id !== prevId && cur) close(prevId, end, true);
    prevId = id;
    const at = ms(e.at);
    if (e.kind === 'resolved') {
      if (cur) close(id, at, false);
    } else if (!cur) {
      cur = { id, start: at };
    }
  }
  if (cur && prevId !== undefined) close(prevId, end, true);
  return out;
}

/** The maintenance windows that apply to a system (by system, by one of its probes, or to everything), as intervals. */
export function maintenanceIntervals(windows: readonly MaintenanceInfo[], system: string, probeNames: Set<string>, from: number, to: number): Interval[] {
  const out: Interval[] = [];
  for (const w of windows) {
    const applies = (!w.systems?.length && !w.probes?.length) || w.systems?.includes(system) || w.probes?.some((p) => probeNames.has(p));
    if (!applies) continue;
    if (w.start && w.end) {
      out.push([Date.parse(w.start), Date.parse(w.end)]);
      continue;
    }
    const dur = parseDuration(w.duration ?? '0s') ?? 0;
    if (!w.cron || dur <= 0) continue;
    try {
      const it = CronExpressionParser.parse(w.cron, { tz: w.timezone ?? 'UTC', currentDate: new Date(from - dur - 1000) });
      for (let i = 0; i < 20_000; i++) {
        const s = it.next().getTime();
        if (s >= to) break;
        out.push([s, s + dur]);
      }
    } catch {
      // no further occurrence
    }
  }
  return union(clip(out, from, to));
}

export interface SystemAvailability {
  system: string;
  /** Milliseconds of the period that were observed (up to now) and counted (maintenance excluded if asked). */
  countedMs: number;
  downMs: number;
  degradedMs: number;
  maintenanceMs: number;
  down: Interval[];
  degraded: Interval[];
  episodes: Episode[];
  /** Per local day: [day number, counted ms, down ms]. */
  daily: [number, number, number][];
}

export function systemAvailability(system: string, episodes: Episode[], maintenance: Interval[], p: Period, observedTo: number, excludeMaintenance: boolean): SystemAvailability {
  const end = Math.min(p.to, observedTo);
  const mine = episodes.filter((e) => e.system === system);
  let down = union(clip(mine.filter((e) => !e.degraded).map((e) => [e.start, e.end] as Interval), p.from, end));
  let degraded = subtract(union(clip(mine.filter((e) => e.degraded).map((e) => [e.start, e.end] as Interval), p.from, end)), down);
  const maint = clip(maintenance, p.from, end);
  let counted: Interval[] = end > p.from ? [[p.from, end]] : [];
  if (excludeMaintenance) {
    down = subtract(down, maint);
    degraded = subtract(degraded, maint);
    counted = subtract(counted, maint);
  }
  const daily: [number, number, number][] = [];
  for (const d of daysOf(p)) {
    const a = fromLocal(d, 0);
    const b = fromLocal(d + 1, 0);
    daily.push([d, overlap(counted, a, b), overlap(down, a, b)]);
  }
  return { system, countedMs: total(counted), downMs: total(down), degradedMs: total(degraded), maintenanceMs: total(maint), down, degraded, episodes: mine, daily };
}

export const availabilityPct = (a: { countedMs: number; downMs: number }): number | null => (a.countedMs > 0 ? 100 * (1 - a.downMs / a.countedMs) : null);

export interface LatencyRow {
  system: string;
  results: number;
  failures: number;
  probeDowntimeS: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * Which daily roll-up rows make a probe's downtime (the `pick` flag of the query below). A probe probed from one
 * location on a day: that location's row, as ever. A probe probed from several locations on a day: the time during
 * which at least confirm.locations of them saw it failing (row '*k', see src/sources/probes/results.ts): the same
 * rule that opens its incident, so a failure seen from one place only (a broken network path) does not count as the
 * service being down unless one place is all the probe needs.
 */
const PICKED_ROWS = `x AS (
       SELECT r.*, (r.location NOT LIKE '*%') AS real,
              CASE WHEN m.probe IS NULL THEN r.location NOT LIKE '*%' ELSE r.location = '*' || COALESCE(($5::jsonb->>r.probe)::int, 1) END AS pick
       FROM probe_rollups r
       LEFT JOIN (SELECT probe, period_start FROM probe_rollups
                   WHERE period = 'day' AND probe = ANY($2::text[]) AND location NOT LIKE '*%' AND period_start >= $3::timestamptz AND period_start < $4::timestamptz
                   GROUP BY 1, 2 HAVING count(*) > 1) m ON m.probe = r.probe AND m.period_start = r.period_start
       WHERE r.period = 'day' AND r.system = ANY($1::text[]) AND r.probe = ANY($2::text[])
         AND r.period_start >= $3::timestamptz AND r.period_start < $4::timestamptz
     )`;
const weighted = (col: string) => `(sum(${col} * count) FILTER (WHERE ${col} IS NOT NULL AND real) / NULLIF(sum(count) FILTER (WHERE ${col} IS NOT NULL AND real), 0))::float8`;
const requiredOf = (probes: readonly Pick<ProbeInfo, 'name' | 'locations'>[]) => JSON.stringify(Object.fromEntries(probes.map((x) => [x.name, Math.max(1, x.locations ?? 1)])));

/**
 * Latency from the daily roll-ups of the availability probes: each percentile is the mean of the daily
 * percentiles weighted by the day's result count (a roll-up keeps percentiles, not the distribution). Results
 * and percentiles count every location; probe downtime follows PICKED_ROWS.
 */
export async function latencyFromRollups(q: Queryable, systems: string[], probes: readonly Pick<ProbeInfo, 'name' | 'locations'>[], p: Period): Promise<Map<string, LatencyRow>> {
  const r = await q.query<{ system: string; n: string | number; f: string | number; down: number | null; p50: number | null; p95: number | null; p99: number | null }>(
    `WITH ${PICKED_ROWS}
     SELECT system, COALESCE(sum(count) FILTER (WHERE real), 0) AS n, COALESCE(sum(failures) FILTER (WHERE real), 0) AS f,
            (sum(downtime_seconds) FILTER (WHERE pick))::float8 AS down, ${weighted('p50_ms')} AS p50, ${weighted('p95_ms')} AS p95, ${weighted('p99_ms')} AS p99
       FROM x GROUP BY system`,
    [systems, probes.map((x) => x.name), new Date(p.from).toISOString(), new Date(p.to).toISOString(), requiredOf(probes)],
  );
  return new Map(r.rows.map((x) => [x.system, { system: x.system, results: Number(x.n), failures: Number(x.f), probeDowntimeS: Number(x.down ?? 0), p50: x.p50, p95: x.p95, p99: x.p99 }]));
}

export interface LocationFigures {
  system: string;
  probe: string;
  /** A location, or null for the probe's overall figure (PICKED_ROWS). */
  location: string | null;
  results: number;
  failures: number;
  downS: number;
  maintenanceDownS: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * Per location, for the probes probed from more than one location on some day of the period: each location's
 * own figures (its results alone: a failure lasts until that location's next result), then the probe's overall
 * row (location null) whose downtime follows PICKED_ROWS.
 */
export async function locationFigures(q: Queryable, systems: string[], probes: readonly Pick<ProbeInfo, 'name' | 'locations'>[], p: Period): Promise<LocationFigures[]> {
  const r = await q.query<{ system: string; probe: string; location: string | null; n: string | number; f: string | number; down: number | null; mdown: number | null; p50: number | null; p95: number | null; p99: number | null }>(
    `WITH ${PICKED_ROWS}, multi AS (
       SELECT DISTINCT probe FROM x WHERE real GROUP BY probe, period_start HAVING count(*) > 1
     )
     SELECT system, probe, location, n, f, down, mdown, p50, p95, p99 FROM (
       SELECT system, probe, location, sum(count) AS n, sum(failures) AS f, sum(downtime_seconds)::float8 AS down,
              sum(maintenance_downtime_seconds)::float8 AS mdown, ${weighted('p50_ms')} AS p50, ${weighted('p95_ms')} AS p95, ${weighted('p99_ms')} AS p99
         FROM x WHERE real AND probe IN (SELECT probe FROM multi) GROUP BY system, probe, location
       UNION ALL
       SELECT system, probe, NULL, COALESCE(sum(count) FILTER (WHERE real), 0), COALESCE(sum(failures) FILTER (WHERE real), 0),
              COALESCE(sum(downtime_seconds) FILTER (WHERE pick), 0)::float8, COALESCE(sum(maintenance_downtime_seconds) FILTER (WHERE pick), 0)::float8,
              ${weighted('p50_ms')}, ${weighted('p95_ms')}, ${weighted('p99_ms')}
         FROM x WHERE probe IN (SELECT probe FROM multi) GROUP BY system, probe
     ) t ORDER BY system, probe, location NULLS LAST`,
    [systems, probes.map((x) => x.name), new Date(p.from).toISOString(), new Date(p.to).toISOString(), requiredOf(probes)],
  );
  return r.rows.map((x) => ({
    system: x.system, probe: x.probe, location: x.location, results: Number(x.n), failures: Number(x.f), downS: Number(x.down ?? 0),
    maintenanceDownS: Number(x.mdown ?? 0), p50: x.p50, p95: x.p95, p99: x.p99,
  }));
}

export const dayLabel = (d: number): string => dateOf(d);
