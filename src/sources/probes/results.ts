import type { Clock, Timer } from '../../clock.ts';
import type { Queryable, Store } from '../../store/store.ts';
import type { ProbeState } from './state.ts';

// Probe results reach the store in batches: one INSERT per batch (rows passed as one JSON parameter),
// one transaction per flush, so 10,000 probes cost a few commits a second, not hundreds.
// Roll-ups are recomputed from raw rows for recent periods (idempotent upserts), so a late flush or a
// restart only means the next roll-up pass corrects the figures.

export interface ResultRow {
  probe: string;
  system: string;
  startedAt: number;
  durationMs: number;
  ok: boolean;
  intervalS: number;
  maintenance: boolean;
  reason?: string;
  /** The instance and location that ran it (several instances on one store). */
  instance?: string;
  location?: string;
}

export interface WriterOptions {
  store: Store;
  clock: Clock;
  flushMs?: number;
  batchSize?: number;
  /** Rows beyond this are dropped (oldest first) while the store is unreachable; counted in `dropped`. */
  maxQueue?: number;
  onError?: (err: unknown) => void;
}

export class ResultWriter {
  #rows: ResultRow[] = [];
  #states = new Map<string, ProbeState>();
  #timer?: Timer;
  #flushing?: Promise<void>;
  #started = false;
  #failing = false;
  dropped = 0;
  written = 0;

  constructor(private readonly o: WriterOptions) {}

  add(row: ResultRow): void {
    this.#rows.push(row);
    const max = this.o.maxQueue ?? 200_000;
    if (this.#rows.length > max) {
      const n = this.#rows.length - max;
      this.#rows.splice(0, n);
      this.dropped += n;
    }
    // After a failed write only the timer retries: a store that is down is not hammered once per result.
    if (this.#rows.length >= (this.o.batchSize ?? 2000) && !this.#flushing && !this.#failing) void this.flush();
  }

  /** Persist a probe's confirmation state with the next flush (only the latest per probe is kept). */
  setState(probe: string, state: ProbeState): void {
    this.#states.set(probe, state);
  }

  get pending(): number {
    return this.#rows.length;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#arm();
  }

  /** Stop the timer and write everything still queued. */
  async stop(): Promise<void> {
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.flush();
  }

  #arm(): void {
    if (!this.#started) return;
    this.#timer = this.o.clock.setTimeout(() => {
      void this.flush().finally(() => this.#arm());
    }, this.o.flushMs ?? 1000);
  }

