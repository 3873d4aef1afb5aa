// SQL for backups (migration 040). Every time is a parameter in ms: the injected Clock stays authoritative.

import type { Queryable } from '../store/store.ts';
import type { ArtifactFormat, BackupKind } from './config.ts';

export type Task = 'backup' | 'verify' | 'drill';
export type RunStatus = 'running' | 'ok' | 'failed';
export type ArtifactStatus = 'writing' | 'complete' | 'failed' | 'deleted';

export interface Artifact {
  id: number;
  job: string;
  kind: BackupKind;
  format: ArtifactFormat;
  path: string;
  status: ArtifactStatus;
  sizeBytes: number | null;
  sha256: string | null;
  startedAt: number;
  completedAt: number | null;
  sourceMtime: number | null;
  verifiedAt: number | null;
  verifyOk: boolean | null;
  verifyReason: string | null;
  error: string | null;
}

export interface Run {
  id: number;
  job: string;
  task: Task;
  trigger: string;
  status: RunStatus;
  artifactId: number | null;
  startedAt: number;
  finishedAt: number | null;
  durationMs: number | null;
  reasonCode: string | null;
  reason: string | null;
  detail: Record<string, unknown>;
}

const ts = (p: string) => `to_timestamp(${p}::float8 / 1000.0)`;
const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

const ARTIFACT_COLS = `id, job, kind, format, path, status, size_bytes AS "sizeBytes", sha256,
  ${ms('started_at')} AS "startedAt", ${ms('completed_at')} AS "completedAt", ${ms('source_mtime')} AS "sourceMtime",
  ${ms('verified_at')} AS "verifiedAt", verify_ok AS "verifyOk", verify_reason AS "verifyReason", error`;
const RUN_COLS = `id, job, task, trigger, status, artifact_id AS "artifactId", ${ms('started_at')} AS "startedAt",
  ${ms('finished_at')} AS "finishedAt", duration_ms AS "durationMs", reason_code AS "reasonCode", reason, detail`;

export async function insertArtifact(
  q: Queryable,
  a: { job: string; kind: BackupKind; format: ArtifactFormat; path: string; status: ArtifactStatus; startedAt: number },
): Promise<number> {
  const r = await q.query<{ id: number }>(
    `INSERT INTO backup_artifacts (job, kind, format, path, status, started_at) VALUES ($1, $2, $3, $4, $5, ${ts('$6')}) RETURNING id`,
    [a.job, a.kind, a.format, a.path, a.status, a.startedAt],
  );
  return r.rows[0]!.id;
}

export async function completeArtifact(
  q: Queryable,
  id: number,
  f: { path: string; sizeBytes: number; sha256: string; completedAt: number; sourceMtime?: number },
): Promise<void> {
  await q.query(
    `UPDATE backup_artifacts SET status = 'complete', path = $2, size_bytes = $3, sha256 = $4, completed_at = ${ts('$5')},
       source_mtime = CASE WHEN $6::float8 IS NULL THEN NULL ELSE ${ts('$6')} END WHERE id = $1`,
    [id, f.path, f.sizeBytes, f.sha256, f.completedAt, f.sourceMtime ?? null],
  );
}

export async function failArtifact(q: Queryable, id: number, error: string): Promise<void> {
  await q.query(`UPDATE backup_artifacts SET status = 'failed', error = $2 WHERE id = $1`, [id, error]);
}

export async function markDeleted(q: Queryable, id: number, at: number): Promise<void> {
  await q.query(`UPDATE backup_artifacts SET status = 'deleted', deleted_at = ${ts('$2')} WHERE id = $1`, [id, at]);
}

export async function recordVerification(q: Queryable, id: number, at: number, ok: boolean, reason: string | null): Promise<void> {
  await q.query(`UPDATE backup_artifacts SET verified_at = ${ts('$2')}, verify_ok = $3, verify_reason = $4 WHERE id = $1`, [id, at, ok, reason]);
}

