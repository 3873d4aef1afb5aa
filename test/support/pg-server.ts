import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './process.ts';

// A private PostgreSQL server that a test starts, stops and restarts itself (Debian's binaries), on a free
// loopback port in a temporary folder. As root, the server runs as the `postgres` user (initdb refuses root).

const run = promisify(execFile);
export const PG_BIN = process.env.KUZET_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why a private server cannot be started here, or null when it can. */
export function pgServerUnavailable(): string | null {
  if (!existsSync(join(PG_BIN, 'initdb')) || !existsSync(join(PG_BIN, 'pg_ctl'))) {
    return `PostgreSQL server binaries not found in ${PG_BIN} (install Debian's postgresql-15 or set KUZET_PG_BIN)`;
  }
  return null;
}

export interface PgServer {
  url: string;
  port: number;
  start(): Promise<void>;
  /** pg_ctl stop in fast mode: every session is terminated. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPgServer(): Promise<PgServer> {
  const dir = mkdtempSync(join(tmpdir(), 'kuzet-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  const pgUid = asRoot ? Number((await run('id', ['-u', 'postgres'])).stdout.trim()) : undefined;
  const pgGid = asRoot ? Number((await run('id', ['-g', 'postgres'])).stdout.trim()) : undefined;
  if (asRoot) chownSync(dir, pgUid!, pgGid!);
  const cmd = (bin: string, args: string[]) =>
    asRoot ? run('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', join(PG_BIN, bin), ...args]) : run(join(PG_BIN, bin), args);
  await cmd('initdb', ['-D', data, '-U', 'kuzet', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=50`;
  const server: PgServer = {
    url: `postgres://kuzet@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await cmd('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
    },
    async stop() {
      await cmd('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    },
    async destroy() {
      await cmd('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
