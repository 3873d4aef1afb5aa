import type { Queryable } from '../store/store.ts';

// Durable timers: rows with due_at, generic over what they belong to (subject kind + id), so incident
// ladders and request deadlines share one table and one sweeper. Every function takes `now` from the
// caller's Clock; nothing here reads the database's clock.

export interface TimerRow {
  id: number;
  subjectKind: string;
  subjectId: number;
  kind: string;
  dueAt: number;
  payload: Record<string, unknown>;
}

export interface NewTimer {
  subjectKind: string;
  subjectId: number;
  kind: string;
  dueAt: number;
  payload?: Record<string, unknown>;
  /** When set, a second timer with the same key is ignored (idempotent scheduling). */
  dedupKey?: string;
}

export async function scheduleTimers(q: Queryable, timers: NewTimer[], now: number): Promise<void> {
  if (!timers.length) return;
  await q.query(
    `INSERT INTO timers (subject_kind, subject_id, kind, due_at, payload, dedup_key, created_at)
     SELECT subject_kind, subject_id, kind, due_at, payload, dedup_key, $2 FROM jsonb_to_recordset($1::jsonb)
       AS x(subject_kind text, subject_id bigint, kind text, due_at timestamptz, payload jsonb, dedup_key text)
     ON CONFLICT (dedup_key) DO NOTHING`,
    [
      JSON.stringify(
        timers.map((t) => ({
          subject_kind: t.subjectKind,
          subject_id: t.subjectId,
          kind: t.kind,
          due_at: new Date(t.dueAt).toISOString(),
          payload: t.payload ?? {},
          dedup_key: t.dedupKey ?? null,
        })),
      ),
      new Date(now).toISOString(),
    ],
  );
}

/** Cancel a subject's pending timers (all, or only the given kinds). Returns how many. */
export async function cancelTimers(q: Queryable, subjectKind: string, subjectId: number, kinds?: string[]): Promise<number> {
  const r = await q.query(
    `UPDATE timers SET state = 'cancelled' WHERE subject_kind = $1 AND subject_id = $2 AND state = 'pending'
       ${kinds ? 'AND kind IN (SELECT jsonb_array_elements_text($3::jsonb))' : ''}`,
    kinds ? [subjectKind, subjectId, JSON.stringify(kinds)] : [subjectKind, subjectId],
  );
  return r.rowCount;
}

interface Row {
  id: number;
  subject_kind: string;
  subject_id: number;
  kind: string;
  due_at: Date | string;
  payload: Record<string, unknown>;
}

/**
 * Lock up to `limit` due timers for this transaction (SKIP LOCKED: another sweeper takes the others).
 * The caller handles them and calls `markFired` in the same transaction, so a crash rolls the claim back.
 */
export async function claimDueTimers(q: Queryable, now: number, limit: number, kinds?: string[]): Promise<TimerRow[]> {
  const r = await q.query<Row>(
    `SELECT id, subject_kind, subject_id, kind, due_at, payload FROM timers
      WHERE state = 'pending' AND due_at <= $1 ${kinds ? 'AND kind IN (SELECT jsonb_array_elements_text($3::jsonb))' : ''}
      ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    kinds ? [new Date(now).toISOString(), limit, JSON.stringify(kinds)] : [new Date(now).toISOString(), limit],
  );
  return r.rows.map((x) => ({
    id: Number(x.id),
    subjectKind: x.subject_kind,
    subjectId: Number(x.subject_id),
    kind: x.kind,
    dueAt: new Date(x.due_at).getTime(),
    payload: x.payload ?? {},
  }));
}

export async function markFired(q: Queryable, ids: number[], now: number): Promise<void> {
  if (!ids.length) return;
  await q.query(`UPDATE timers SET state = 'fired', fired_at = $2 WHERE id IN (SELECT (jsonb_array_elements_text($1::jsonb))::bigint)`, [
    JSON.stringify(ids),
    new Date(now).toISOString(),
  ]);
}

/** Try a failed timer again later; `failures` is kept in its payload. */
export async function postponeTimer(q: Queryable, id: number, dueAt: number, failures: number): Promise<void> {
  await q.query(`UPDATE timers SET due_at = $2, payload = payload || jsonb_build_object('failures', $3::int) WHERE id = $1`, [id, new Date(dueAt).toISOString(), failures]);
}

/** The earliest pending due time (to arm the wake-up), or null. */
export async function nextDueAt(q: Queryable): Promise<number | null> {
  const r = await q.query<{ d: Date | string | null }>(`SELECT min(due_at) AS d FROM timers WHERE state = 'pending'`);
  const d = r.rows[0]?.d;
  return d ? new Date(d).getTime() : null;
}
