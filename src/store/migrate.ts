import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Store } from './store.ts';

const DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(DIR + f, 'utf8') }));
}

const LOCK_KEY = 7_305_001; // pg_advisory_xact_lock key: two instances starting together migrate one at a time

/** Apply every migration not yet applied, each in its own transaction. Returns the names applied. */
export async function migrate(store: Store, log: (msg: string) => void = () => {}): Promise<string[]> {
  await store.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: string[] = [];
  for (const m of listMigrations()) {
    const done = await store.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock(hashtext(current_schema()), $1)', [LOCK_KEY]);
      const seen = await q.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (seen.rows.length > 0) return false;
      for (const stmt of splitSql(m.sql)) await q.query(stmt);
      await q.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) {
      applied.push(m.name);
      log(`applied migration ${m.name}`);
    }
  }
  return applied;
}

/** The versions missing from the store (empty when it is up to date). */
export async function pendingMigrations(store: Store): Promise<string[]> {
  const have = new Set<number>();
  try {
    const r = await store.query<{ version: number }>('SELECT version FROM schema_migrations');
    for (const row of r.rows) have.add(row.version);
  } catch {
    // no table yet: everything is pending
  }
  return listMigrations().filter((m) => !have.has(m.version)).map((m) => m.name);
}

/** Split a migration into statements (our migrations hold no semicolons inside literals or bodies). */
function splitSql(sql: string): string[] {
  return sql
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}
