import { fstatSync, watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Clock, Timer } from '../../clock.ts';
import { nullLogger, type Logger } from '../../log.ts';
import type { Store } from '../../store/store.ts';
import { expandPaths, fileIdOf, findRenamed, findRotatedCopy, FP_MAX, hashBytes, headHash, rotatedSiblings } from './files.ts';
import { LineSplitter, type LineBlock } from './lines.ts';
import { MultilineAssembler } from './multiline.ts';
import { loadOffsets, markInputStarted, type OffsetRow } from './offsets.ts';
import type { CompiledPattern } from './patterns.ts';
import type { TailBatch, TailDeliver, TailItem, TailMetrics } from './tail-batch.ts';

// Follows files named by paths and globs. A file is known by device and inode plus a hash of its head:
//  - rename-and-create: the old inode is kept open and read to its end for `rotateWait`, then closed;
//    the new file at the path is read from its first byte;
//  - copytruncate and truncation: the file shrinks (or its head changes); the unread rest is taken from
//    the copy (a sibling with our head hash), then the file is read again from 0. What was written after
//    the last read and before the truncation exists nowhere: the gap is estimated from the file's recent
//    growth rate and reported (a warning, kuzet_log_gaps_total);
//  - with `watch`, a change to a followed file (inotify) reads it at once, as `tail -F` does, so little is
//    ever unread when a truncation comes; the poll still runs (discovery, and where events are not delivered).
//    Reading goes on while a delivery is in flight, up to one poll's read budget.
//  - inode reuse after a restart: the stored head hash no longer matches, so the file is new.
// Each poll hands what it read to `deliver` with the checkpoint (offsets) that covers it, and reads no
// further until `deliver` resolves: the owner commits the derived signals and the checkpoint, so a
// restart resumes where the last commit stopped.

export type { TailBatch, TailDeliver, TailDropReason, TailItem, TailMetrics } from './tail-batch.ts';

export interface FileTailerOptions {
  name: string;
  paths: readonly string[];
  startAt: 'beginning' | 'end';
  multiline?: { start: CompiledPattern; maxLines: number; timeoutMs: number };
  maxLineBytes: number;
  rotateWaitMs: number;
  pollMs: number;
  /** Bytes read per file per poll before handing over (bounds memory). Default 4 MiB. */
  maxReadPerPoll?: number;
  /** Read a followed file as soon as it changes (fs.watch), besides polling. Default false. */
  watch?: boolean;
}

export interface FileTailerDeps {
  store: Store;
  clock: Clock;
  deliver: TailDeliver;
  logger?: Logger;
  metrics?: TailMetrics;
}

interface Follower {
  id: string;
  path: string;
  fh: FileHandle;
  splitter: LineSplitter;
  assembler: MultilineAssembler | null;
  fpLen: number;
  fpHash: string;
  size: number;
  mtime: number;
  rotatedAt: number | null;
  lastGrowth: number;
  lastLineAt: number;
  dirty: boolean;
  /** While the file is empty: rotated siblings seen then (a copy appearing later holds lines we never saw). */
  emptySiblings: Set<string> | null;
  watcher: FSWatcher | null;
  /** The largest size seen at a change event since the last read pass (watch only): what a truncation cut off. */
  peak: number;
  /** Growth rate (bytes per ms, smoothed) and the time and size it was last measured at: the gap estimate. */
  rate: number;
  rateAt: number;
  rateSize: number;
  /** Bytes and lines read, for the average line length. */
  bytesSeen: number;
  linesSeen: number;
}

// 64 KiB reads: the decoded strings stay in V8's young generation (1 MiB ones go to large-object space
// and cost an mmap/munmap each, a third of the scan's CPU in the log benchmark).
const READ_CHUNK = 64 * 1024;

