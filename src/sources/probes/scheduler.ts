import type { Clock, Timer } from '../../clock.ts';

// One scheduler for every probe: a binary heap of due times and a single clock timer for the earliest.
// - Start times are spread across the interval by a stable hash of the name (reloads and restarts keep them),
//   on a grid of `granularityMs` slots: probes sharing a slot start in one wake-up. Waking once per probe
//   costs more CPU than the probe itself at thousands of probes (measured: ~2x per request).
// - Fixed rate: the next run is due one interval after the previous *due* time, not after it finished.
// - A job never overlaps itself: if it is still running when due again, that run is skipped and counted.
// - At most `concurrency` jobs run at once; the rest wait in due order.

export interface Job {
  readonly name: string;
  readonly intervalMs: number;
  run(): Promise<void>;
}

interface Entry {
  job: Job;
  due: number;
  /** The due time of the run being launched (for lateness). */
  lastDue: number;
  running: boolean;
  removed: boolean;
}

export interface SchedulerStats {
  started: number;
  skippedOverlap: number;
  /** Lateness of starts (actual start minus due), ms, in a bounded ring for percentiles. */
  lateness: number[];
  running: number;
  queued: number;
}

export interface SchedulerOptions {
  clock: Clock;
  concurrency?: number;
  /** Width of a start slot (default 50 ms); first starts fall on multiples of it. */
  granularityMs?: number;
  /** Called after a job settles; errors from jobs are reported here, never thrown. */
  onError?: (job: string, err: unknown) => void;
  onLate?: (ms: number) => void;
}

export function stableOffset(name: string, intervalMs: number, granularityMs = 1): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  // FNV-1a alone leaves names that differ in the last character close together; mix (murmur3 finaliser).
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  const g = Math.max(1, Math.min(granularityMs, intervalMs));
  return Math.floor(((h >>> 0) % Math.max(1, Math.floor(intervalMs))) / g) * g;
}

export class Scheduler {
  readonly #clock: Clock;
  readonly #concurrency: number;
  readonly #opts: SchedulerOptions;
  #heap: Entry[] = [];
  #entries = new Map<string, Entry>();
  #ready: Entry[] = [];
  #timer?: Timer;
  #timerDue = Infinity;
  #running = 0;
  #inflight = new Set<Promise<void>>();
  #started = false;
  readonly stats: SchedulerStats = { started: 0, skippedOverlap: 0, lateness: [], running: 0, queued: 0 };
  #latenessAt = 0;

  constructor(opts: SchedulerOptions) {
    this.#clock = opts.clock;
    this.#concurrency = Math.max(1, opts.concurrency ?? 256);
    this.#opts = opts;
  }

