// The backup service: runs backup / verify / drill for configured jobs, on demand (CLI, API) and on
// schedule. Schedules are rows with `due_at` (a restart loses none; several instances never run one
// occurrence twice); a Clock timer only wakes the sweeper. Every run is recorded, exported as metrics,
// and turned into signals: a failure or a missed run fires, the next success of that stage resolves.

import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { Clock, Timer } from '../clock.ts';
import { nullLogger, type Logger } from '../log.ts';
import type { SignalSink } from '../signals/sink.ts';
import type { Store } from '../store/store.ts';
import { nextCronTime, type BackupJob, type ResolvedBackups } from './config.ts';
import { runDrill } from './drill.ts';
import { BackupMetrics } from './metrics.ts';
import { produceBackup, recoverInterrupted } from './produce.ts';
import * as repo from './repo.ts';
import { applyRetention } from './retention.ts';
import { backupFingerprint, backupSignal, type ReasonCode, type Stage } from './signals.ts';
import type { TaskContext, TaskOutcome } from './task.ts';
import { artifactTime, verifyLatest } from './verify.ts';

export interface BackupServiceDeps {
  store: Store;
  clock: Clock;
  config: ResolvedBackups;
  sink: SignalSink;
  registry: Registry;
  logger?: Logger;
  /** Environment for pg_dump, pg_restore and tar (PATH finds them). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Monotonic ms for durations. Default: performance.now. */
  monotonic?: () => number;
}

export type Trigger = 'manual' | 'schedule' | 'after_backup';

export interface RunResult {
  job: string;
  task: repo.Task;
  ok: boolean;
  /** Another run of this job holds its lock (here or in another kuzet instance); nothing was done. */
  busy?: boolean;
  runId?: number;
  artifactId?: number;
  reasonCode?: ReasonCode;
  reason?: string;
  durationMs: number;
  detail: Record<string, unknown>;
}

export interface RunOptions {
  trigger?: Trigger;
  progress?: (line: string) => void;
}

const LOCK_NAMESPACE = 7_305_040;
// The sweeper also wakes this often when nothing is due, so rows another instance changed are seen.
const MAX_SLEEP_MS = 6 * 3_600_000;

export class BackupService {
  readonly #d: BackupServiceDeps;
  readonly #log: Logger;
  readonly #metrics: BackupMetrics;
  readonly #running = new Set<string>();
  readonly #inflight = new Set<Promise<unknown>>();
  #abort = new AbortController();
  #timer: Timer | undefined;
  #started = false;
  #sweeping: Promise<RunResult[]> | undefined;

  constructor(deps: BackupServiceDeps) {
    this.#d = deps;
    this.#log = (deps.logger ?? nullLogger).child({ component: 'backups' });
    this.#metrics = new BackupMetrics(deps.registry, deps.clock);
  }

  get jobs(): readonly BackupJob[] {
    return this.#d.config.jobs;
  }

  job(name: string): BackupJob | undefined {
    return this.#d.config.jobs.find((j) => j.name === name);
  }

