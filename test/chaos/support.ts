import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, Socket, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { pgServerUnavailable, startPgServer, type PgServer } from '../support/pg-server.ts';
import { freePort, start, waitFor } from '../support/process.ts';

// The chaos suite's harness: real processes only. Each scenario gets a private Debian PostgreSQL server with a
// database of its own, a real SMTP server that counts what it receives (and can be taken down), and kuzet itself as
// compiled code (`node bin/kuzet.js run`), started, killed and restarted by PID. Everything is on loopback, every
// wait is bounded, and everything started is stopped by `cleanup()`, also when the scenario fails.

export type Figures = Record<string, string | number>;

export interface Scenario {
  name: string;
  title: string;
  run(h: Harness): Promise<Figures>;
}

export const ADMIN_TOKEN = 'kzt_chaos_admin_token_0123456789abcdef';
export const ACK_SECRET = 'chaos-suite-ack-secret-0123456789';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Seconds since `t0` (Date.now() ms), with one decimal. */
export const since = (t0: number) => Math.round((Date.now() - t0) / 100) / 10;

// ---------------------------------------------------------------------------------------------------------------
// SMTP

export interface ReceivedMail {
  /** X-Kuzet-Idempotency-Key: the outbox row's key (`esc:<escalation>:r<round>:s<step>:<channel>:<person>`). */
  key: string;
  to: string[];
  subject: string;
  at: number;
}

export type SmtpMode = 'up' | 'down' | 'reject';

/**
 * A real SMTP server (smtp-server) behind a TCP front on a fixed loopback port. `up`: mail is accepted and
 * recorded. `down`: the port refuses connections and open sessions are cut (a relay that is gone). `reject`: the
 * relay answers and refuses every recipient with 550 (a permanent refusal).
 */
export interface Smtp {
  port: number;
  mails: ReceivedMail[];
  /** Sessions that reached the server (a connection accepted by the front). */
  connections(): number;
  mode(): SmtpMode;
  setMode(m: SmtpMode): Promise<void>;
  close(): Promise<void>;
}

function headerOf(data: string, name: string): string {
  const head = data.slice(0, Math.max(0, data.search(/\r?\n\r?\n/)));
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m ? m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : '';
}