  /**
   * Replace the job set (reload). Jobs kept by name keep their schedule when their interval is unchanged.
   * New jobs named in `dueNow` run at once (a run of theirs was missed elsewhere), then on their grid. New jobs
   * take their first slot at or after `since` (default now), so a slot that passed while the caller was deciding
   * runs late rather than not at all.
   */
  setJobs(jobs: readonly Job[], dueNow?: ReadonlySet<string>, since?: number): void {
    const now = this.#clock.now();
    const keep = new Set(jobs.map((j) => j.name));
    for (const [name, e] of this.#entries) {
      if (!keep.has(name)) {
        e.removed = true;
        this.#entries.delete(name);
      }
    }
    for (const job of jobs) {
      const old = this.#entries.get(job.name);
      if (old) {
        // Same entry object: a run in flight keeps guarding against overlap.
        if (old.job.intervalMs !== job.intervalMs) old.due = this.#firstDue(job, now);
        old.job = job;
        continue;
      }
      const first = this.#firstDue(job, Math.min(since ?? now, now));
      const e: Entry = { job, due: dueNow?.has(job.name) ? Math.min(now, first) : first, lastDue: 0, running: false, removed: false };
      this.#entries.set(job.name, e);
      this.#heap.push(e);
    }
    this.#heap = this.#heap.filter((e) => !e.removed);
    heapify(this.#heap);
    // The earliest due time may have moved earlier than the armed timer, or later: re-arm.
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerDue = Infinity;
    this.#arm();
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#arm();
  }

  /** Stop scheduling and wait for running jobs to finish (their probes are aborted by the caller). */
  async stop(): Promise<void> {
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerDue = Infinity;
    this.#ready = [];
    await this.settled();
  }

  /** Resolves when the runs started so far have finished (tests). */
  async settled(): Promise<void> {
    while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** When a job is next due (tests, `status`). */
  dueOf(name: string): number | undefined {
    return this.#entries.get(name)?.due;
  }

  /** The latest slot of `name`'s grid at or before `now` (when a run was last due, wherever it ran). */
  previousSlot(name: string, intervalMs: number, now: number): number {
    const next = this.#firstDue({ name, intervalMs, run: () => Promise.resolve() }, now);
    return next === now ? now : next - intervalMs;
  }

  #firstDue(job: Job, now: number): number {
    const iv = job.intervalMs;
    const due = Math.floor(now / iv) * iv + stableOffset(job.name, iv, this.#opts.granularityMs ?? 50);
    return due < now ? due + iv : due;
  }

  #push(e: Entry): void {
    this.#heap.push(e);
    siftUp(this.#heap, this.#heap.length - 1);
  }

  #arm(): void {
    if (!this.#started) return;
    const top = this.#heap[0];
    if (!top) return;
    if (this.#timer && this.#timerDue <= top.due) return;
    this.#timer?.cancel();
    this.#timerDue = top.due;
    // Wake at least once a minute, so a wall clock set backwards is noticed (see #tick).
    this.#timer = this.#clock.setTimeout(() => this.#tick(), Math.min(60_000, Math.max(0, top.due - this.#clock.now())));
  }

  #tick(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    if (!this.#started) return;
    const now = this.#clock.now();
    while (this.#heap.length && this.#heap[0]!.due <= now) {
      const e = pop(this.#heap)!;
      if (e.removed) continue;
      if (e.running) this.stats.skippedOverlap++;
      else this.#ready.push(e);
      // Fixed rate; if we fell more than an interval behind, skip to the next future slot.
      const iv = e.job.intervalMs;
      const duePrev = e.due;
      e.due = duePrev + iv > now ? duePrev + iv : duePrev + Math.ceil((now - duePrev + 1) / iv) * iv;
      e.lastDue = duePrev;
      this.#push(e);
    }
    // The wall clock went backwards (an NTP step): due times far ahead would stall probes; rebase them.
    const top = this.#heap[0];
    if (top && top.due - now > top.job.intervalMs) {
      for (const e of this.#heap) e.due = this.#firstDue(e.job, now);
      heapify(this.#heap);
    }
    this.#drain();
    this.#arm();
  }

  #drain(): void {
    while (this.#running < this.#concurrency && this.#ready.length) {
      const e = this.#ready.shift()!;
      if (e.removed || e.running) continue;
      this.#launch(e);
    }
    this.stats.queued = this.#ready.length;
    this.stats.running = this.#running;
  }

  #launch(e: Entry): void {
    this.#recordLate(this.#clock.now() - e.lastDue);
    e.running = true;
    this.#running++;
    this.stats.started++;
    // Called synchronously, so the job sees the clock at its start time (a fake clock's advance() is
    // synchronous); `finally` callbacks always run later, so `p` exists when its own finally runs.
    let run: Promise<void>;
    try {
      run = e.job.run();
    } catch (err) {
      run = Promise.reject(err);
    }
    const p: Promise<void> = run
      .catch((err: unknown) => this.#opts.onError?.(e.job.name, err))
      .finally(() => {
        e.running = false;
        this.#running--;
        this.#inflight.delete(p);
        if (this.#started) this.#drain();
      });
    this.#inflight.add(p);
  }

  #recordLate(ms: number): void {
    this.#opts.onLate?.(ms);
    const ring = this.stats.lateness;
    if (ring.length < 20_000) ring.push(ms);
    else ring[this.#latenessAt++ % ring.length] = ms;
  }
}


// ---- a plain binary min-heap on `due`
function siftUp(h: Entry[], i: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]!.due <= h[i]!.due) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}
function siftDown(h: Entry[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && h[l]!.due < h[m]!.due) m = l;
    if (r < h.length && h[r]!.due < h[m]!.due) m = r;
    if (m === i) return;
    [h[m], h[i]] = [h[i]!, h[m]!];
    i = m;
  }
}
function pop(h: Entry[]): Entry | undefined {
  const top = h[0];
  const last = h.pop();
  if (h.length && last) {
    h[0] = last;
    siftDown(h, 0);
  }
  return top;
}
function heapify(h: Entry[]): void {
  for (let i = (h.length >> 1) - 1; i >= 0; i--) siftDown(h, i);
}
