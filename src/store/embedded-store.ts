import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EmbeddedServer, embeddedUrl } from './embedded.ts';
import { holderOf, lockDataDir } from './lock.ts';
import { openPostgres } from './postgres.ts';
import type { Store, StoreOptions } from './store.ts';

/**
 * The store on the embedded server of `dataDir`: this process takes the folder's lock, starts the server and stops
 * it on close. With `attach`, a folder another kuzet process holds is used through that process's running server.
 */
export async function openEmbedded(dataDir: string, opts: StoreOptions): Promise<Store> {
  const throwaway = dataDir === 'memory://';
  const dir = throwaway ? mkdtempSync(join(tmpdir(), 'kuzet-pg-')) : resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const holder = holderOf(dir);
  if (holder) {
    const url = opts.attach ? embeddedUrl(dir) : null;
    if (!url) throw new Error(`the embedded store ${dataDir} is in use by process ${holder}; stop it first or use the HTTP API`);
    return openPostgres(url, { ...opts, poolSize: opts.poolSize ?? 2 });
  }
  const unlock = lockDataDir(dir);
  const server = new EmbeddedServer(dir, { log: opts.log, ...(throwaway ? { settings: { fsync: 'off' } } : {}) });
  const cleanup = async () => {
    await server.stop();
    unlock();
    if (throwaway) rmSync(dir, { recursive: true, force: true });
  };
  let store: Store;
  try {
    await server.start();
    store = await openPostgres(server.url, opts);
  } catch (err) {
    await cleanup();
    throw err;
  }
  let closed = false;
  return {
    ...store,
    async close() {
      if (closed) return;
      closed = true;
      await store.close();
      await cleanup();
    },
  };
}
