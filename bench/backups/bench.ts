// Backup and restore drill of a generated ~1 GB PostgreSQL database: kuzet against bare
// pg_dump / pg_restore, side by side in one run (A B A B), median of REPS.
//
//   BENCH_DATABASE_URL=postgres://kuzet:kuzet@127.0.0.1:5432/postgres SIZE_MB=1024 REPS=3 \
//     node --import tsx bench/backups/bench.ts
//
// The database (kuzet_bench_<SIZE_MB>mb) is generated once and kept for reruns unless KEEP_DB=0.
// Scratch files go to RUN_DIR (default: the OS temp folder). kuzet's own store is an in-memory PGlite.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Registry } from 'prom-client';
import { resolveBackupsConfig } from '../../src/backups/config.ts';
import { BackupService } from '../../src/backups/service.ts';
import { systemClock } from '../../src/clock.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/store.ts';

const url = new URL(process.env.BENCH_DATABASE_URL ?? process.env.KUZET_TEST_DATABASE_URL ?? 'postgres://kuzet:kuzet@127.0.0.1:5432/postgres');
const conn = { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
const sizeMb = Number(process.env.SIZE_MB ?? 1024);
const reps = Number(process.env.REPS ?? 3);
const runDir = process.env.RUN_DIR ?? join(tmpdir(), 'kuzet-bench-backups');
const db = `kuzet_bench_${sizeMb}mb`;
const scratch = `kuzet_bench_scratch`;

async function withClient<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ ...conn, database });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function generate(): Promise<number> {
  const exists = await withClient('postgres', async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rows.length > 0);
  if (!exists) {
    console.log(`generating ${db} (~${sizeMb} MB)…`);
    await withClient('postgres', (c) => c.query(`CREATE DATABASE ${db}`));
    await withClient(db, async (c) => {
      await c.query(`CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, region text NOT NULL)`);
      await c.query(`INSERT INTO users SELECT g, 'user' || g || '@example.kz', 'region-' || (g % 17) FROM generate_series(1, 100000) g`);
      await c.query(`CREATE TABLE events (id bigint PRIMARY KEY, user_id int NOT NULL, kind text NOT NULL, payload text NOT NULL, updated_at timestamptz NOT NULL)`);
      let next = 1;
      const batch = 250_000;
      for (;;) {
        const size = Number((await c.query(`SELECT pg_database_size(current_database()) AS s`)).rows[0].s) / 1048576;
        if (size >= sizeMb) break;
        await c.query(
          `INSERT INTO events SELECT g, (g % 100000) + 1, (ARRAY['login','apply','update','view'])[1 + g % 4],
             md5(g::text) || md5((g * 31)::text) || md5((g * 97)::text), now() - (g % 864000) * interval '1 second'
           FROM generate_series($1::bigint, $2::bigint) g`,
          [next, next + batch - 1],
        );
        next += batch;
      }
      await c.query(`CREATE INDEX events_updated_idx ON events (updated_at)`);
      await c.query(`VACUUM ANALYZE`);
    });
  }
  return withClient(db, async (c) => Number((await c.query(`SELECT pg_database_size(current_database()) AS s`)).rows[0].s));
}

