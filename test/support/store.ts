import { randomBytes } from 'node:crypto';
import { migrate } from '../../src/store/migrate.ts';
import { openStore, type Store } from '../../src/store/store.ts';

/** The store the integration tiers run on: real PostgreSQL when KUZET_TEST_DATABASE_URL is set, else PGlite. */
export const testDatabaseUrl = process.env.KUZET_TEST_DATABASE_URL || undefined;
export const storeKind = testDatabaseUrl ? 'postgres' : 'pglite';

/** A fresh, migrated store: its own schema on PostgreSQL, its own in-memory PGlite otherwise. */
export async function freshStore(): Promise<Store> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const store = await openStore(testDatabaseUrl ? { url: testDatabaseUrl, schema, poolSize: 6 } : { dataDir: 'memory://' });
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
