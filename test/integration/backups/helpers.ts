import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../src/clock.ts';
import { resolveBackupsConfig, type BackupsConfig } from '../../../src/backups/config.ts';
import { BackupService } from '../../../src/backups/service.ts';
import type { Signal } from '../../../src/signals/signal.ts';
import type { SignalSink } from '../../../src/signals/sink.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, testDatabaseUrl } from '../../support/store.ts';

export { freshStore, testDatabaseUrl };

export class RecordingSink implements SignalSink {
  readonly signals: Signal[] = [];
  async submit(signals: Signal[]): Promise<unknown[]> {
    this.signals.push(...signals);
    return signals.map(() => ({}));
  }
  last(stage: string): Signal | undefined {
    return this.signals.filter((s) => s.labels.stage === stage).at(-1);
  }
}

export interface Harness {
  store: Store;
  clock: FakeClock;
  sink: RecordingSink;
  registry: Registry;
  service: BackupService;
  dir: string;
  lines: string[];
  close(): Promise<void>;
}

/** A service over a fresh (or the given, emptied) store, a fake clock at real time (files carry real mtimes), and a temp folder. */
export async function harness(cfg: (dir: string) => BackupsConfig, opts: { env?: NodeJS.ProcessEnv; store?: Store } = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'kuzet-backups-'));
  const store = opts.store ?? (await freshStore());
  // A store shared by the tests of one file (a fresh PGlite costs seconds): start each test from empty tables.
  if (opts.store) await store.exec('DELETE FROM backup_artifacts; DELETE FROM backup_runs; DELETE FROM backup_schedules; DELETE FROM backup_alerts');
  const clock = new FakeClock(Date.now());
  const sink = new RecordingSink();
  const registry = new Registry();
  const service = new BackupService({ store, clock, sink, registry, config: resolveBackupsConfig(cfg(dir)), env: opts.env });
  const lines: string[] = [];
  return {
    store, clock, sink, registry, service, dir, lines,
    async close() {
      await service.stop();
      if (!opts.store) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function metricValue(registry: Registry, name: string, job: string): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values as { value: number; labels: Record<string, string> }[] | undefined)?.find((v) => v.labels.job === job)?.value;
}

// --- a real PostgreSQL to back up ------------------------------------------------------------------

export function serverConn() {
  const u = new URL(testDatabaseUrl!);
  return { host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}

export async function admin<T>(fn: (c: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const c = new pg.Client({ ...serverConn(), database });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export const uniqueDbName = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

/** A source database with `users` (n rows) and `applications` (with updated_at). */
export async function createSourceDb(name: string, rows = 500, padBytes = 0): Promise<void> {
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  await admin(async (c) => {
    await c.query(`CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, pad text)`);
    await c.query(`INSERT INTO users SELECT g, 'user' || g || '@example.kz', ${padBytes ? `(SELECT string_agg(md5(random()::text || g || k), '') FROM generate_series(1, ${Math.ceil(padBytes / 32)}) k)` : 'NULL'} FROM generate_series(1, $1) g`, [rows]);
    await c.query(`CREATE TABLE applications (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`);
    await c.query(`INSERT INTO applications SELECT g, now() - (g || ' minutes')::interval FROM generate_series(1, 100) g`);
  }, name);
}

export async function dropDb(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

export async function dbExists(name: string): Promise<boolean> {
  return admin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rows.length > 0);
}

export const needsServer = testDatabaseUrl ? false : 'KUZET_TEST_DATABASE_URL is not set: these tests need a real PostgreSQL server to back up';
