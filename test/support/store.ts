import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listMigrations, migrate } from '../../src/store/migrate.ts';
import { openStore, type Store } from '../../src/store/store.ts';

/** The store the integration tiers run on: real PostgreSQL when KUZET_TEST_DATABASE_URL is set, else PGlite. */
export const testDatabaseUrl = process.env.KUZET_TEST_DATABASE_URL || undefined;
export const storeKind = testDatabaseUrl ? 'postgres' : 'pglite';

let image: Promise<Blob> | undefined;

/**
 * A migrated PGlite image: a new in-memory store loads it instead of running initdb (seconds each). It is cached
 * in the temp folder, keyed by the migrations and the PGlite version, so test processes share one.
 */
function pgliteImage(): Promise<Blob> {
  image ??= (async () => {
    const h = createHash('sha256');
    for (const m of listMigrations()) h.update(m.name).update(m.sql);
    h.update(JSON.parse(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')).version);
    const file = join(tmpdir(), `kuzet-test-pglite-${h.digest('hex').slice(0, 16)}.tar`);
    if (existsSync(file)) return new Blob([readFileSync(file)]);
    const { openPglite } = await import('../../src/store/pglite.ts');
    const s = await openPglite('memory://', {});
    await migrate(s);
    const blob = await s.dumpImage();
    await s.close();
    const part = `${file}.${process.pid}`;
    writeFileSync(part, Buffer.from(await blob.arrayBuffer()));
    renameSync(part, file);
    return blob;
  })();
  return image;
}

/** A fresh, migrated store: its own schema on PostgreSQL, its own in-memory PGlite otherwise. */
export async function freshStore(): Promise<Store> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const store = await openStore(testDatabaseUrl ? { url: testDatabaseUrl, schema, poolSize: 6 } : { dataDir: 'memory://', image: await pgliteImage() });
  await migrate(store);
  if (testDatabaseUrl) {
    const close = store.close.bind(store);
    // Leave nothing behind on the shared server.
    (store as { close: () => Promise<void> }).close = async () => {
      await store.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await close();
    };
  }
  return store;
}
