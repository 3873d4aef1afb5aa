// Benchmark (not a test): three kuzet processes on one PostgreSQL sharing N tcp probes (issue 18).
//
//   KUZET_BENCH_DATABASE_URL=postgres://… node --import tsx bench/cluster/share.ts [--probes 10000] [--interval 30]
//     [--warmup 40] [--measure 60] [--after 60]
//
// Each instance is a `kuzet run` process (cluster.heartbeat 2s) with the same probe files; the targets are one
// TCP listener in this process on 127.0.0.1. Prints, from /proc and from probe_results:
// - CPU of each instance over the measured window and its deviation from an even share;
// - runs per probe and interval slot (a probe run twice in one slot is a duplicate);
// - after `kill -9` of one instance: for each of its probes, the time from the kill to its first run elsewhere,
//   against the interval; and duplicates after the takeover.
// Every process started here is stopped by its PID on exit. Traffic goes to 127.0.0.1 only.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { migrate } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/store.ts';
import { LIVE } from '../../src/cluster/index.ts';

const { values } = parseArgs({
  options: {
    probes: { type: 'string', default: '10000' },
    interval: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '40' },
    measure: { type: 'string', default: '60' },
    after: { type: 'string', default: '60' },
  },
});
const N = Math.min(Number(values.probes), 20_000);
const IV = Number(values.interval);
const WARMUP = Math.min(Number(values.warmup), 300);
const MEASURE = Math.min(Number(values.measure), 300);
const AFTER = Math.min(Number(values.after), 300);
const url = process.env.KUZET_BENCH_DATABASE_URL;
if (!url) throw new Error('set KUZET_BENCH_DATABASE_URL');

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const target = createServer((s) => s.end());
await new Promise<void>((r) => target.listen(0, '127.0.0.1', 4096, () => r()));
const port = (target.address() as AddressInfo).port;

