// Benchmark prober: kuzet's probe source running N http probes against a local target, on its own
// schedule, storing results, until the duration ends or SIGTERM. Not a test.
//
//   node --import tsx bench/probes/prober.ts --url http://127.0.0.1:18080/health --targets 10000 --interval 30s --duration 150
//   PROBE_TARGETS_FILE=targets.txt node --import tsx bench/probes/prober.ts --interval 30s   (peers harness mode)
//
// Prints one JSON line per report: CPU seconds and % of one core (with --store postgres, the CPU of the
// PostgreSQL backend storing the results is included), RSS, probes run, start lateness percentiles over
// the report window, rows written. `--warmup S` excludes the first seconds.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { parseDuration, systemClock } from '../../src/clock.ts';
import { ProbeService } from '../../src/sources/probes/service.ts';
import type { ProbeDefinition } from '../../src/sources/probes/types.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openStore, type Store } from '../../src/store/store.ts';

const { values: a } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:18080/health' },
    targets: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '30s' },
    timeout: { type: 'string', default: '5s' },
    duration: { type: 'string', default: '0' },
    warmup: { type: 'string', default: '35' },
    report: { type: 'string', default: '30' },
    store: { type: 'string', default: 'embedded' }, // embedded (a throwaway embedded server) | postgres | none
    concurrency: { type: 'string', default: '256' },
  },
});

const file = process.env.PROBE_TARGETS_FILE;
const urls = file
  ? readFileSync(file, 'utf8').split('\n').filter(Boolean)
  : Array.from({ length: Number(a.targets) }, (_v, i) => `${a.url}${a.url!.includes('?') ? '&' : '?'}t=${i}`);

let store: Store | undefined;
if (a.store === 'embedded') store = await openStore({ dataDir: 'memory://' });
else if (a.store === 'postgres') {
  // One connection, so the server-side CPU of storing results can be read from that backend's /proc entry.
  store = await openStore({ url: process.env.KUZET_BENCH_DATABASE_URL ?? 'postgres://kuzet:kuzet@127.0.0.1:5432/kuzet_test', schema: `bench_${process.pid}`, poolSize: 1 });
}
if (store) await migrate(store);
const backendPid = store?.kind === 'postgres' ? (await store.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid : undefined;
/** CPU seconds used so far by the PostgreSQL backend serving this process (0 without one). */
const backendCpuS = () => {
  if (!backendPid) return 0;
  try {
    const f = readFileSync(`/proc/${backendPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return 0;
  }
};

let signals = 0;
const sink = { submit: async (s: unknown[]) => ((signals += s.length), s.map(() => ({}))) };
const svc = new ProbeService({
  clock: systemClock,
  sink,
  store,
  registry: new Registry(),
  settings: { concurrency: Number(a.concurrency), rollup_every: '60s' },
});
const probes: ProbeDefinition[] = urls.map((url, i) => ({
  name: `bench-${i}`,
  kind: 'http',
  system: 'bench',
  interval: a.interval,
  timeout: a.timeout,
  http: { url, expect_status: [200], assertions: [{ contains: 'ok' }] },
}));
await svc.apply([{ probes }]);
await svc.start();

const t0 = performance.now();
let mark = { t: t0, cpu: process.cpuUsage(), started: 0, pg: backendCpuS() };
const pct = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

function report(final = false) {
  const now = performance.now();
  const cpu = process.cpuUsage(mark.cpu);
  const pgS = backendCpuS() - mark.pg;
  const cpuS = (cpu.user + cpu.system) / 1e6 + pgS;
  const wall = (now - mark.t) / 1000;
  const st = svc.schedulerStats;
  const late = st.lateness.splice(0); // the scheduler's ring is ours to drain between reports
  const ran = st.started - mark.started;
  const line = {
    final,
    elapsed_s: Math.round((now - t0) / 1000),
    window_s: Math.round(wall * 10) / 10,
    probes: urls.length,
    runs: ran,
    runs_per_s: Math.round((ran / wall) * 10) / 10,
    cpu_pct_of_core: Math.round((cpuS / wall) * 1000) / 10,
    postgres_backend_cpu_s: Math.round(pgS * 100) / 100,
    cpu_s_per_1k_probes: ran ? Math.round((cpuS / ran) * 1000 * 10000) / 10000 : null,
    rss_mb: Math.round(process.memoryUsage().rss / 1048576),
    heap_used_mb: Math.round(process.memoryUsage().heapUsed / 1048576),
    max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    lateness_ms: { p50: pct(late, 0.5), p99: pct(late, 0.99), max: late.length ? Math.max(...late) : null },
    skipped_overlap: st.skippedOverlap,
    rows_written: svc.writer?.written ?? 0,
    rows_dropped: svc.writer?.dropped ?? 0,
    signals,
  };
  process.stdout.write(`PROBEJSON ${JSON.stringify(line)}\n`);
  mark = { t: now, cpu: process.cpuUsage(), started: st.started, pg: backendCpuS() };
}

const warmupMs = parseDuration(`${a.warmup}s`) ?? 0;
const reportMs = parseDuration(`${a.report}s`) ?? 30_000;
setTimeout(() => {
  report(); // ends the warm-up window
  const every = setInterval(() => report(), reportMs);
  const durationS = Number(a.duration);
  if (durationS > 0) setTimeout(() => void finish(every), durationS * 1000);
  process.once('SIGTERM', () => void finish(every));
  process.once('SIGINT', () => void finish(every));
}, warmupMs);

async function finish(every: NodeJS.Timeout) {
  clearInterval(every);
  report(true);
  await svc.stop();
  await store?.close();
  process.exit(0);
}
