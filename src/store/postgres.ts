import pg from 'pg';
import { quoteIdent, type Listener, type Queryable, type Store, type StoreOptions } from './store.ts';

// int8 and numeric come back as strings by default; counts and ids here fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

// A lost connection must never kill the process: `pg` emits 'error' on a client whose server went away
// (stopped, restarted, pg_terminate_backend), and an 'error' event without a listener is fatal in Node.
// Every client the pool makes gets a listener at birth, so checked-out clients (a transaction, the
// escalation leader's session) are covered too, not only idle ones; a client that saw an error is
// destroyed on release instead of going back to the pool. The pool makes new connections on demand,
// so once the server is back the next query simply works.

type Broken = pg.PoolClient & { kuzetBroken?: boolean };

export async function openPostgres(url: string, opts: StoreOptions): Promise<Store> {
  const options = opts.schema ? `-c search_path=${quoteIdent(opts.schema)}` : undefined;
  const config: pg.PoolConfig = {
    connectionString: url,
    max: opts.poolSize ?? 8,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    application_name: 'kuzet',
    ...(options ? { options } : {}),
  };
  const pool = new pg.Pool(config);
  const report = (err: Error) => opts.onConnectionError?.(err);
  pool.on('error', report);
  pool.on('connect', (client: Broken) => {
    client.on('error', (err) => {
      client.kuzetBroken = true;
      report(err);
    });
  });
  if (opts.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}`);
  else await pool.query('SELECT 1');

  const wrap = (c: { query: pg.Pool['query'] }): Queryable => ({
    async query(sql, params) {
      const r = await c.query(sql, params as unknown[]);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    },
  });
  const base = wrap(pool);
  let closed = false;
  const listeners = new Set<Listener>();

  return {
    kind: 'postgres',
    query: base.query,
    async exec(sql) {
      await pool.query(sql);
    },
    async tx(fn) {
      const client: Broken = await pool.connect();
      let failed: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await fn(wrap(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        failed = err as Error;
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release(client.kuzetBroken ? (failed ?? true) : undefined);
      }
    },
    async session(fn, sopts) {
      if (sopts?.outsidePool) {
        const own = new pg.Client({ ...config, application_name: 'kuzet-session' } as pg.ClientConfig);
        own.on('error', report);
        await own.connect();
        let failed = false;
        try {
          return await fn(wrap(own));
        } catch (err) {
          failed = true;
          throw err;
        } finally {
          // A failed session may sit on a connection that no longer answers (a silent partition): never wait on it.
          if (!failed) await Promise.race([own.end().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
          else void own.end().catch(() => {});
          (own as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        }
      }
      const client: Broken = await pool.connect();
      let failed = false;
      try {
        return await fn(wrap(client));
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        // A session whose work failed may hold session state (advisory locks, a transaction): end its backend.
        client.release(failed || client.kuzetBroken ? true : undefined);
      }
    },
    listen(channel, onNotify, onConnected) {
      const l = listenLoop({ ...config, max: undefined, application_name: 'kuzet-listen' } as pg.ClientConfig, channel, onNotify, onConnected, report);
      listeners.add(l);
      return {
        close: async () => {
          listeners.delete(l);
          await l.close();
        },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...listeners].map((l) => l.close()));
      await pool.end();
    },
  };
}

/**
 * One dedicated connection that LISTENs on `channel`, re-connecting and re-listening after any loss
 * (server restart, pg_terminate_backend) with a short capped back-off. `onConnected` runs after every
 * (re-)LISTEN: notifications sent while it was away are lost, so the caller looks for work then.
 */
function listenLoop(config: pg.ClientConfig, channel: string, onNotify: (payload: string) => void, onConnected: (() => void) | undefined, report: (err: Error) => void): Listener {
  let stopped = false;
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;
  let delay = 100;
  const again = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = null;
      void connect();
    }, delay);
    delay = Math.min(delay * 2, 2_000);
  };
  const connect = async () => {
    const c = new pg.Client(config);
    client = c;
    let lost = false;
    const drop = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (err) report(err);
      if (client === c) client = null;
      c.end().catch(() => {});
      again();
    };
    c.on('error', drop);
    c.on('end', () => drop());
    c.on('notification', (n) => {
      if (n.channel === channel) onNotify(n.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${quoteIdent(channel)}`);
      if (stopped) {
        await c.end().catch(() => {});
        return;
      }
      delay = 100;
      onConnected?.();
    } catch (err) {
      drop(err as Error);
    }
  };
  void connect();
  return {
    async close() {
      stopped = true;
      if (retry) clearTimeout(retry);
      retry = null;
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
