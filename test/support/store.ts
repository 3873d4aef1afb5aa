import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedServer } from '../../src/store/embedded.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openStore, type Store } from '../../src/store/store.ts';

/**
 * The server the integration tiers run on: the one KUZET_TEST_DATABASE_URL names, else one embedded PostgreSQL
 * server per test run, shared by every test file of the run (each test works in its own schema).
 */
export const storeKind: 'embedded' | 'postgres' = process.env.KUZET_TEST_DATABASE_URL ? 'postgres' : 'embedded';

const REAPER = fileURLToPath(new URL('./pg-reaper.mjs', import.meta.url));

/**
 * The run's embedded server. `node --test` runs each file in a child process: the first one starts the server in a
 * folder named after the runner's pid, later ones find it there; a detached reaper stops it and removes the folder
 * when the runner exits (however it exits). A file run on its own gets a server of its own the same way.
 */
async function sharedEmbeddedUrl(): Promise<string> {
  const owner = process.env.NODE_TEST_CONTEXT ? process.ppid : process.pid;
  const dir = join(tmpdir(), `kuzet-test-pg-${owner}`);
  const urlFile = join(dir, 'url');
  for (let i = 0; i < 1200; i++) {
    if (existsSync(urlFile)) return readFileSync(urlFile, 'utf8').trim();
    try {
      mkdirSync(dir);
    } catch {
      // another file of this run is starting it
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const server = new EmbeddedServer(join(dir, 'pg'), {
      // Durability is not under test here; speed is welcome.
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
      logFile: join(dir, 'postgres.log'),
      outlive: true,
      // Tests hand the URL to probes, pg_dump and drills that take a host and a port.
      tcp: true,
    });
    try {
      await server.start();
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    spawn(process.execPath, [REAPER, String(owner), dir, String(server.pid)], { detached: true, stdio: 'ignore' }).unref();
    writeFileSync(`${urlFile}.part`, server.url);
    renameSync(`${urlFile}.part`, urlFile);
    return server.url;
  }
  throw new Error(`the test PostgreSQL server in ${dir} did not come up`);
}

/** The connection URL every test uses: KUZET_TEST_DATABASE_URL, or the run's embedded server. */
export const testDatabaseUrl: string = process.env.KUZET_TEST_DATABASE_URL || (await sharedEmbeddedUrl());

/** A fresh, migrated store in its own schema, dropped on close. */
export async function freshStore(): Promise<Store> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const store = await openStore({ url: testDatabaseUrl, schema, poolSize: 6 });
  await migrate(store);
  const close = store.close.bind(store);
  // Leave nothing behind on the shared server.
  (store as { close: () => Promise<void> }).close = async () => {
    await store.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await close();
  };
  return store;
}
