import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { quoteIdent, type Queryable, type Store, type StoreOptions } from './store.ts';

export async function openPglite(dataDir: string, opts: StoreOptions): Promise<Store & { dumpImage(): Promise<Blob> }> {
  if (!dataDir.includes('://')) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir, {
    parsers: { 20: (v: string) => Number(v), 1700: (v: string) => Number(v) },
    ...(opts.image ? { loadDataDir: opts.image } : {}),
  });
  if (opts.schema) {
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}; SET search_path TO ${quoteIdent(opts.schema)}`);
  }
  const wrap = (c: Pick<PGlite, 'query'>): Queryable => ({
    async query<T>(sql: string, params?: unknown[]) {
      const r = await c.query<T>(sql, params as unknown[]);
      return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
    },
  });
  const base = wrap(db);
  let closed = false;
  // PGlite is one connection: a transaction holds it, and other queries wait for it to finish.
  return {
    kind: 'pglite',
    dumpImage: () => db.dumpDataDir('none'),
    query: base.query,
    async exec(sql) {
      await db.exec(sql);
    },
    tx: (fn) => db.transaction((t) => fn(wrap(t))),
    session: (fn) => fn(base),
    async close() {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}
