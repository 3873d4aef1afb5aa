// Availability report speed: a year of 30-second probe results for 20 systems (about 21 M raw rows, hourly and
// daily roll-ups and the outages' incidents in place) on a PostgreSQL server. Measures the monthly and the
// yearly availability report (kuzet's path: incidents, their timelines and the daily roll-ups) side by side
// with the naive query over the raw results (union of failed results per system), in the same run.
//
//   KUZET_BENCH_DATABASE_URL=postgres://user:pass@127.0.0.1:5432/db node --import tsx bench/reports/availability.ts
//
// The data is generated once into the schema bench_reports (kept for the next run; pass --reseed to rebuild).

import { FakeClock } from '../../src/clock.ts';
import { loadCalendarFile } from '../../src/requests/calendar-file.ts';
import { buildReport, type ReportContext } from '../../src/reports/build.ts';
import { parsePeriod } from '../../src/reports/period.ts';
import { rollupDays, rollupHours } from '../../src/sources/probes/results.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openStore, type Store } from '../../src/store/store.ts';

const URL_ = process.env.KUZET_BENCH_DATABASE_URL;
if (!URL_) {
  console.error('set KUZET_BENCH_DATABASE_URL to a PostgreSQL server (postgres://user:pass@127.0.0.1:5432/db)');
  process.exit(2);
}
const SCHEMA = 'bench_reports';
const SYSTEMS = Array.from({ length: 20 }, (_, i) => `sys-${String(i + 1).padStart(2, '0')}`);
const YEAR_FROM = Date.parse('2025-01-01T00:00:00+05:00');
const YEAR_TO = Date.parse('2026-01-01T00:00:00+05:00');
const DAY = 86_400_000;

/** Deterministic outages: per system about six a month, 2 to 60 minutes, on 30-second boundaries. */
function outages(): { system: string; start: number; end: number }[] {
  let seed = 20251;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const out: { system: string; start: number; end: number }[] = [];
  for (const system of SYSTEMS) {
    for (let t = YEAR_FROM + Math.floor(rnd() * 5 * DAY); t < YEAR_TO - DAY; t += Math.floor((2 + rnd() * 8) * DAY)) {
      const start = Math.floor(t / 30_000) * 30_000;
      out.push({ system, start, end: start + (4 + Math.floor(rnd() * 116)) * 30_000 });
    }
  }
  return out;
}

