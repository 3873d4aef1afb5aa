import { spawn, type ChildProcess } from 'node:child_process';
import type { Clock, Timer } from '../../clock.ts';
import { nullLogger, type Logger } from '../../log.ts';
import type { Store } from '../../store/store.ts';
import { LineSplitter } from './lines.ts';
import { loadOffsets, markInputStarted } from './offsets.ts';
import type { TailDeliver, TailItem, TailMetrics } from './tailer.ts';

// journald through `journalctl -o json -f` as a child process. Each JSON line is one entry; its __CURSOR is
// the checkpoint (stored like a file offset), so a restart resumes with --after-cursor. Entries are handed
// on in batches; stdout is paused while a batch is being committed. If journalctl exits it is started
// again after a delay (from the last committed cursor).

export interface JournaldOptions {
  name: string;
  units: readonly string[];
  /** journalctl binary (tests may point elsewhere). */
  command?: string;
  batchMs?: number;
  restartMs?: number;
}

export interface JournaldDeps {
  store: Store;
  clock: Clock;
  deliver: TailDeliver;
  logger?: Logger;
  metrics?: TailMetrics;
}

const PRIORITY = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const MAX_ENTRY_BYTES = 1 << 20;
const BATCH_ENTRIES = 1000;

/** One journal entry as journalctl prints it in JSON; MESSAGE may be an array of bytes. */
export function journalEntryToEvent(line: string): { text: string; labels: Record<string, string>; cursor: string } | null {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!e || typeof e !== 'object' || typeof e.__CURSOR !== 'string') return null;
  const m = e.MESSAGE;
  const text = typeof m === 'string' ? m : Array.isArray(m) && m.every((x) => typeof x === 'number') ? Buffer.from(m as number[]).toString('utf8') : '';
  const labels: Record<string, string> = {};
  const str = (k: string) => (typeof e[k] === 'string' ? (e[k] as string).slice(0, 255) : undefined);
  const unit = str('_SYSTEMD_UNIT');
  const ident = str('SYSLOG_IDENTIFIER');
  const host = str('_HOSTNAME');
  const prio = str('PRIORITY');
  if (unit) labels.unit = unit;
  if (ident) labels.app = ident;
  if (host) labels.host = host;
  if (prio && PRIORITY[Number(prio)]) labels.syslog_severity = PRIORITY[Number(prio)]!;
  return { text, labels, cursor: e.__CURSOR };
}

export class JournaldReader {
  readonly #o: JournaldOptions;
  readonly #d: JournaldDeps;
  readonly #log: Logger;
  #child: ChildProcess | null = null;
  #cursor: string | null = null;
  #pending: TailItem[] = [];
  #pendingCursor: string | null = null;
  #timer: Timer | null = null;
  #restart: Timer | null = null;
  #delivering: Promise<void> | null = null;
  #started = false;

  constructor(opts: JournaldOptions, deps: JournaldDeps) {
    this.#o = opts;
    this.#d = deps;
    this.#log = (deps.logger ?? nullLogger).child({ input: opts.name });
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await markInputStarted(this.#d.store, this.#o.name, this.#d.clock.now());
    const row = (await loadOffsets(this.#d.store, this.#o.name)).find((r) => r.fileId === 'journald');
    this.#cursor = row?.cursor ?? null;
    this.#spawn();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#timer?.cancel();
    this.#restart?.cancel();
    const child = this.#child;
    this.#child = null;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await this.#delivering;
    await this.#flush();
  }

  #spawn(): void {
    const args = ['-o', 'json', '-f', '--no-pager'];
    if (this.#cursor) args.push(`--after-cursor=${this.#cursor}`);
    else args.push('-n', '0');
    for (const u of this.#o.units) args.push('-u', u);
    const child = spawn(this.#o.command ?? 'journalctl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const splitter = new LineSplitter({ maxLineBytes: MAX_ENTRY_BYTES });
    child.stdout!.on('data', (chunk: Buffer) => {
      const block = splitter.push(chunk);
      if (block.cut) this.#d.metrics?.dropped(this.#o.name, 'line_too_long', block.cut);
      if (!block.lines) return;
      for (const line of block.text.split('\n')) {
        const ev = journalEntryToEvent(line);
        if (!ev) continue;
        this.#pending.push({ kind: 'event', text: ev.text, labels: ev.labels });
        this.#pendingCursor = ev.cursor;
      }
      this.#d.metrics?.linesRead(this.#o.name, block.lines);
      if (this.#pending.length >= BATCH_ENTRIES) void this.#flushSoon(0);
      else void this.#flushSoon(this.#o.batchMs ?? 200);
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-2000);
    });
    child.on('error', (err) => this.#log.error('cannot run journalctl', { err }));
    child.on('exit', (code) => {
      if (this.#child !== child || !this.#started) return;
      this.#child = null;
      this.#log.warn('journalctl exited; starting it again', { code, stderr: stderr.trim() });
      this.#restart = this.#d.clock.setTimeout(() => {
        if (this.#started) this.#spawn();
      }, this.#o.restartMs ?? 5000);
    });
  }

  #flushSoon(ms: number): void {
    if (this.#timer && ms > 0) return;
    this.#timer?.cancel();
    this.#timer = this.#d.clock.setTimeout(() => {
      this.#timer = null;
      void this.#flush();
    }, ms);
  }

  async #flush(): Promise<void> {
    if (this.#delivering) return this.#delivering;
    if (this.#pending.length === 0) return;
    const items = this.#pending;
    const cursor = this.#pendingCursor!;
    this.#pending = [];
    this.#child?.stdout?.pause();
    this.#delivering = this.#d
      .deliver({
        input: this.#o.name,
        items,
        checkpoint: { input: this.#o.name, upserts: [{ fileId: 'journald', path: 'journald', fpLen: 0, fpHash: '', offset: 0, cursor }], deletes: [] },
      })
      .then(
        () => {
          this.#cursor = cursor;
        },
        (err: unknown) => {
          this.#log.error('journald batch not committed; retrying', { err });
          this.#pending = items.concat(this.#pending); // #pendingCursor still names the newest entry held
        },
      )
      .finally(() => {
        this.#delivering = null;
        this.#child?.stdout?.resume();
        if (this.#pending.length) this.#flushSoon(this.#o.batchMs ?? 200);
      });
    return this.#delivering;
  }
}
