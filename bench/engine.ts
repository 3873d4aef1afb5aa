// Signals through the incident engine into the store, per second: PGlite and PostgreSQL, one signal per
// transaction ("single") and group commit with many concurrent submitters ("batched"); for two workloads:
// "unique" (every signal a new failure: a new incident, ledger row and timeline event) and "repeat"
// (1,000 steady alerts re-sent over and over: folded into their ledger rows).
//
//   node --import tsx bench/engine.ts [--seconds 10] [--pg postgres://…] [--stores pglite,postgres]
//
// Not a test: figures depend on the machine. Results go to stdout as a Markdown table.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.ts';
import { IncidentEngine } from '../src/incidents/engine.ts';
import { GroupCommitter } from '../src/signals/batcher.ts';
import type { Signal } from '../src/signals/signal.ts';
import { migrate } from '../src/store/migrate.ts';
import { openStore, type Store } from '../src/store/store.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    pg: { type: 'string', default: process.env.KUZET_BENCH_DATABASE_URL ?? 'postgres://kuzet:kuzet@127.0.0.1:5432/kuzet_test' },
    stores: { type: 'string', default: 'pglite,postgres' },
    clients: { type: 'string', default: '256' },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);

function signal(workload: string, i: number): Signal {
  const fp = workload === 'unique' ? `u-${i}-${randomBytes(4).toString('hex')}` : `steady-${i % 1000}`;
  return {
    source: 'alertmanager',
    system: `sys-${i % 17}`,
    check: 'KuzetBench',
    fingerprint: fp,
    severity: 'critical',
    status: 'firing',
    summary: 'Instance has been unreachable for more than 5 minutes.',
    labels: { alertname: 'KuzetBench', instance: `host-${i % 1000}.example.internal:9100`, job: 'node', severity: 'critical' },
    payload: { annotations: { summary: 'Synthetic benchmark alert' } },
    observedAt: systemClock.now(),
  };
}

async function fresh(kind: string): Promise<Store> {
  const store = kind === 'pglite' ? await openStore({ dataDir: `/tmp/kuzet-bench-pglite-${process.pid}-${Date.now()}` }) : await openStore({ url: values.pg, schema: `bench_${randomBytes(4).toString('hex')}`, poolSize: 4 });
  await migrate(store);
  return store;
}

async function measure(kind: string, mode: string, workload: string) {
  const store = await fresh(kind);
  const engine = new IncidentEngine({ store, clock: systemClock, policy: () => ({ reopenWindowMs: 1_800_000, flapFlips: 6, flapWindowMs: 3_600_000 }) });
  const batcher = new GroupCommitter<Signal, unknown>((s) => engine.processBatch(s), { maxBatch: 2000, maxQueue: 1_000_000 });
  let n = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const s = signal(workload, n++);
      const t0 = performance.now();
      if (mode === 'single') await engine.processBatch([s]);
      else await batcher.submit([s]);
      latencies.push(performance.now() - t0);
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: mode === 'single' ? 1 : clients }, worker));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const total = (await store.query<{ n: number }>('SELECT coalesce(sum(repeat_count),0)::int AS n FROM signals')).rows[0]!.n;
  const rows = (await store.query<{ n: number }>('SELECT count(*)::int AS n FROM signals')).rows[0]!.n;
  latencies.sort((a, b) => a - b);
  await store.close();
  return {
    kind, mode, workload,
    perSec: Math.round(total / wall),
    committed: total,
    rows,
    p50: latencies[Math.floor(latencies.length * 0.5)]!.toFixed(1),
    p99: latencies[Math.floor(latencies.length * 0.99)]!.toFixed(1),
    cpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
    batches: batcher.batches,
  };
}

console.log(`| store | mode | workload | signals/s committed | signals in ledger | ledger rows | submit p50 ms | submit p99 ms | kuzet CPU % | transactions |`);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const kind of values.stores!.split(',')) {
  for (const mode of ['single', 'batched']) {
    for (const workload of ['unique', 'repeat']) {
      const r = await measure(kind, mode, workload);
      console.log(`| ${r.kind} | ${r.mode} | ${r.workload} | ${r.perSec} | ${r.committed} | ${r.rows} | ${r.p50} | ${r.p99} | ${r.cpuPct} | ${r.mode === 'single' ? r.committed : r.batches} |`);
    }
  }
}