async function seed(store: Store): Promise<void> {
  const t0 = performance.now();
  await store.exec(`TRUNCATE probe_results, probe_rollups, incidents, incident_events, signals RESTART IDENTITY CASCADE`);
  await store.exec(`ALTER TABLE probe_results SET (autovacuum_enabled = false)`);
  await store.exec('DROP INDEX IF EXISTS probe_results_probe_idx; DROP INDEX IF EXISTS probe_results_started_idx');
  for (const system of SYSTEMS) {
    await store.query(
      `INSERT INTO probe_results (probe, system, started_at, duration_ms, ok, interval_s, maintenance, reason)
       SELECT $1 || '-web', $1, g, 80 + (extract(epoch FROM g)::bigint % 97), true, 30, false, NULL
         FROM generate_series($2::timestamptz, $3::timestamptz - interval '30 seconds', interval '30 seconds') AS g`,
      [system, new Date(YEAR_FROM).toISOString(), new Date(YEAR_TO).toISOString()],
    );
    process.stderr.write(`results ${system} ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  await store.exec('CREATE INDEX probe_results_probe_idx ON probe_results (probe, started_at); CREATE INDEX probe_results_started_idx ON probe_results (started_at)');
  const os = outages();
  await store.query(
    `UPDATE probe_results r SET ok = false, reason = 'status 502' FROM jsonb_to_recordset($1::jsonb) AS o(system text, s timestamptz, e timestamptz)
      WHERE r.probe = o.system || '-web' AND r.started_at >= o.s AND r.started_at < o.e`,
    [JSON.stringify(os.map((o) => ({ system: o.system, s: new Date(o.start).toISOString(), e: new Date(o.end).toISOString() })))],
  );
  await store.exec('ANALYZE probe_results');
  process.stderr.write(`outages marked (${os.length}) ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  // The incidents a live kuzet would have: confirmed after 3 failures, recovered after 2 successes.
  let id = 0;
  for (const o of os) {
    id++;
    const opened = new Date(o.start + 60_000).toISOString();
    const resolved = new Date(o.end + 30_000).toISOString();
    await store.query(
      `INSERT INTO incidents (id, fingerprint, source, system, check_name, title, severity, status, labels, opened_at, resolved_at, last_signal_at, updated_at)
       VALUES ($1, 'probe:' || $2, 'probe', $3, $2, $2 || ': status 502', 'critical', 'resolved', '{"kind":"http"}', $4, $5, $5, $5)`,
      [id, `${o.system}-web`, o.system, opened, resolved],
    );
    await store.query(`INSERT INTO incident_events (incident_id, at, kind, actor, detail) VALUES ($1, $2, 'opened', 'probe', '{}'), ($1, $3, 'resolved', 'probe', '{}')`, [id, opened, resolved]);
    await store.query(
      `INSERT INTO signals (source, system, check_name, fingerprint, severity, status, summary, labels, payload, content_hash, observed_at, last_observed_at, received_at, incident_id)
       VALUES ('probe', $1, $2, 'probe:' || $2, 'critical', 'firing', $2 || ': status 502', '{}', '{"reason":"status 502","failed_assertions":[{"name":"status in [200]"}]}', 'h', $3, $3, $3, $4)`,
      [o.system, `${o.system}-web`, opened, id],
    );
  }
  await store.exec(`SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))`);
  process.stderr.write(`incidents ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  for (let d = YEAR_FROM; d < YEAR_TO; d += 7 * DAY) {
    const e = Math.min(YEAR_TO, d + 7 * DAY);
    await store.tx(async (q) => {
      await rollupHours(q, d, e, YEAR_TO);
      await rollupDays(q, d, e, 'Asia/Almaty', YEAR_TO);
    });
  }
  await store.exec('ANALYZE');
  await store.exec(`CREATE TABLE IF NOT EXISTS bench_seeded (at timestamptz)`);
  await store.exec(`INSERT INTO bench_seeded VALUES (now())`);
  process.stderr.write(`roll-ups ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

const NAIVE = `
WITH r AS (
  SELECT system, started_at AS s, ok,
         LEAST(COALESCE(lead(started_at) OVER (PARTITION BY probe ORDER BY started_at), 'infinity'), started_at + make_interval(secs => interval_s)) AS e
    FROM probe_results WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz AND system = ANY($3::text[])
), f AS (SELECT system, s, e FROM r WHERE NOT ok),
g AS (SELECT system, s, e, CASE WHEN s <= max(e) OVER (PARTITION BY system ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS brk FROM f),
h AS (SELECT system, s, e, sum(brk) OVER (PARTITION BY system ORDER BY s) AS grp FROM g)
SELECT system, sum(extract(epoch FROM ge - gs))::float8 AS down_s, count(*)::int AS outages
  FROM (SELECT system, grp, min(s) AS gs, max(e) AS ge FROM h GROUP BY 1, 2) x GROUP BY 1 ORDER BY 1`;

async function time<T>(fn: () => Promise<T>, runs: number): Promise<{ ms: number[]; value: T }> {
  const ms: number[] = [];
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    value = await fn();
    ms.push(performance.now() - t);
  }
  return { ms, value };
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const store = await openStore({ url: URL_!, schema: SCHEMA, poolSize: 4 });
  await migrate(store);
  const seeded = await store.query(`SELECT to_regclass('bench_seeded') IS NOT NULL AS ok`);
  if (process.argv.includes('--reseed') || !(seeded.rows[0] as { ok: boolean }).ok) await seed(store);
  const n = await store.query<{ n: string }>('SELECT count(*)::text AS n FROM probe_results');
  const calendar = loadCalendarFile('config/calendars/kz.yaml').calendar;
  const clock = new FakeClock('2026-01-10T00:00:00Z');
  const ctx: ReportContext = {
    q: store, now: clock.now(), version: 'bench', calendar, backups: [], maintenance: [],
    systems: SYSTEMS.map((id) => ({ id, name: id })),
    probes: SYSTEMS.map((s) => ({ name: `${s}-web`, system: s, kind: 'http', availability: true, enabled: true, labels: {} })),
    nqs: { system: 'sys-01', owner: 'x', due: '12-15' },
  };
  const runs = Number(process.env.RUNS ?? 5);
  console.log(`raw results: ${Number(n.rows[0]!.n).toLocaleString('en')}; ${runs} runs each, median`);
  for (const label of ['2025-06', '2025']) {
    const p = parsePeriod(label);
    const k = await time(() => buildReport(ctx, { kind: 'availability', period: p }), runs);
    const naive = await time(() => store.query<{ system: string; down_s: number }>(NAIVE, [new Date(p.from).toISOString(), new Date(p.to).toISOString(), SYSTEMS]), Math.min(runs, 3));
    const kDown = (k.value.tables[0]!.rows as { downtime_min: number }[]).reduce((a, r) => a + r.downtime_min, 0);
    const nDown = naive.value.rows.reduce((a, r) => a + r.down_s / 60, 0);
    console.log(
      `${label.padEnd(7)} kuzet report ${med(k.ms).toFixed(0)} ms (runs ${k.ms.map((x) => x.toFixed(0)).join(', ')}) | naive over raw ${med(naive.ms).toFixed(0)} ms` +
        ` (runs ${naive.ms.map((x) => x.toFixed(0)).join(', ')}) | ratio ${(med(naive.ms) / med(k.ms)).toFixed(1)}x | down: kuzet ${kDown.toFixed(1)} min (confirmed), naive ${nDown.toFixed(1)} min (every failed result)`,
    );
  }
  await store.close();
}

await main();