  /** Load metric state, bring schedule rows in line with config, and arm the sweeper. Idempotent. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#abort = new AbortController();
    await this.loadMetrics();
    await this.syncSchedules();
    await this.#arm();
  }

  /** Stop the sweeper and wait for in-flight runs; `abort` stops running tools first (runs end failed). */
  async stop(opts: { abort?: boolean } = {}): Promise<void> {
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    if (opts.abort) this.#abort.abort();
    await Promise.allSettled([...this.#inflight]);
  }

  async loadMetrics(): Promise<void> {
    for (const job of this.jobs) {
      const [latest] = await repo.completeArtifacts(this.#d.store, job.name, 1);
      if (latest) this.#metrics.backupCompleted(job.name, artifactTime(latest), latest.sizeBytes ?? 0);
      // After a restart the gauges start from the last recorded outcome, not from nothing.
      const verify = await repo.lastRun(this.#d.store, job.name, 'verify');
      if (verify && verify.status !== 'running' && verify.reasonCode !== 'no_backup') this.#metrics.verified(job.name, verify.status === 'ok');
      const drill = job.drill ? await repo.lastRun(this.#d.store, job.name, 'drill') : undefined;
      if (drill && drill.status !== 'running') {
        const secs = drill.detail.restoreSeconds;
        this.#metrics.drilled(job.name, drill.status === 'ok', typeof secs === 'number' ? secs : undefined);
      }
    }
  }

  async syncSchedules(): Promise<void> {
    const now = this.#d.clock.now();
    const wanted: { job: string; task: repo.Task; expr: string; dueAt: number }[] = [];
    for (const j of this.jobs) {
      const add = (task: repo.Task, expr: string | undefined) => expr && wanted.push({ job: j.name, task, expr, dueAt: this.nextAfter(expr, now) });
      add('backup', j.schedule);
      add('verify', j.verify.schedule);
      if (j.drill) add('drill', j.drill.schedule);
    }
    await this.#d.store.tx((q) => repo.syncSchedules(q, wanted));
  }

  /** The next time `expr` fires strictly after `after`, in the configured time zone. */
  nextAfter(expr: string, after: number): number {
    return nextCronTime(expr, after, this.#d.config.timezone);
  }

  /**
   * Run every schedule row that is due. A row found more than `missed_after` past its due time
   * (kuzet was down, or busy) first fires a "missed" signal; the run then follows, and its success resolves it.
   */
  sweep(): Promise<RunResult[]> {
    if (this.#sweeping) return this.#sweeping.catch(() => []).then(() => this.sweep());
    const p = this.#track(this.#sweep()).finally(() => {
      this.#sweeping = undefined;
    });
    this.#sweeping = p;
    return p;
  }

  async #sweep(): Promise<RunResult[]> {
    const now = this.#d.clock.now();
    const due = await this.#d.store.tx((q) => repo.claimDue(q, now, (row) => this.nextAfter(row.expr, now)));
    const results: RunResult[] = [];
    for (const row of due) {
      const job = this.job(row.job);
      if (!job) continue;
      if (now - row.dueAt > this.#d.config.missedAfterMs) {
        const when = new Date(row.dueAt).toISOString();
        await this.#emit(job, row.task, { ok: false, reasonCode: 'missed', reason: `the ${row.task} due at ${when} did not run on time; running it now` });
      }
      results.push(await this.#runOne(job, row.task, { trigger: 'schedule' }));
    }
    await this.#arm();
    return results;
  }

  async #arm(): Promise<void> {
    if (!this.#started) return;
    this.#timer?.cancel();
    const next = await repo.nextDueAt(this.#d.store).catch(() => undefined);
    const now = this.#d.clock.now();
    const wait = next === undefined ? MAX_SLEEP_MS : Math.min(MAX_SLEEP_MS, Math.max(0, next - now));
    this.#timer = this.#d.clock.setTimeout(() => {
      this.#timer = undefined;
      this.sweep().catch((err: Error) => {
        this.#log.error('backup sweep failed', { error: err.message });
        void this.#arm();
      });
    }, wait);
  }

  /** Run `task` for one job (by name) or for every job it applies to. */
  async run(task: repo.Task, name: string | undefined, opts: RunOptions = {}): Promise<RunResult[]> {
    const jobs = name === undefined ? this.jobs.filter((j) => task !== 'drill' || j.drill) : [this.job(name)].filter((j): j is BackupJob => !!j);
    const out: RunResult[] = [];
    for (const j of jobs) out.push(await this.#track(this.#runOne(j, task, opts)));
    return out;
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p)).catch(() => {});
    return p;
  }

  async #runOne(job: BackupJob, task: repo.Task, opts: RunOptions): Promise<RunResult> {
    const progress = (line: string) => {
      opts.progress?.(`[${job.name}] ${line}`);
      this.#log.info(line, { job: job.name, task });
    };
    const t0 = this.#monotonic();
    const locked = await this.#withJobLock(job.name, async () => {
      const ctx: TaskContext = { clock: this.#d.clock, monotonic: this.#monotonic, env: this.#d.env ?? process.env, progress, abort: this.#abort.signal };
      const interrupted = await repo.failInterruptedRuns(this.#d.store, job.name, this.#d.clock.now());
      if (interrupted) progress(`marked ${interrupted} run(s) of an interrupted process as failed`);
      await recoverInterrupted(this.#d.store, job, ctx);
      const first = await this.#recorded(job, task, opts.trigger ?? 'manual', ctx);
      if (task !== 'backup' || !first.ok) return first;
      // After a successful backup: verify it at once, then apply retention.
      const v = await this.#recorded(job, 'verify', 'after_backup', ctx, first.detail.sha256 ? first.artifactId : undefined);
      await applyRetention(this.#d.store, job, this.#d.clock.now(), progress).catch((err: Error) => progress(`retention failed: ${err.message}`));
      return { ...first, detail: { ...first.detail, verification: { ok: v.ok, reasonCode: v.reasonCode, reason: v.reason } } };
    });
    if (locked === undefined) {
      progress(`another ${task} of this job is running; skipped`);
      return { job: job.name, task, ok: false, busy: true, reason: 'another run of this job is in progress', durationMs: this.#monotonic() - t0, detail: {} };
    }
    return locked;
  }

  /** Run `task`, record it as a run row, update metrics and signals. Never throws for task failures. */
  async #recorded(job: BackupJob, task: repo.Task, trigger: Trigger, ctx: TaskContext, hashedArtifactId?: number): Promise<RunResult> {
    const { store, clock } = this.#d;
    ctx.progress(`${task} started`);
    const runId = await repo.startRun(store, { job: job.name, task, trigger, startedAt: clock.now() });
    const t0 = this.#monotonic();
    let outcome: TaskOutcome;
    try {
      if (task === 'backup') outcome = await produceBackup(store, job, ctx);
      else if (task === 'verify') outcome = await verifyLatest(store, job, ctx, hashedArtifactId);
      else if (!job.drill) outcome = { ok: false, reasonCode: 'error', reason: `job "${job.name}" has no drill configured` };
      else outcome = await runDrill(store, job, ctx);
    } catch (err) {
      outcome = { ok: false, reasonCode: 'error', reason: `${task} failed unexpectedly: ${(err as Error).message}` };
    }
    const durationMs = this.#monotonic() - t0;
    const detail = outcome.detail ?? {};
    // Stopped by a shutdown (stop({ abort: true })): recorded as interrupted, and not worth a page.
    const shutdown = !outcome.ok && this.#abort.signal.aborted;
    if (shutdown) outcome = { ...outcome, reasonCode: 'interrupted', reason: `interrupted by shutdown: ${outcome.reason}` };
    await repo.finishRun(store, runId, {
      status: outcome.ok ? 'ok' : 'failed',
      finishedAt: clock.now(),
      durationMs,
      artifactId: outcome.artifactId,
      reasonCode: outcome.reasonCode,
      reason: outcome.reason,
      detail,
    });
    ctx.progress(outcome.ok ? `${task} ok` : `${task} FAILED (${outcome.reasonCode}): ${outcome.reason}`);

    if (task === 'backup' && outcome.ok && outcome.artifactId !== undefined) {
      const [latest] = await repo.completeArtifacts(store, job.name, 1);
      if (latest) this.#metrics.backupCompleted(job.name, artifactTime(latest), latest.sizeBytes ?? 0);
    }
    if (task === 'verify' && outcome.reasonCode !== 'no_backup') this.#metrics.verified(job.name, outcome.ok);
    if (task === 'drill') this.#metrics.drilled(job.name, outcome.ok, typeof detail.restoreSeconds === 'number' ? detail.restoreSeconds : undefined);
    if (!shutdown) await this.#emit(job, task, outcome);
    return { job: job.name, task, ok: outcome.ok, runId, artifactId: outcome.artifactId, reasonCode: outcome.reasonCode, reason: outcome.reason, durationMs, detail };
  }

  /** Fire on failure; resolve on success only when this stage was firing. A sink failure is logged, not thrown. */
  async #emit(job: BackupJob, stage: Stage, outcome: Pick<TaskOutcome, 'ok' | 'reasonCode' | 'reason' | 'detail'>): Promise<void> {
    const { store, clock, sink } = this.#d;
    const fingerprint = backupFingerprint(job.name, stage);
    const status = outcome.ok ? 'resolved' : 'firing';
    try {
      if (outcome.ok) {
        const [open] = (await repo.firingAlerts(store, job.name)).filter((a) => a.stage === stage);
        if (!open) return;
      }
      const payload = outcome.ok ? {} : { reason: outcome.reason, reasonCode: outcome.reasonCode };
      await sink.submit([backupSignal(job, stage, { status, reasonCode: outcome.reasonCode, reason: outcome.reason, payload }, clock.now())]);
      await repo.setAlertState(store, { fingerprint, job: job.name, stage, status, reasonCode: outcome.reasonCode ?? null, at: clock.now() });
    } catch (err) {
      this.#log.error('could not submit a backup signal', { job: job.name, stage, error: (err as Error).message });
    }
  }

  /**
   * Mutual exclusion per job: in this process (a Set) and across instances (a PostgreSQL session
   * advisory lock, released by the server when the holder dies, so a kill -9 never wedges a job).
   * Returns undefined when the job is busy.
   */
  async #withJobLock<T>(job: string, fn: () => Promise<T>): Promise<T | undefined> {
    if (this.#running.has(job)) return undefined;
    this.#running.add(job);
    try {
      if (this.#d.store.kind !== 'postgres') return await fn();
      return await this.#d.store.session(async (q) => {
        const key = `hashtext(current_schema() || ':backup:' || $2::text)`;
        const got = await q.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1::int, ${key}) AS ok`, [LOCK_NAMESPACE, job]);
        if (!got.rows[0]?.ok) return undefined;
        try {
          return await fn();
        } finally {
          await q.query(`SELECT pg_advisory_unlock($1::int, ${key})`, [LOCK_NAMESPACE, job]).catch(() => {});
        }
      });
    } finally {
      this.#running.delete(job);
    }
  }

  readonly #monotonic = (): number => (this.#d.monotonic ?? performance.now.bind(performance))();

  // --- read side (API, CLI) -------------------------------------------------------------------------

  async status(): Promise<JobStatus[]> {
    const { store } = this.#d;
    const schedules = await repo.listSchedules(store);
    const out: JobStatus[] = [];
    for (const j of this.jobs) {
      const [latest] = await repo.completeArtifacts(store, j.name, 1);
      const last = async (task: repo.Task) => (await repo.lastRun(store, j.name, task)) ?? null;
      out.push({
        name: j.name,
        system: j.system,
        kind: j.kind,
        latest: latest ?? null,
        lastBackup: await last('backup'),
        lastVerify: await last('verify'),
        lastDrill: j.drill ? await last('drill') : null,
        schedules: schedules.filter((s) => s.job === j.name).map((s) => ({ task: s.task, expr: s.expr, dueAt: s.dueAt })),
        firing: (await repo.firingAlerts(store, j.name)).map((a) => ({ stage: a.stage, reasonCode: a.reasonCode })),
      });
    }
    return out;
  }

  history(f: { job?: string; task?: repo.Task; limit: number; beforeId?: number }): Promise<repo.Run[]> {
    return repo.listRuns(this.#d.store, f);
  }
}

export interface JobStatus {
  name: string;
  system: string;
  kind: BackupJob['kind'];
  latest: repo.Artifact | null;
  lastBackup: repo.Run | null;
  lastVerify: repo.Run | null;
  lastDrill: repo.Run | null;
  schedules: { task: repo.Task; expr: string; dueAt: number }[];
  firing: { stage: string; reasonCode: string | null }[];
}