/** Complete artifacts of a job, newest first. */
export async function completeArtifacts(q: Queryable, job: string, limit = 1000): Promise<Artifact[]> {
  const r = await q.query<Artifact>(
    `SELECT ${ARTIFACT_COLS} FROM backup_artifacts WHERE job = $1 AND status = 'complete'
     ORDER BY completed_at DESC, id DESC LIMIT $2`,
    [job, limit],
  );
  return r.rows;
}

export async function artifactsInState(q: Queryable, job: string, status: ArtifactStatus): Promise<Artifact[]> {
  const r = await q.query<Artifact>(`SELECT ${ARTIFACT_COLS} FROM backup_artifacts WHERE job = $1 AND status = $2 ORDER BY id`, [job, status]);
  return r.rows;
}

export async function findArtifactByPath(q: Queryable, job: string, path: string): Promise<Artifact | undefined> {
  const r = await q.query<Artifact>(
    `SELECT ${ARTIFACT_COLS} FROM backup_artifacts WHERE job = $1 AND path = $2 AND status <> 'deleted' ORDER BY id DESC LIMIT 1`,
    [job, path],
  );
  return r.rows[0];
}

export async function startRun(q: Queryable, r: { job: string; task: Task; trigger: string; startedAt: number }): Promise<number> {
  const res = await q.query<{ id: number }>(
    `INSERT INTO backup_runs (job, task, trigger, status, started_at) VALUES ($1, $2, $3, 'running', ${ts('$4')}) RETURNING id`,
    [r.job, r.task, r.trigger, r.startedAt],
  );
  return res.rows[0]!.id;
}

export async function finishRun(
  q: Queryable,
  id: number,
  f: { status: 'ok' | 'failed'; finishedAt: number; durationMs: number; artifactId?: number | null; reasonCode?: string | null; reason?: string | null; detail?: Record<string, unknown> },
): Promise<void> {
  await q.query(
    `UPDATE backup_runs SET status = $2, finished_at = ${ts('$3')}, duration_ms = $4, artifact_id = COALESCE($5, artifact_id),
       reason_code = $6, reason = $7, detail = $8::jsonb WHERE id = $1`,
    [id, f.status, f.finishedAt, f.durationMs, f.artifactId ?? null, f.reasonCode ?? null, f.reason ?? null, JSON.stringify(f.detail ?? {})],
  );
}

/** Runs of `job` left 'running' by a process that died: mark them failed. Call only while holding the job's lock. */
export async function failInterruptedRuns(q: Queryable, job: string, at: number): Promise<number> {
  const r = await q.query(
    `UPDATE backup_runs SET status = 'failed', finished_at = ${ts('$2')}, reason_code = 'interrupted',
       reason = 'interrupted: the process running it stopped before it finished' WHERE job = $1 AND status = 'running'`,
    [job, at],
  );
  return r.rowCount;
}

