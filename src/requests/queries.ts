import type { Queryable } from '../store/store.ts';
import { iso } from './rows.ts';

// Read-only views of requests for later stages (escalation, incident views, reports). Never writes.

export interface RequestDeadline {
  id: number;
  number: string;
  kind: 'trouble' | 'access';
  form: string;
  system: string;
  status: string;
  dueAt: string;
  warnAt: Array<{ fraction: number; at: string }>;
  /** Bumped whenever due_at or warn_at change (extension, calendar reload): a timer keyed on it is stale when it differs. */
  deadlineVersion: number;
  incidentId: number | null;
}

/** Open requests (received, acknowledged, in progress) by due time; `dueBefore` bounds it. */
export async function openRequestDeadlines(q: Queryable, opts: { dueBefore?: number; limit?: number } = {}): Promise<RequestDeadline[]> {
  const limit = Math.min(Math.max(opts.limit ?? 1000, 1), 10_000);
  const args: unknown[] = [];
  let where = `status IN ('received', 'acknowledged', 'in_progress')`;
  if (opts.dueBefore !== undefined) {
    args.push(new Date(opts.dueBefore).toISOString());
    where += ' AND due_at < $1';
  }
  const r = await q.query<{
    id: number; number: string; kind: 'trouble' | 'access'; form: string; system: string; status: string; due_at: Date | string;
    warn_at: Array<{ fraction: number; at: string }>; deadline_version: number; incident_id: number | null;
  }>(`SELECT id, number, kind, form, system, status, due_at, warn_at, deadline_version, incident_id FROM requests
      WHERE ${where} ORDER BY due_at, id LIMIT ${limit}`, args);
  return r.rows.map((x) => ({
    id: Number(x.id), number: x.number, kind: x.kind, form: x.form, system: x.system, status: x.status, dueAt: iso(x.due_at)!,
    warnAt: x.warn_at, deadlineVersion: Number(x.deadline_version), incidentId: x.incident_id === null ? null : Number(x.incident_id),
  }));
}

/** How many requests each incident has: the users it hurts. */
export async function requestCountsByIncident(q: Queryable, incidentIds: number[]): Promise<Map<number, number>> {
  if (incidentIds.length === 0) return new Map();
  const r = await q.query<{ incident_id: number; n: number }>(
    `SELECT incident_id, count(*)::int AS n FROM requests WHERE incident_id IN (SELECT (jsonb_array_elements_text($1::jsonb))::bigint)
     GROUP BY incident_id`, [JSON.stringify(incidentIds)]);
  return new Map(r.rows.map((x) => [Number(x.incident_id), Number(x.n)]));
}