  /** Write queued rows and states now. Concurrent calls share one flush at a time. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (!this.#rows.length && !this.#states.size) return;
    this.#flushing = this.#write().finally(() => (this.#flushing = undefined));
    await this.#flushing;
  }

  async #write(): Promise<void> {
    const batch = this.#rows.splice(0, this.o.batchSize ?? 2000);
    const states = [...this.#states];
    this.#states.clear();
    try {
      await this.o.store.tx(async (q) => {
        if (batch.length) await insertResults(q, batch);
        if (states.length) await saveStates(q, states, this.o.clock.now());
      });
      this.written += batch.length;
      this.#failing = false;
    } catch (err) {
      this.#failing = true;
      // Put them back (in order) for the next attempt; the queue cap bounds memory.
      this.#rows.unshift(...batch);
      for (const [k, v] of states) if (!this.#states.has(k)) this.#states.set(k, v);
      this.o.onError?.(err);
      return;
    }
    if (this.#rows.length >= (this.o.batchSize ?? 2000)) await this.#write();
  }
}

export async function insertResults(q: Queryable, rows: ResultRow[]): Promise<void> {
  const json = JSON.stringify(rows.map((r) => [r.probe, r.system, r.startedAt, r.durationMs, r.ok, r.intervalS, r.maintenance, r.reason ?? null, r.instance ?? null, r.location ?? null]));
  await q.query(
    `INSERT INTO probe_results (probe, system, started_at, duration_ms, ok, interval_s, maintenance, reason, instance, location)
     SELECT e->>0, e->>1, to_timestamp((e->>2)::float8 / 1000.0), (e->>3)::float8, (e->>4)::boolean, (e->>5)::int, (e->>6)::boolean, e->>7, e->>8, e->>9
     FROM jsonb_array_elements($1::jsonb) AS e`,
    [json],
  );
}

async function saveStates(q: Queryable, states: [string, ProbeState][], now: number): Promise<void> {
  await q.query(
    `INSERT INTO probe_state (probe, status, state, updated_at)
     SELECT e->>0, e->1->>'status', e->1, to_timestamp($2::float8 / 1000.0) FROM jsonb_array_elements($1::jsonb) AS e
     ON CONFLICT (probe) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
    [JSON.stringify(states), now],
  );
}

export async function loadStates(q: Queryable, only?: readonly string[]): Promise<Map<string, ProbeState>> {
  const r = only
    ? await q.query<{ probe: string; state: ProbeState }>('SELECT probe, state FROM probe_state WHERE probe = ANY($1::text[])', [only])
    : await q.query<{ probe: string; state: ProbeState }>('SELECT probe, state FROM probe_state');
  return new Map(r.rows.map((row) => [row.probe, typeof row.state === 'string' ? (JSON.parse(row.state) as ProbeState) : row.state]));
}

const ts = (ms: number) => new Date(ms).toISOString();
const pct = (p: number) => `percentile_cont(${p}) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE ok)`;

/**
 * Recompute hourly roll-ups for the UTC hours in [from, to), one row per probe and location (results without a
 * location are location ''). A failed result counts as downtime from its start until the next result of the same
 * probe from the same location, at most one interval and never past `now`; time is split at hour boundaries (a
 * result shortly before the hour spills into the next one). For a probe with results from several locations in the
 * range, rows '*1', '*2', … hold the time during which at least 1, 2, … of its locations were failing.
 * Rows of a recomputed probe and hour whose location is no longer produced (a combined level no longer reached,
 * a row written before roll-ups were per location) are deleted.
 */
export async function rollupHours(q: Queryable, fromMs: number, toMs: number, nowMs: number): Promise<void> {
  const span = (s: string, e: string) => `EXTRACT(EPOCH FROM LEAST(${e}, h + interval '1 hour') - GREATEST(${s}, h))`;
  await q.query(
    `WITH r AS (
       SELECT probe, COALESCE(location, '') AS location, system, started_at, duration_ms, ok, maintenance,
              LEAST(COALESCE(lead(started_at) OVER w, 'infinity'::timestamptz), started_at + make_interval(secs => interval_s), $3::timestamptz) AS ends_at
       FROM probe_results
       WHERE started_at >= date_trunc('hour', $1::timestamptz, 'UTC') - interval '1 hour' AND started_at < $2::timestamptz
       WINDOW w AS (PARTITION BY probe, COALESCE(location, '') ORDER BY started_at)
     ), agg AS (
       SELECT probe, location, max(system) AS system, date_trunc('hour', started_at, 'UTC') AS period_start,
              count(*)::int AS n, (count(*) FILTER (WHERE NOT ok))::int AS failures,
              (count(*) FILTER (WHERE NOT ok AND maintenance))::int AS mfailures,
              ${pct(0.5)} AS p50, ${pct(0.95)} AS p95, ${pct(0.99)} AS p99
       FROM r WHERE started_at >= date_trunc('hour', $1::timestamptz, 'UTC') GROUP BY 1, 2, 4
     ), fails AS (
       SELECT probe, location, system, started_at AS s, ends_at AS e, maintenance FROM r WHERE NOT ok AND ends_at > started_at
     ), multi AS (
       SELECT probe, max(system) AS system FROM r GROUP BY probe HAVING count(DISTINCT location) > 1
     ), ev AS (
       -- Sweep over each multi-location probe's failing stretches (one location's never overlap each other):
       -- m = false over all of them, m = true over those inside a maintenance window.
       SELECT f.probe, x.m, x.t, sum(x.d)::int AS d
       FROM fails f JOIN multi USING (probe)
       CROSS JOIN LATERAL (VALUES (false, f.s, 1), (false, f.e, -1), (true, f.s, 1), (true, f.e, -1)) AS x(m, t, d)
       WHERE NOT x.m OR f.maintenance
       GROUP BY 1, 2, 3
     ), lv AS (
       SELECT probe, m, t AS s, lead(t) OVER (PARTITION BY probe, m ORDER BY t) AS e, sum(d) OVER (PARTITION BY probe, m ORDER BY t) AS level FROM ev
     ), stretches AS (
       SELECT probe, location, system, s, e, false AS m FROM fails
       UNION ALL SELECT probe, location, system, s, e, true FROM fails WHERE maintenance
       UNION ALL SELECT lv.probe, '*' || j, multi.system, lv.s, lv.e, lv.m
       FROM lv JOIN multi USING (probe) CROSS JOIN LATERAL generate_series(1, lv.level::int) AS j WHERE lv.level > 0 AND lv.e > lv.s
     ), down AS (
       SELECT x.probe, x.location, max(x.system) AS system, h AS period_start,
              COALESCE(sum(${span('x.s', 'x.e')}) FILTER (WHERE NOT x.m), 0)::float8 AS down,
              COALESCE(sum(${span('x.s', 'x.e')}) FILTER (WHERE x.m), 0)::float8 AS mdown
       FROM stretches x CROSS JOIN LATERAL generate_series(date_trunc('hour', x.s, 'UTC'), x.e - interval '1 millisecond', interval '1 hour') AS h
       WHERE h >= date_trunc('hour', $1::timestamptz, 'UTC') AND h < $2::timestamptz
       GROUP BY 1, 2, 4
     ), computed AS (
       SELECT COALESCE(agg.probe, down.probe) AS probe, COALESCE(agg.location, down.location) AS location, COALESCE(agg.system, down.system) AS system,
              COALESCE(agg.period_start, down.period_start) AS period_start, COALESCE(agg.n, 0) AS n, COALESCE(agg.failures, 0) AS failures,
              COALESCE(down.down, 0) AS down, COALESCE(agg.mfailures, 0) AS mfailures, COALESCE(down.mdown, 0) AS mdown, agg.p50, agg.p95, agg.p99
       FROM agg FULL OUTER JOIN down ON agg.probe = down.probe AND agg.location = down.location AND agg.period_start = down.period_start
     ), stale AS (
       DELETE FROM probe_rollups o USING (SELECT DISTINCT probe, period_start FROM computed) c
       WHERE o.period = 'hour' AND o.probe = c.probe AND o.period_start = c.period_start
         AND NOT EXISTS (SELECT 1 FROM computed k WHERE k.probe = o.probe AND k.period_start = o.period_start AND k.location = o.location)
     )
     INSERT INTO probe_rollups (probe, location, system, period, period_start, count, failures, downtime_seconds,
                                maintenance_failures, maintenance_downtime_seconds, p50_ms, p95_ms, p99_ms, updated_at)
     SELECT probe, location, system, 'hour', period_start, n, failures, down, mfailures, mdown, p50, p95, p99, $3::timestamptz FROM computed
     ON CONFLICT (probe, location, period, period_start) DO UPDATE SET
       system = EXCLUDED.system, count = EXCLUDED.count, failures = EXCLUDED.failures, downtime_seconds = EXCLUDED.downtime_seconds,
       maintenance_failures = EXCLUDED.maintenance_failures, maintenance_downtime_seconds = EXCLUDED.maintenance_downtime_seconds,
       p50_ms = EXCLUDED.p50_ms, p95_ms = EXCLUDED.p95_ms, p99_ms = EXCLUDED.p99_ms, updated_at = EXCLUDED.updated_at`,
    [ts(fromMs), ts(toMs), ts(nowMs)],
  );
}

/**
 * Recompute daily roll-ups for the local days (in `zone`) overlapping [from, to), per probe and location (the
 * combined rows '*1', '*2', … too): counts and downtime are sums of the hourly roll-ups (exact for zones on
 * whole-hour offsets, as Asia/Almaty is); percentiles come from the raw rows of the day, so raw retention must
 * cover at least the days being rolled up.
 */
export async function rollupDays(q: Queryable, fromMs: number, toMs: number, zone: string, nowMs: number, opts: { percentiles?: boolean } = {}): Promise<void> {
  // Without percentiles the raw rows are not read (cheap enough for every pass); existing percentiles are kept.
  const withPct = opts.percentiles !== false;
  await q.query(
    `WITH bounds AS (
       SELECT date_trunc('day', $1::timestamptz, $3) AS lo, date_trunc('day', $2::timestamptz - interval '1 microsecond', $3) + interval '1 day' AS hi
     ), d AS (
       SELECT probe, location, max(system) AS system, date_trunc('day', period_start, $3) AS day,
              sum(count)::int AS n, sum(failures)::int AS failures, sum(downtime_seconds)::float8 AS down,
              sum(maintenance_failures)::int AS mfailures, sum(maintenance_downtime_seconds)::float8 AS mdown
       FROM probe_rollups, bounds WHERE period = 'hour' AND period_start >= bounds.lo AND period_start < bounds.hi
       GROUP BY 1, 2, 4
     ), p AS (
       SELECT probe, COALESCE(location, '') AS location, date_trunc('day', started_at, $3) AS day, ${pct(0.5)} AS p50, ${pct(0.95)} AS p95, ${pct(0.99)} AS p99
       FROM probe_results, bounds WHERE $5::boolean AND started_at >= bounds.lo AND started_at < bounds.hi
       GROUP BY 1, 2, 3
     ), stale AS (
       DELETE FROM probe_rollups o USING (SELECT DISTINCT probe, day FROM d) c
       WHERE o.period = 'day' AND o.probe = c.probe AND o.period_start = c.day
         AND NOT EXISTS (SELECT 1 FROM d k WHERE k.probe = o.probe AND k.day = o.period_start AND k.location = o.location)
     )
     INSERT INTO probe_rollups (probe, location, system, period, period_start, count, failures, downtime_seconds,
                                maintenance_failures, maintenance_downtime_seconds, p50_ms, p95_ms, p99_ms, updated_at)
     SELECT d.probe, d.location, d.system, 'day', d.day, d.n, d.failures, d.down, d.mfailures, d.mdown, p.p50, p.p95, p.p99, $4::timestamptz
     FROM d LEFT JOIN p ON p.probe = d.probe AND p.location = d.location AND p.day = d.day
     ON CONFLICT (probe, location, period, period_start) DO UPDATE SET
       system = EXCLUDED.system, count = EXCLUDED.count, failures = EXCLUDED.failures, downtime_seconds = EXCLUDED.downtime_seconds,
       maintenance_failures = EXCLUDED.maintenance_failures, maintenance_downtime_seconds = EXCLUDED.maintenance_downtime_seconds,
       p50_ms = COALESCE(EXCLUDED.p50_ms, probe_rollups.p50_ms), p95_ms = COALESCE(EXCLUDED.p95_ms, probe_rollups.p95_ms),
       p99_ms = COALESCE(EXCLUDED.p99_ms, probe_rollups.p99_ms), updated_at = EXCLUDED.updated_at`,
    [ts(fromMs), ts(toMs), zone, ts(nowMs), withPct],
  );
}

/** Delete raw results older than `beforeMs`, in bounded chunks. Returns the number deleted. */
export async function pruneResults(q: Queryable, beforeMs: number, chunk = 20_000): Promise<number> {
  let total = 0;
  for (let i = 0; i < 1000; i++) {
    const r = await q.query(
      'DELETE FROM probe_results WHERE id IN (SELECT id FROM probe_results WHERE started_at < $1::timestamptz ORDER BY started_at LIMIT $2)',
      [ts(beforeMs), chunk],
    );
    total += r.rowCount;
    if (r.rowCount < chunk) break;
  }
  return total;
}

export interface RollupOptions {
  store: Store;
  clock: Clock;
  /** Zone of daily roll-ups (default Asia/Almaty). */
  zone?: string;
  /** Raw results kept this many days (at least 3, so yesterday's percentiles can be computed). */
  rawRetentionDays?: number;
  everyMs?: number;
  onError?: (err: unknown) => void;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The periodic pass: roll up the last hours and days, then prune raw rows past retention. */
export class RollupJob {
  #timer?: Timer;
  #finalized?: string;
  #started = false;
  #running?: Promise<void>;