export class FileTailer {
  readonly #o: FileTailerOptions;
  readonly #d: FileTailerDeps;
  readonly #log: Logger;
  readonly #followers = new Map<string, Follower>();
  /** Copies left by copytruncate that a glob also matches: never read as new files. */
  readonly #ignored = new Set<string>();
  readonly #buf = Buffer.allocUnsafe(READ_CHUNK);
  #items: TailItem[] = [];
  #deletes: string[] = [];
  #timer: Timer | null = null;
  #running: Promise<void> | null = null;
  #started = false;
  #stopping = false;
  /** Reads (polls and watch kicks) run one at a time; so do deliveries, but a read may overlap a delivery. */
  #readChain: Promise<void> = Promise.resolve();
  #deliverChain: Promise<void> = Promise.resolve();
  #deliverQueued = false;
  #kicking = false;
  #kickAgain = false;
  /** Text held in #items, not yet handed over (bounds reading ahead of a slow delivery). */
  #pendingBytes = 0;

  constructor(opts: FileTailerOptions, deps: FileTailerDeps) {
    this.#o = opts;
    this.#d = deps;
    this.#log = (deps.logger ?? nullLogger).child({ input: opts.name });
  }

  get name(): string {
    return this.#o.name;
  }

  /** Files currently open (rotated ones still draining included). */
  get openFiles(): string[] {
    return [...this.#followers.values()].map((f) => f.path);
  }

  /** Resume from stored offsets and start polling. Idempotent. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    await this.#recover();
    this.#schedule(0);
  }

  /** Stop polling, let the poll in flight finish, close files. Unfinished events are re-read after a restart. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#stopping = true;
    this.#timer?.cancel();
    this.#timer = null;
    for (const f of this.#followers.values()) f.watcher?.close();
    await this.#running;
    await this.#readChain;
    await this.#deliverChain;
    for (const f of this.#followers.values()) await f.fh.close().catch(() => {});
    this.#followers.clear();
    this.#started = false;
  }

  /** One poll now (tests and the scheduler). Resolves after its batch was delivered. */
  pollOnce(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#poll().finally(() => {
        this.#running = null;
      });
    }
    return this.#running;
  }

  #failures = 0;
  /** The last poll stopped at its read budget with bytes left. */
  #behind = false;

  /** Next poll; after failures (store down) back off up to 30 s and log once per failure streak step. */
  #schedule(ms: number): void {
    if (this.#stopping) return;
    this.#timer = this.#d.clock.setTimeout(() => {
      this.#timer = null;
      this.pollOnce()
        .then(
          () => {
            if (this.#failures > 0) this.#log.info('log tail recovered', { failures: this.#failures });
            this.#failures = 0;
          },
          (err: unknown) => {
            this.#failures++;
            if ((this.#failures & (this.#failures - 1)) === 0) this.#log.error('log tail poll failed', { err, failures: this.#failures });
          },
        )
        .finally(() =>
          // A file with more than one poll's budget waiting (a backlog after a restart): read on at once.
          this.#schedule(this.#failures ? Math.min(30_000, this.#o.pollMs * 2 ** Math.min(this.#failures, 10)) : this.#behind ? 0 : this.#o.pollMs),
        );
    }, ms);
  }

  async #recover(): Promise<void> {
    const { store, clock } = this.#d;
    const now = clock.now();
    const firstRun = await markInputStarted(store, this.#o.name, now);
    const rows = new Map((await loadOffsets(store, this.#o.name)).map((r) => [r.fileId, r]));
    for (const path of await expandPaths(this.#o.paths)) {
      const st = await stat(path).catch(() => null);
      if (!st || !st.isFile()) continue;
      const id = fileIdOf(st);
      const row = rows.get(id);
      rows.delete(id);
      if (row) {
        const head = await headHash(path, row.fpLen);
        if (head === row.fpHash && st.size >= row.offset) {
          await this.#open(path, row.offset, null);
          continue;
        }
        // Truncated or replaced (inode reused) while we were away: finish the old content from its copy.
        await this.#drainCopy(row.path, row, null);
        this.#deletes.push(row.fileId);
        await this.#open(path, 0, null);
        continue;
      }
      await this.#open(path, firstRun && this.#o.startAt === 'end' ? st.size : 0, null);
    }
    // Stored files no longer at their path: rotated by rename while we were away.
    for (const row of rows.values()) {
      const moved = await findRenamed(row.path, row.fileId);
      if (moved && (await headHash(moved, row.fpLen)) === row.fpHash) {
        await this.#open(moved, row.offset, now);
        continue;
      }
      this.#log.warn('a log file read before the restart is gone; its unread rest is lost', { path: row.path });
      this.#d.metrics?.dropped(this.#o.name, 'file_vanished', 1);
      this.#deletes.push(row.fileId);
    }
  }

  async #open(path: string, offset: number, rotatedAt: number | null): Promise<Follower | null> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      this.#log.warn('cannot open log file', { path, err });
      return null;
    }
    const st = await fh.stat();
    const now = this.#d.clock.now();
    const f: Follower = {
      id: fileIdOf(st),
      path,
      fh,
      splitter: new LineSplitter({ maxLineBytes: this.#o.maxLineBytes, offset, trackLines: !!this.#o.multiline }),
      assembler: this.#o.multiline ? new MultilineAssembler(this.#o.multiline.start, this.#o.multiline.maxLines) : null,
      fpLen: 0,
      fpHash: '',
      size: st.size,
      mtime: st.mtimeMs,
      rotatedAt,
      lastGrowth: now,
      lastLineAt: now,
      dirty: true,
      emptySiblings: null,
      watcher: null,
      peak: 0,
      rate: 0,
      rateAt: now,
      rateSize: st.size,
      bytesSeen: 0,
      linesSeen: 0,
    };
    await this.#refreshFingerprint(f, st.size);
    this.#followers.set(f.id, f);
    if (this.#o.watch) {
      try {
        f.watcher = watch(path, { persistent: false }, () => {
          // The size at each change, before any later truncation: how much was there to read.
          try {
            f.peak = Math.max(f.peak, fstatSync(f.fh.fd).size);
          } catch {
            // closed meanwhile
          }
          this.#kick();
        });
        f.watcher.on('error', () => {
          f.watcher?.close();
          f.watcher = null;
        });
      } catch {
        f.watcher = null; // polling still reads it
      }
    }
    return f;
  }

  /** Serialise reads: one at a time, whoever asks (the poll or a watch event). */
  #locked(fn: () => Promise<void>): Promise<void> {
    const p = this.#readChain.then(fn);
    this.#readChain = p.catch(() => {});
    return p;
  }

  /** A followed file changed: read what is new now, then hand it over (coalescing events that come meanwhile). */
  #kick(): void {
    if (!this.#started || this.#stopping) return;
    if (this.#kicking) {
      this.#kickAgain = true;
      return;
    }
    // Far ahead of a slow (or failing) delivery: leave it to the poll, which delivers before it reads.
    if (this.#pendingBytes >= (this.#o.maxReadPerPoll ?? 4 << 20)) return;
    this.#kicking = true;
    this.#kickAgain = false;
    this.#locked(() => this.#readFollowers(this.#d.clock.now()))
      .then(
        () => this.#queueDeliver(),
        (err: unknown) => this.#log.debug('log read on change failed; the poll retries', { err }),
      )
      .finally(() => {
        this.#kicking = false;
        if (this.#kickAgain) this.#kick();
      });
  }

  /** Deliver soon, after any delivery in flight; one waits in the queue at most. Errors wait for the poll. */
  #queueDeliver(): void {
    if (this.#deliverQueued) return;
    this.#deliverQueued = true;
    this.#deliverChain = this.#deliverChain
      .then(() => {
        this.#deliverQueued = false;
        return this.#deliver();
      })
      .catch((err: unknown) => this.#log.debug('log delivery after a change failed; the poll retries', { err }));
  }

  /** Deliver now (after any delivery in flight), passing its error to the caller. */
  #deliverNow(): Promise<void> {
    const p = this.#deliverChain.then(() => this.#deliver());
    this.#deliverChain = p.catch(() => {});
    return p;
  }

  async #refreshFingerprint(f: Follower, size: number): Promise<void> {
    const len = Math.min(FP_MAX, size);
    if (len <= f.fpLen) return;
    const buf = Buffer.alloc(len);
    const { bytesRead } = await f.fh.read(buf, 0, len, 0);
    f.fpLen = bytesRead;
    f.fpHash = hashBytes(buf.subarray(0, bytesRead));
    f.dirty = true;
  }

  async #poll(): Promise<void> {
    // A failed delivery left items behind: hand those over before reading more (throws while it still fails).
    if (this.#items.length > 0 || this.#deletes.length > 0) await this.#deliverNow();
    await this.#locked(async () => {
      const now = this.#d.clock.now();
      await this.#discover(now);
      this.#behind = false;
      await this.#readFollowers(now);
    });
    await this.#deliverNow();
  }

  async #readFollowers(now: number): Promise<void> {
    const order = [...this.#followers.values()].sort((a, b) => (a.rotatedAt ?? Infinity) - (b.rotatedAt ?? Infinity));
    for (const f of order) if (this.#followers.get(f.id) === f) await this.#readFollower(f, now);
  }

  /** Find new files, and notice files whose path now names another inode (rotated away) or nothing. */
  async #discover(now: number): Promise<void> {
    const seen = new Set<string>();
    for (const path of await expandPaths(this.#o.paths)) {
      const st = await stat(path).catch(() => null);
      if (!st || !st.isFile()) continue;
      const id = fileIdOf(st);
      seen.add(id);
      const known = this.#followers.get(id);
      if (known) {
        known.path = path;
        continue;
      }
      if (this.#ignored.has(id)) continue;
      if (await this.#isCopyOfFollowed(path, st.size)) {
        this.#ignored.add(id);
        continue;
      }
      for (const f of this.#followers.values()) if (f.path === path && f.rotatedAt === null) f.rotatedAt = now;
      await this.#open(path, 0, null);
    }
    for (const f of this.#followers.values()) if (f.rotatedAt === null && !seen.has(f.id)) f.rotatedAt = now;
    for (const id of this.#ignored) if (!seen.has(id)) this.#ignored.delete(id);
  }

  async #isCopyOfFollowed(path: string, size: number): Promise<boolean> {
    for (const f of this.#followers.values()) {
      if (f.fpLen === 0 || size < f.fpLen || !path.startsWith(f.path)) continue;
      if ((await headHash(path, f.fpLen)) === f.fpHash) return true;
    }
    return false;
  }

  async #readFollower(f: Follower, now: number): Promise<void> {
    if (f.emptySiblings && f.fpLen === 0) await this.#copiesWhileEmpty(f, f.emptySiblings);
    const peak = f.watcher ? f.peak : null;
    f.peak = 0;
    const st = await f.fh.stat();
    if (st.size !== f.size || st.mtimeMs !== f.mtime) {
      let truncated = st.size < f.splitter.readOffset;
      if (!truncated && f.fpLen > 0) {
        const buf = Buffer.alloc(f.fpLen);
        const { bytesRead } = await f.fh.read(buf, 0, f.fpLen, 0);
        truncated = bytesRead < f.fpLen || hashBytes(buf) !== f.fpHash;
      }
      if (truncated) await this.#onTruncated(f, st.size, now, peak);
      else if (now > f.rateAt) {
        const r = (st.size - f.rateSize) / (now - f.rateAt);
        f.rate = f.rate === 0 ? r : (f.rate + r) / 2;
        f.rateAt = now;
        f.rateSize = st.size;
      }
      if (st.size > f.size) f.lastGrowth = now;
      f.size = st.size;
      f.mtime = st.mtimeMs;
    }
    const limit = this.#o.maxReadPerPoll ?? 4 << 20;
    let budget = limit;
    while (budget > 0 && f.splitter.readOffset < f.size) {
      const want = Math.min(READ_CHUNK, f.size - f.splitter.readOffset, budget);
      const { bytesRead } = await f.fh.read(this.#buf, 0, want, f.splitter.readOffset);
      if (bytesRead === 0) break;
      budget -= bytesRead;
      this.#take(f, this.#buf.subarray(0, bytesRead), now);
    }
    if (f.splitter.readOffset < f.size) this.#behind = true;
    if (f.fpLen < FP_MAX && f.size > f.fpLen) await this.#refreshFingerprint(f, f.size);
    // An empty file has no head to recognise a truncation by: remember its rotated siblings instead.
    f.emptySiblings = f.fpLen === 0 && f.rotatedAt === null ? new Set((await rotatedSiblings(f.path)).map((x) => x.id)) : null;
    const ml = this.#o.multiline;
    if (ml && f.assembler?.pendingStart != null && now - f.lastLineAt >= ml.timeoutMs) this.#flushEvent(f);
    const drained = f.splitter.readOffset >= f.size;
    if (f.rotatedAt !== null && drained && now - f.rotatedAt >= this.#o.rotateWaitMs && now - f.lastGrowth >= this.#o.rotateWaitMs) {
      this.#emit(f, f.splitter.flushPartial(), f.splitter.offset);
      this.#flushEvent(f);
      f.watcher?.close();
      await f.fh.close().catch(() => {});
      this.#followers.delete(f.id);
      this.#deletes.push(f.id);
    }
  }

  /**
   * The file was empty when last seen; since then it may have been written, copied and truncated (copytruncate)
   * with no head to tell. A rotated sibling that appeared meanwhile holds those lines: read it from 0.
   */
  async #copiesWhileEmpty(f: Follower, known: ReadonlySet<string>): Promise<void> {
    for (const s of await rotatedSiblings(f.path)) {
      if (known.has(s.id) || this.#followers.has(s.id) || this.#ignored.has(s.id) || s.size === 0) continue;
      this.#ignored.add(s.id);
      const head = Math.min(FP_MAX, s.size);
      const hash = await headHash(s.path, head);
      if (hash === null) continue;
      this.#log.info('an empty log file was copied and truncated between polls; reading the copy', { path: f.path, copy: s.path });
      await this.#drainCopy(f.path, { fpLen: head, fpHash: hash, offset: 0 }, null);
    }
  }

  /**
   * The file shrank or its head changed: finish the old content from copytruncate's copy, then restart at 0.
   * Lines written after the last read and before the truncation (after the copy, with copytruncate) are in
   * neither file. Their number is estimated: when watching, from the largest size seen at a change event
   * (`peak`) beyond what was read or copied; when polling, from the file's recent growth rate over the time
   * since the last read, less what the file holds now (written since the truncation) and what the copy held.
   */
  async #onTruncated(f: Follower, sizeNow: number, now: number, peak: number | null): Promise<void> {
    const exclude = new Set(this.#followers.keys());
    const before = f.splitter.readOffset;
    const copy = await this.#drainCopy(f.path, { fpLen: f.fpLen, fpHash: f.fpHash, offset: before }, f, exclude);
    if (!copy) this.#emit(f, f.splitter.flushPartial(), f.splitter.offset);
    const fromCopy = copy ? Math.max(0, copy.size - before) : 0;
    const written = f.rate > 0 ? f.rate * Math.max(0, now - f.rateAt) : 0;
    const lostBytes = peak !== null ? Math.max(0, peak - Math.max(before, copy?.size ?? 0)) : Math.max(0, written - sizeNow - fromCopy);
    const lineBytes = f.linesSeen > 0 ? f.bytesSeen / f.linesSeen : 100;
    const estimated = Math.round(lostBytes / lineBytes);
    if (estimated >= 1) {
      this.#d.metrics?.gap?.(this.#o.name, estimated);
      this.#d.metrics?.dropped(this.#o.name, 'lost_on_truncate', estimated);
      this.#log.warn('log file truncated: lines written after the last read and before the truncation are lost', {
        path: f.path,
        copy: copy?.path ?? null,
        estimated_lines: estimated,
        unread_ms: now - f.rateAt,
      });
    } else if (!copy) this.#log.info('log file truncated; reading it again from the start', { path: f.path, offset: before });
    this.#flushEvent(f);
    f.rate = 0;
    f.rateAt = now;
    f.rateSize = sizeNow;
    f.splitter.reset(0);
    f.assembler?.reset();
    f.fpLen = 0;
    f.fpHash = '';
    f.size = 0;
    f.dirty = true;
  }

  /**
   * Read the rest of a file's old content (from `state.offset`) out of its copy. With `f` the follower's
   * splitter continues (it may hold half a line); otherwise a fresh one starts at the offset.
   */
  async #drainCopy(
    path: string,
    state: Pick<OffsetRow, 'fpLen' | 'fpHash' | 'offset'>,
    f: Follower | null,
    exclude: ReadonlySet<string> = new Set(),
  ): Promise<{ path: string; size: number } | null> {
    const copy = await findRotatedCopy(path, { len: state.fpLen, hash: state.fpHash }, state.offset, exclude);
    if (!copy) return null;
    this.#ignored.add(copy.id);
    const now = this.#d.clock.now();
    const splitter = f?.splitter ?? new LineSplitter({ maxLineBytes: this.#o.maxLineBytes, offset: state.offset, trackLines: !!this.#o.multiline });
    const carrier: Follower = f ?? ({ splitter, assembler: this.#o.multiline ? new MultilineAssembler(this.#o.multiline.start, this.#o.multiline.maxLines) : null } as Follower);
    const fh = await open(copy.path, 'r').catch(() => null);
    if (!fh) return null;
    try {
      let pos = splitter.readOffset;
      while (pos < copy.size) {
        const { bytesRead } = await fh.read(this.#buf, 0, Math.min(READ_CHUNK, copy.size - pos), pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        this.#take(carrier, this.#buf.subarray(0, bytesRead), now);
      }
    } finally {
      await fh.close().catch(() => {});
    }
    this.#emit(carrier, splitter.flushPartial(), splitter.offset);
    this.#flushEvent(carrier);
    this.#log.info('log file was truncated; read its unread rest from the copy', { path, copy: copy.path, from: state.offset });
    return copy;
  }

  #take(f: Follower, chunk: Buffer, now: number): void {
    const before = f.splitter.offset;
    const block = f.splitter.push(chunk);
    if (block.lines > 0) f.lastLineAt = now;
    f.bytesSeen += chunk.length;
    f.linesSeen += block.lines;
    this.#emit(f, block, before);
  }

  #emit(f: Follower, block: LineBlock, firstStart: number): void {
    f.dirty = true;
    if (block.lines === 0) return;
    this.#d.metrics?.linesRead(this.#o.name, block.lines);
    if (block.cut > 0) this.#d.metrics?.dropped(this.#o.name, 'line_too_long', block.cut);
    if (!f.assembler) {
      this.#items.push({ kind: 'lines', text: block.text, lines: block.lines });
      this.#pendingBytes += block.text.length;
      return;
    }
    const lines = block.text.split('\n');
    for (const ev of f.assembler.push(lines, block.ends ?? [], firstStart)) this.#pushEvent(ev.text, ev.dropped);
  }

  #flushEvent(f: Pick<Follower, 'assembler' | 'dirty'>): void {
    const ev = f.assembler?.flush();
    if (ev) {
      this.#pushEvent(ev.text, ev.dropped);
      f.dirty = true;
    }
  }

  #pushEvent(text: string, dropped: number): void {
    if (dropped > 0) this.#d.metrics?.dropped(this.#o.name, 'event_too_long', dropped);
    this.#items.push({ kind: 'event', text });
    this.#pendingBytes += text.length;
  }

  async #deliver(): Promise<void> {
    const upserts: OffsetRow[] = [];
    for (const f of this.#followers.values()) {
      if (!f.dirty) continue;
      f.dirty = false;
      upserts.push({ fileId: f.id, path: f.path, fpLen: f.fpLen, fpHash: f.fpHash, offset: f.assembler?.pendingStart ?? f.splitter.offset });
    }
    if (upserts.length === 0 && this.#deletes.length === 0 && this.#items.length === 0) return;
    const batch: TailBatch = { input: this.#o.name, items: this.#items, checkpoint: { input: this.#o.name, upserts, deletes: this.#deletes } };
    const pending = this.#pendingBytes;
    this.#items = [];
    this.#deletes = [];
    this.#pendingBytes = 0;
    try {
      await this.#d.deliver(batch);
    } catch (err) {
      // Nothing was committed: keep the items and offsets, read nothing more until a delivery succeeds.
      this.#items = batch.items.concat(this.#items);
      this.#pendingBytes += pending;
      this.#deletes = batch.checkpoint.deletes.concat(this.#deletes);
      for (const u of upserts) {
        const f = this.#followers.get(u.fileId);
        if (f) f.dirty = true;
      }
      throw err;
    }
  }
}