function timed(cmd: string, args: string[]): number {
  const env = { ...process.env, PGHOST: conn.host, PGPORT: String(conn.port), PGUSER: conn.user, PGPASSWORD: conn.password };
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with ${r.status}`);
  return (performance.now() - t0) / 1000;
}

/** CPU seconds of this process plus its reaped children (pg_dump, pg_restore, tar), from /proc. */
function cpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const ticks = fields.slice(11, 15).reduce((a, f) => a + Number(f), 0); // utime stime cutime cstime
  return ticks / 100;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `${median(xs).toFixed(2)} s (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

async function main(): Promise<void> {
  const bytes = await generate();
  await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });
  const store = await openStore({ dataDir: 'memory://' });
  await migrate(store);
  const config = resolveBackupsConfig({
    jobs: [
      {
        name: 'bench',
        kind: 'postgres',
        dir: join(runDir, 'kuzet'),
        postgres: { ...conn, database: db },
        retention: { keep_last: 1 },
        drill: {
          scratch_database: scratch,
          validations: [
            { name: 'events-count', kind: 'row_count', table: 'events' },
            { name: 'users-checksum', kind: 'checksum', query: `SELECT md5(string_agg(id || email, ',' ORDER BY id)) FROM users` },
            { name: 'events-fresh', kind: 'freshness', table: 'events', column: 'updated_at', max_lag: '30d' },
          ],
        },
      },
    ],
  });
  const service = new BackupService({ store, clock: systemClock, config, registry: new Registry(), sink: { submit: async (s) => s } });
  type Sample = { wall: number; cpu: number };
  const bare = { dump: [] as Sample[], drill: [] as Sample[] };
  const kz = { backup: [] as number[], backupVerify: [] as Sample[], drill: [] as Sample[], restore: [] as number[] };
  const bareFile = join(runDir, 'bare.dump');
  const checkpoint = () => withClient('postgres', (c) => c.query('CHECKPOINT'));

  async function measure(fn: () => Promise<void> | void): Promise<Sample> {
    const [t0, c0] = [performance.now(), cpuSeconds()];
    await fn();
    return { wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 };
  }
  const bareDump = async () => {
    await rm(bareFile, { force: true }); // a new file each time, as kuzet writes one
    bare.dump.push(await measure(() => void timed('pg_dump', ['-Fc', '-w', '-f', bareFile, db])));
  };
  const bareDrill = async () =>
    bare.drill.push(
      await measure(() => {
        timed('createdb', ['-w', scratch]);
        timed('pg_restore', ['--no-owner', '--no-acl', '--exit-on-error', '-w', '-j', '1', '-d', scratch, bareFile]);
        timed('dropdb', ['-w', scratch]);
      }),
    );
  const kuzetBackup = async () => {
    let result: Awaited<ReturnType<typeof service.run>>[number] | undefined;
    kz.backupVerify.push(await measure(async () => void ([result] = await service.run('backup', 'bench'))));
    if (!result?.ok) throw new Error(`kuzet backup failed: ${result?.reason}`);
    // The backup step alone (dump, fsync, sha256, rename, record), without the verification that follows it.
    kz.backup.push(result.durationMs / 1000);
  };
  const kuzetDrill = async () => {
    let result: Awaited<ReturnType<typeof service.run>>[number] | undefined;
    kz.drill.push(await measure(async () => void ([result] = await service.run('drill', 'bench'))));
    if (!result?.ok) throw new Error(`kuzet drill failed: ${result?.reason}`);
    kz.restore.push(result.detail.restoreSeconds as number);
  };

  // Dumps back to back, then drills back to back, each after a CHECKPOINT, alternating which goes
  // first (A B, B A, …) so neither always meets the other's write-back or the warmer cache.
  for (let i = 0; i < reps; i++) {
    for (const step of i % 2 === 0 ? [bareDump, kuzetBackup] : [kuzetBackup, bareDump]) {
      await checkpoint();
      await step();
    }
    console.log(`dump rep ${i + 1}: bare ${bare.dump.at(-1)!.wall.toFixed(2)} s, kuzet ${kz.backup.at(-1)!.toFixed(2)} s (with verification ${kz.backupVerify.at(-1)!.wall.toFixed(2)} s)`);
  }
  for (let i = 0; i < reps; i++) {
    for (const step of i % 2 === 0 ? [bareDrill, kuzetDrill] : [kuzetDrill, bareDrill]) {
      await checkpoint();
      await step();
    }
    console.log(`drill rep ${i + 1}: bare ${bare.drill.at(-1)!.wall.toFixed(2)} s, kuzet ${kz.drill.at(-1)!.wall.toFixed(2)} s (restore step ${kz.restore.at(-1)!.toFixed(2)} s)`);
  }
  await rm(bareFile, { force: true });

  // The box is shared, so wall times swing between reps; the pair measured back to back is the fair comparison.
  const pct = (a: number[], b: number[]) => {
    const paired = a.map((x, k) => ((x - b[k]!) / b[k]!) * 100);
    return `paired overhead median ${median(paired).toFixed(1)}% (per rep: ${paired.map((p) => p.toFixed(1)).join(', ')})`;
  };
  const wall = (xs: Sample[]) => xs.map((x) => x.wall);
  const cpu = (xs: Sample[]) => xs.map((x) => x.cpu);
  const dumpSize = (await service.status())[0]!.latest?.sizeBytes ?? 0;
  console.log(`\ndatabase ${db}: ${(bytes / 1048576).toFixed(0)} MB on disk, dump ${(dumpSize / 1048576).toFixed(0)} MB, ${reps} reps, median (min–max)`);
  console.log('wall time');
  console.log(`  backup  bare pg_dump -Fc                        ${fmt(wall(bare.dump))}`);
  console.log(`  backup  kuzet backup step                       ${fmt(kz.backup)}  ${pct(kz.backup, wall(bare.dump))}`);
  console.log(`  backup  kuzet backup + verify + retention       ${fmt(wall(kz.backupVerify))}  ${pct(wall(kz.backupVerify), wall(bare.dump))}`);
  console.log(`  drill   bare createdb + pg_restore + dropdb     ${fmt(wall(bare.drill))}`);
  console.log(`  drill   kuzet restore step                      ${fmt(kz.restore)}  ${pct(kz.restore, wall(bare.drill))}`);
  console.log(`  drill   kuzet whole drill (sha256, 3 checks)    ${fmt(wall(kz.drill))}  ${pct(wall(kz.drill), wall(bare.drill))}`);
  console.log('CPU time of the client side (this process + its child tools; the server backend is the same for both)');
  console.log(`  backup  bare ${fmt(cpu(bare.dump))}, kuzet + verify ${fmt(cpu(kz.backupVerify))}  ${pct(cpu(kz.backupVerify), cpu(bare.dump))}`);
  console.log(`  drill   bare ${fmt(cpu(bare.drill))}, kuzet ${fmt(cpu(kz.drill))}  ${pct(cpu(kz.drill), cpu(bare.drill))}`);
  await store.close();
  await rm(runDir, { recursive: true, force: true });
  if (process.env.KEEP_DB === '0') await withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
}

await main();