  constructor(private readonly o: RollupOptions) {}

  /**
   * Hours: the current and the previous hour (late rows land there). Days: today's counts from the hourly
   * roll-ups on every pass; a day's percentiles (a scan of its raw rows) once, after the day has ended
   * (again after a restart, harmlessly).
   */
  async runOnce(): Promise<void> {
    const now = this.o.clock.now();
    const zone = this.o.zone ?? 'Asia/Almaty';
    const yesterday = now - DAY;
    await this.o.store.tx(async (q) => {
      await rollupHours(q, now - HOUR, now + HOUR, now);
      await rollupDays(q, now, now + 1, zone, now, { percentiles: false });
      const key = localDay(yesterday, zone);
      if (this.#finalized !== key) {
        await rollupDays(q, yesterday, yesterday + 1, zone, now);
        this.#finalized = key;
      }
    });
    const days = Math.max(3, this.o.rawRetentionDays ?? 30);
    await pruneResults(this.o.store, now - days * DAY);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#arm();
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#timer?.cancel();
    await this.#running;
  }

  #arm(): void {
    if (!this.#started) return;
    this.#timer = this.o.clock.setTimeout(() => {
      this.#running = this.runOnce()
        .catch((err) => this.o.onError?.(err))
        .finally(() => {
          this.#running = undefined;
          this.#arm();
        });
    }, this.o.everyMs ?? 5 * 60_000);
  }
}

const localDay = (ms: number, zone: string) => new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