export async function startSmtp(): Promise<Smtp> {
  const mails: ReceivedMail[] = [];
  let mode: SmtpMode = 'up';
  const inner = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, cb) {
      if (mode === 'reject') {
        const err = new Error(`mailbox ${address.address} unavailable`) as Error & { responseCode: number };
        err.responseCode = 550;
        return cb(err);
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const data = Buffer.concat(chunks).toString('utf8');
        mails.push({ key: headerOf(data, 'X-Kuzet-Idempotency-Key'), to: session.envelope.rcptTo.map((r) => r.address), subject: headerOf(data, 'Subject'), at: Date.now() });
        cb();
      });
    },
  });
  const innerPort = await new Promise<number>((resolve) => inner.listen(0, '127.0.0.1', () => resolve((inner.server.address() as { port: number }).port)));
  const port = await freePort();
  const sockets = new Set<Socket>();
  let connections = 0;
  let front: NetServer | null = null;
  const listenFront = () =>
    new Promise<void>((resolve, reject) => {
      const s = createNetServer((client) => {
        connections++;
        const upstream = new Socket();
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        upstream.connect(innerPort, '127.0.0.1', () => {
          client.pipe(upstream);
          upstream.pipe(client);
        });
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        front = s;
        resolve();
      });
    });
  const closeFront = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!front) return resolve();
      const f = front;
      front = null;
      f.close(() => resolve());
    });
  await listenFront();
  return {
    port,
    mails,
    connections: () => connections,
    mode: () => mode,
    async setMode(m) {
      if (m === mode) return;
      if (m === 'down') await closeFront();
      else if (mode === 'down') {
        // The port was ours a moment ago; retry briefly if the kernel has not released it yet.
        for (let i = 0; ; i++) {
          try {
            await listenFront();
            break;
          } catch (err) {
            if (i >= 50) throw err;
            await sleep(100);
          }
        }
      }
      mode = m;
    },
    async close() {
      await closeFront();
      await new Promise<void>((r) => inner.close(() => r()));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// kuzet as a process

export interface KuzetOptions {
  name: string;
  configYaml: string;
  env?: Record<string, string>;
  /** The port the config listens on (see `kuzetConfig`). */
  port: number;
}

export interface Kuzet {
  url: string;
  /** The PID of the running process (the latest one after a restart). */
  readonly pid: number;
  /** How many times it was started. */
  readonly starts: number;
  /** Send a signal to the running process (by PID). */
  kill(signal: NodeJS.Signals): void;
  /** Wait for the running process to exit (bounded); returns its exit code or null when killed by a signal. */
  waitExit(timeoutMs?: number): Promise<number | null>;
  /** Start again with the same config (after it exited); resolves when /healthz answers. Returns when it answered. */
  restart(): Promise<number>;
  /** Everything every run printed. */
  output(): string;
  /** Resolves when the running process exits. */
  readonly exited: Promise<number | null>;
  alive(): boolean;
  /** Request helper: JSON with the admin token. */
  api(path: string, init?: { method?: string; body?: unknown; timeoutMs?: number }): Promise<{ status: number; body: unknown }>;
}

// ---------------------------------------------------------------------------------------------------------------
// The harness

export interface Harness {
  name: string;
  pg: PgServer;
  /** The scenario's database on the private server. */
  dbUrl: string;
  /** Query the store (its own small pool; survives the server's restarts). */
  sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  smtp: Smtp;
  dir: string;
  /** The scenario's figures so far: the runner prints them also when the scenario fails half-way. */
  figures: Figures;
  /** Every kuzet started (for the runner's diagnostics on failure). */
  kuzets: Kuzet[];
  /** A progress line, printed at once. */
  progress(msg: string): void;
  startKuzet(o: Omit<KuzetOptions, 'port'> & { port?: number }): Promise<Kuzet>;
  /** A free loopback port for kuzet's config. */
  port(): Promise<number>;
  /** Run at cleanup (last registered, first run). */
  defer(fn: () => Promise<void> | void): void;
  cleanup(): Promise<void>;
}

/** Why the suite cannot run here, or null. */
export function chaosUnavailable(): string | null {
  return pgServerUnavailable();
}

export async function createHarness(name: string, progress: (msg: string) => void): Promise<Harness> {
  const deferred: Array<() => Promise<void> | void> = [];
  const dir = mkdtempSync(join(tmpdir(), `kuzet-chaos-${name}-`));
  deferred.push(() => rmSync(dir, { recursive: true, force: true }));
  const cleanup = async () => {
    while (deferred.length) {
      const fn = deferred.pop()!;
      try {
        await fn();
      } catch (err) {
        progress(`cleanup step failed: ${(err as Error).message}`);
      }
    }
  };
  try {
    progress('starting a private PostgreSQL server');
    const server = await startPgServer();
    deferred.push(() => server.destroy());
    const db = `chaos_${name.replace(/[^a-z0-9]/gi, '_')}`;
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const dbUrl = server.url.replace(/\/postgres$/, `/${db}`);
    const pool = new pg.Pool({ connectionString: dbUrl, max: 3, connectionTimeoutMillis: 5_000, query_timeout: 30_000 });
    pool.on('error', () => {}); // a server restart cuts idle clients; the next query opens a new one
    deferred.push(() => pool.end());
    const smtp = await startSmtp();
    deferred.push(() => smtp.close());
    const h: Harness = {
      name,
      pg: server,
      dbUrl,
      async sql(text, params) {
        return (await pool.query(text, params as unknown[])).rows;
      },
      smtp,
      dir,
      figures: {},
      kuzets: [],
      progress,
      port: () => freePort(),
      startKuzet: async (o) => {
        const k = await launchKuzet({ ...o, port: o.port ?? (await freePort()) }, dir);
        h.kuzets.push(k);
        deferred.push(async () => {
          if (k.alive()) {
            k.kill('SIGKILL');
            await k.waitExit(10_000).catch(() => {});
          }
        });
        return k;
      },
      defer: (fn) => deferred.push(fn),
      cleanup,
    };
    return h;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function launchKuzet(o: KuzetOptions, root: string): Promise<Kuzet> {
  const dir = join(root, o.name);
  mkdirSync(join(dir, 'probes'), { recursive: true });
  const file = join(dir, 'kuzet.yaml');
  writeFileSync(file, o.configYaml);
  const url = `http://127.0.0.1:${o.port}`;
  const env = { KUZET_ADMIN_TOKEN: ADMIN_TOKEN, KUZET_ACK_SECRET: ACK_SECRET, ...o.env };
  let log = '';
  let proc: ReturnType<typeof start> | null = null;
  let running = false;
  let starts = 0;
  const spawnOnce = async (): Promise<number> => {
    const t0 = Date.now();
    const p = start(process.execPath, ['bin/kuzet.js', 'run', '--config', file], env);
    proc = p;
    starts++;
    running = true;
    const header = `----- start ${starts} (pid ${p.child.pid}) -----\n`;
    void p.exited.then((code) => {
      running = false;
      log += `${header}${p.output()}----- exited: ${code ?? 'signal'} -----\n`; // keep this run's output after it ends
    });
    try {
      await waitFor(`${url}/healthz`, 240, 125, () => running);
    } catch (err) {
      p.signal('SIGKILL'); // never leave a half-started process behind
      await Promise.race([p.exited, sleep(5_000)]);
      throw new Error(`kuzet ${o.name} did not start: ${(err as Error).message}\n${p.output().slice(-4000)}`);
    }
    return Date.now() - t0;
  };
  await spawnOnce();
  const current = () => proc!;
  const k: Kuzet = {
    url,
    get pid() {
      return current().child.pid!;
    },
    get starts() {
      return starts;
    },
    get exited() {
      return current().exited;
    },
    alive: () => running,
    kill(signal) {
      try {
        process.kill(current().child.pid!, signal);
      } catch {
        // already gone
      }
    },
    async waitExit(timeoutMs = 35_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`kuzet ${o.name} (pid ${current().child.pid}) did not exit within ${timeoutMs} ms`)), timeoutMs)));
      try {
        return await Promise.race([current().exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async restart() {
      if (running) throw new Error(`kuzet ${o.name} is still running (pid ${current().child.pid}); stop it first`);
      return spawnOnce();
    },
    output: () => log + (running ? current().output() : ''),
    async api(path, init = {}) {
      const r = await fetch(`${url}${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
        signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
      });
      const text = await r.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: r.status, body };
    },
  };
  return k;
}

// ---------------------------------------------------------------------------------------------------------------
// Config

export interface ConfigOptions {
  port: number;
  dbUrl: string;
  smtpPort: number;
  /** Step delays of the one policy ("0s", "20s", ...); the step pages the on-call person by e-mail. */
  steps?: string[];
  ackDeadline?: string;
  resolveDeadline?: string;
  /** `escalation.outbox` settings. */
  outbox?: Record<string, string | number>;
  /** The e-mail channel's timeout. */
  smtpTimeout?: string;
  /** Appended as is (other top-level sections). */
  extra?: string;
}

/**
 * A kuzet config for a scenario: the scenario's database, an empty probes folder, the Alertmanager API with the
 * admin token, and one policy paging alice by e-mail through the harness's SMTP server. Secrets come from the
 * environment the harness passes (KUZET_ADMIN_TOKEN, KUZET_ACK_SECRET).
 */
export function kuzetConfig(o: ConfigOptions): string {
  const steps = (o.steps ?? ['0s']).map((after) => `        - { after: ${after}, notify: [{ person: alice }] }`).join('\n');
  const outbox = o.outbox ? `  outbox: { ${Object.entries(o.outbox).map(([k, v]) => `${k}: ${v}`).join(', ')} }\n` : '';
  return `server:
  listen: 127.0.0.1
  port: ${o.port}
store:
  url: "${o.dbUrl}"
  pool_size: 8
log:
  level: info
probes_dir: probes
auth:
  bootstrap_token: "\${KUZET_ADMIN_TOKEN}"
systems:
  - { id: enbek, name: Electronic Labour Exchange, form: enbek }
  - { id: nqs, name: NQS platform, form: nqs }
escalation:
  public_url: http://127.0.0.1:${o.port}
  default_lang: en
  ack_links: { secret: "\${KUZET_ACK_SECRET}", ttl: 2h }
  people:
    alice: { name: Alice Oncall, email: alice.oncall@kuzet.chaos, lang: en, via: [mail] }
  channels:
    mail: { type: email, host: 127.0.0.1, port: ${o.smtpPort}, from: kuzet@kuzet.chaos, timeout: ${o.smtpTimeout ?? '5s'} }
${outbox}  policies:
    - name: chaos
      match: { severities: [major, critical] }
${o.ackDeadline ? `      ack_deadline: ${o.ackDeadline}\n` : ''}${o.resolveDeadline ? `      resolve_deadline: ${o.resolveDeadline}\n` : ''}      steps:
${steps}
${o.extra ?? ''}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Alerts

export interface ChaosAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
}

/** An Alertmanager alert for fingerprint number `fp`; `id` (an annotation) makes this copy findable in the ledger. */
export function chaosAlert(fp: number, id: string, severity = 'critical'): ChaosAlert {
  return {
    labels: { alertname: 'ChaosDown', system: 'enbek', severity, instance: `host-${fp}.chaos:443` },
    annotations: { summary: `host-${fp} does not answer`, chaos_id: id },
  };
}

/** POST alerts to kuzet's Alertmanager intake; the HTTP status, or 0 when the request failed (refused, timed out). */
export async function postAlerts(url: string, alerts: ChaosAlert[], timeoutMs = 10_000): Promise<number> {
  try {
    const r = await fetch(`${url}/api/v2/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/** GET a path; the status, or 0 when the request failed. */
export async function statusOf(url: string, timeoutMs = 5_000): Promise<number> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/** Poll `check` until it returns true, at most `timeoutMs`; returns the ms it took, or throws with `what`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 250): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Alert ids (the chaos_id annotation) in the signal ledger. */
export async function storedAlertIds(h: Harness): Promise<Set<string>> {
  const rows = await h.sql<{ id: string }>(`SELECT payload->'annotations'->>'chaos_id' AS id FROM signals WHERE source = 'alertmanager' AND payload->'annotations' ? 'chaos_id'`);
  return new Set(rows.map((r) => r.id));
}

/** The mails received, grouped by idempotency key (one outbox row each); `doubled` lists keys received more than once. */
export function mailsByKey(mails: readonly ReceivedMail[]): { byKey: Map<string, ReceivedMail[]>; doubled: string[] } {
  const byKey = new Map<string, ReceivedMail[]>();
  for (const m of mails) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m]);
  return { byKey, doubled: [...byKey.entries()].filter(([, l]) => l.length > 1).map(([key, l]) => `${key} ×${l.length}`) };
}