const schema = `bench_cluster_${process.pid}`;
const admin = await openStore({ url, schema, poolSize: 2 });
await migrate(admin);
const dir = mkdtempSync(join(tmpdir(), 'kuzet-bench-cluster-'));
const probes = `probes:\n${Array.from({ length: N }, (_, i) => `  - { name: p${i}, kind: tcp, system: enbek, interval: ${IV}s, timeout: 5s, retries: 0, tcp: { host: 127.0.0.1, port: ${port} } }\n`).join('')}`;
mkdirSync(join(dir, 'probes'));
writeFileSync(join(dir, 'probes', 'probes.yaml'), probes);
const storeUrl = `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

const children = new Map<string, ChildProcess>();
const cleanup = () => {
  for (const c of children.values()) if (c.exitCode === null) c.kill('SIGKILL');
};
process.on('exit', cleanup);
for (const id of ['i1', 'i2', 'i3']) {
  writeFileSync(join(dir, `${id}.yaml`), `server:\n  listen: 127.0.0.1\n  port: 0\nstore:\n  url: "${storeUrl}"\n  pool_size: 4\nlog:\n  level: warn\nprobes_dir: probes\nprobes:\n  rollup_every: 1h\nsystems:\n  - { id: enbek, name: Exchange }\ncluster:\n  location: bench\n  heartbeat: 2s\n  instance_id: ${id}\n`);
  const c = spawn(process.execPath, ['bin/kuzet.js', 'run', '-c', join(dir, `${id}.yaml`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.set(id, c);
}
const cpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, seconds (USER_HZ 100)
};
const now = async () => Number((await admin.query<{ t: number }>('SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::float8 AS t')).rows[0]!.t);

console.log(`kuzet cluster share: ${N} tcp probes every ${IV}s over 3 instances; ${WARMUP}s warm-up, ${MEASURE}s measured, kill -9 of one, ${AFTER}s after`);
await sleep(WARMUP);
const live = (await admin.query<{ id: string; location: string }>('SELECT id, location FROM cluster_instances ORDER BY id')).rows;
console.log(`instances registered: ${live.map((r) => r.id).join(', ')}`);
const c0 = new Map([...children].map(([id, c]) => [id, cpu(c.pid!)]));
const t0 = await now();
await sleep(MEASURE);
const t1 = await now();
const used = [...children].map(([id, c]) => [id, cpu(c.pid!) - c0.get(id)!] as const);
const mean = used.reduce((a, [, s]) => a + s, 0) / used.length;
for (const [id, s] of used) console.log(`cpu ${id}: ${s.toFixed(1)} s (${((100 * s) / MEASURE).toFixed(1)} % of a core), ${(((s - mean) / mean) * 100).toFixed(1)} % from an even share`);
const q = async (from: number, to: number) =>
  (await admin.query<{ runs: number; probes: number; dup: number; instances: number }>(
    `WITH r AS (SELECT probe, instance, floor(EXTRACT(EPOCH FROM started_at) / $3) AS slot FROM probe_results
                WHERE started_at >= to_timestamp($1 / 1000.0) AND started_at < to_timestamp($2 / 1000.0)),
          s AS (SELECT probe, slot, count(*) AS n FROM r GROUP BY 1, 2)
     SELECT (SELECT count(*) FROM r)::int AS runs, (SELECT count(DISTINCT probe) FROM r)::int AS probes,
            (SELECT count(*) FROM s WHERE n > 1)::int AS dup, (SELECT count(DISTINCT instance) FROM r)::int AS instances`,
    [from, to, IV],
  )).rows[0]!;
const steady = await q(t0, t1);
console.log(`steady: ${steady.runs} runs of ${steady.probes} probes by ${steady.instances} instances; slots with a probe run twice: ${steady.dup}`);

// kill -9 one instance; its probes: those it ran in the measured window.
const victim = 'i3';
const owned = (await admin.query<{ probe: string }>(`SELECT DISTINCT probe FROM probe_results WHERE instance = $1 AND started_at >= to_timestamp($2 / 1000.0)`, [victim, t0])).rows.map((r) => r.probe);
const tk = await now();
children.get(victim)!.kill('SIGKILL');
// When the store counts it dead (its session gone); the others see that at their next heartbeat.
let deadAfter = NaN;
for (let i = 0; i < 200; i++) {
  const r = await admin.query<{ live: boolean }>(`SELECT ${LIVE('i')} AS live FROM cluster_instances i WHERE id = $2`, [Date.now(), victim]);
  if (r.rows[0]?.live === false) {
    deadAfter = ((await now()) - tk) / 1000;
    break;
  }
  await sleep(0.05);
}
await sleep(AFTER);
const t2 = await now();
const taken = (await admin.query<{ probe: string; first: number }>(
  `SELECT probe, (EXTRACT(EPOCH FROM min(started_at)) * 1000)::float8 AS first FROM probe_results
   WHERE probe = ANY($1::text[]) AND instance <> $2 AND started_at >= to_timestamp($3 / 1000.0) GROUP BY probe`,
  [owned, victim, tk],
)).rows;
const delays = taken.map((r) => (Number(r.first) - tk) / 1000).sort((a, b) => a - b);
const p = (x: number) => delays[Math.min(delays.length - 1, Math.floor(x * delays.length))]?.toFixed(1);
console.log(`kill -9 ${victim}: ${owned.length} probes; taken over ${taken.length}; from the kill to the first run elsewhere p50 ${p(0.5)} s, p99 ${p(0.99)} s, max ${delays.at(-1)?.toFixed(1)} s (interval ${IV} s, heartbeat 2 s)`);
const late = delays.filter((d) => d > IV);
console.log(`dead in the store ${deadAfter.toFixed(2)} s after the kill; first runs later than one interval: ${late.length}${late.length ? ` (${late.slice(0, 10).map((d) => d.toFixed(1)).join(', ')} s)` : ''}`);
const after = await q(tk + (delays.at(-1) ?? 0) * 1000 + 1000, t2);
console.log(`after the takeover: ${after.runs} runs of ${after.probes} probes by ${after.instances} instances; slots with a probe run twice: ${after.dup}`);
console.log(`BENCHJSON ${JSON.stringify({ probes: N, interval_s: IV, cpu: Object.fromEntries(used), steady, killed: owned.length, taken: taken.length, takeover_max_s: delays.at(-1), dead_after_s: deadAfter, later_than_interval: late.length, after })}`);

cleanup();
await sleep(1);
await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
await admin.close();
target.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
