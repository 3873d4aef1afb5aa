import type { EmbeddedLog } from './embedded.ts';

// One small interface over PostgreSQL through `pg`: a server kuzet is given (store.url), or the embedded one it
// starts, supervises and stops itself (./embedded.ts). One SQL dialect, one set of migrations.

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export interface Store extends Queryable {
  readonly kind: 'postgres';
  /** Run several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Run `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * A dedicated session for work that needs one connection (advisory locks held across calls). With
   * `outsidePool`, a connection of its own that no pooled work waits for (held for the life of the process).
   * When `fn` throws, the connection is closed, not reused.
   */
  session<T>(fn: (q: Queryable) => Promise<T>, opts?: { outsidePool?: boolean }): Promise<T>;
  close(): Promise<void>;
  /**
   * PostgreSQL only: LISTEN on `channel` over a dedicated connection that re-connects by itself;
   * `onConnected` runs after every (re-)LISTEN, since notifications sent meanwhile are lost.
   */
  listen?(channel: string, onNotify: (payload: string) => void, onConnected?: () => void): Listener;
}

export interface Listener {
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres://… selects a server; otherwise the embedded server of dataDir. */
  url?: string;
  /**
   * The embedded server's data folder. "memory://" (or none) starts a throwaway server in the OS temp folder,
   * removed on close.
   */
  dataDir?: string;
  /**
   * Embedded only: when another kuzet process owns the data folder and its server runs, connect to that server
   * (one-off commands beside a running daemon) instead of refusing.
   */
  attach?: boolean;
  /** Embedded only: where the server's own log lines go. */
  log?: EmbeddedLog;
  /** Schema to work in (tests give each store its own). */
  schema?: string;
  poolSize?: number;
  /** A connection of the pool (or a LISTEN connection) failed; the store recovers by itself. For logs. */
  onConnectionError?: (err: Error) => void;
}

export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.url) {
    const { openPostgres } = await import('./postgres.ts');
    return openPostgres(opts.url, opts);
  }
  const { openEmbedded } = await import('./embedded-store.ts');
  return openEmbedded(opts.dataDir ?? 'memory://', opts);
}

export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid schema name ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** Hide the password in a connection URL for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

/**
 * `work`, or a rejection naming `what` after `ms` of real time: for statements that may never return (a network
 * that drops everything silently). The caller discards the connection on rejection.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