export async function listRuns(q: Queryable, f: { job?: string; task?: Task; limit: number; beforeId?: number }): Promise<Run[]> {
  const r = await q.query<Run>(
    `SELECT ${RUN_COLS} FROM backup_runs
     WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR task = $2) AND ($3::bigint IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [f.job ?? null, f.task ?? null, f.beforeId ?? null, f.limit],
  );
  return r.rows;
}

export async function lastRun(q: Queryable, job: string, task: Task, status?: RunStatus): Promise<Run | undefined> {
  const r = await q.query<Run>(
    `SELECT ${RUN_COLS} FROM backup_runs WHERE job = $1 AND task = $2 AND ($3::text IS NULL OR status = $3) ORDER BY id DESC LIMIT 1`,
    [job, task, status ?? null],
  );
  return r.rows[0];
}

// --- schedules -------------------------------------------------------------------------------------

export interface ScheduleRow {
  job: string;
  task: Task;
  expr: string;
  dueAt: number;
}

/** Make the schedule rows match config: new ones get `dueAt`, a changed expression is re-planned, a removed one deleted. */
export async function syncSchedules(q: Queryable, wanted: { job: string; task: Task; expr: string; dueAt: number }[]): Promise<void> {
  await q.query(
    `DELETE FROM backup_schedules s WHERE NOT EXISTS (
       SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS w(job text, task text, expr text, "dueAt" float8)
       WHERE w.job = s.job AND w.task = s.task)`,
    [JSON.stringify(wanted)],
  );
  for (const w of wanted) {
    await q.query(
      `INSERT INTO backup_schedules (job, task, expr, due_at) VALUES ($1, $2, $3, ${ts('$4')})
       ON CONFLICT (job, task) DO UPDATE SET expr = EXCLUDED.expr, due_at = EXCLUDED.due_at
       WHERE backup_schedules.expr <> EXCLUDED.expr`,
      [w.job, w.task, w.expr, w.dueAt],
    );
  }
}

/**
 * Claim the rows due at `now`, moving each to its next due time in the same transaction, so two
 * instances never run one occurrence twice (SKIP LOCKED) and a restart loses none (rows, not timers).
 */
export async function claimDue(q: Queryable, now: number, next: (row: ScheduleRow) => number): Promise<ScheduleRow[]> {
  const r = await q.query<ScheduleRow>(
    `SELECT job, task, expr, ${ms('due_at')} AS "dueAt" FROM backup_schedules WHERE due_at <= ${ts('$1')}
     ORDER BY due_at FOR UPDATE SKIP LOCKED`,
    [now],
  );
  for (const row of r.rows) {
    await q.query(`UPDATE backup_schedules SET due_at = ${ts('$3')}, last_started_at = ${ts('$4')} WHERE job = $1 AND task = $2`, [
      row.job,
      row.task,
      next(row),
      now,
    ]);
  }
  return r.rows;
}

export async function nextDueAt(q: Queryable): Promise<number | undefined> {
  const r = await q.query<{ at: number | null }>(`SELECT ${ms('min(due_at)')} AS at FROM backup_schedules`);
  return r.rows[0]?.at ?? undefined;
}

export async function listSchedules(q: Queryable): Promise<ScheduleRow[]> {
  const r = await q.query<ScheduleRow>(`SELECT job, task, expr, ${ms('due_at')} AS "dueAt" FROM backup_schedules ORDER BY job, task`);
  return r.rows;
}

// --- alert state -------------------------------------------------------------------------------------

/** Record the alert state; returns the previous status (undefined when never seen). */
export async function setAlertState(
  q: Queryable,
  a: { fingerprint: string; job: string; stage: string; status: 'firing' | 'resolved'; reasonCode: string | null; at: number },
): Promise<'firing' | 'resolved' | undefined> {
  const prev = await q.query<{ status: 'firing' | 'resolved' }>('SELECT status FROM backup_alerts WHERE fingerprint = $1', [a.fingerprint]);
  await q.query(
    `INSERT INTO backup_alerts (fingerprint, job, stage, status, reason_code, changed_at) VALUES ($1, $2, $3, $4, $5, ${ts('$6')})
     ON CONFLICT (fingerprint) DO UPDATE SET status = EXCLUDED.status, reason_code = EXCLUDED.reason_code, changed_at = EXCLUDED.changed_at`,
    [a.fingerprint, a.job, a.stage, a.status, a.reasonCode, a.at],
  );
  return prev.rows[0]?.status;
}

export async function firingAlerts(q: Queryable, job?: string): Promise<{ job: string; stage: string; reasonCode: string | null }[]> {
  const r = await q.query<{ job: string; stage: string; reasonCode: string | null }>(
    `SELECT job, stage, reason_code AS "reasonCode" FROM backup_alerts WHERE status = 'firing' AND ($1::text IS NULL OR job = $1) ORDER BY job, stage`,
    [job ?? null],
  );
  return r.rows;
}
