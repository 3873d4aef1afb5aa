import { notFound } from '../errors.ts';
import type { Queryable } from '../store/store.ts';
import { INCIDENT_COLUMNS, rowToState, toPublic, type IncidentRow, type PublicIncident } from './rows.ts';

// Read side of incidents: views for the API, CLI and reports. Never writes.

export interface IncidentFilter {
  status?: 'open' | 'acknowledged' | 'resolved' | 'unresolved';
  system?: string;
  severity?: string;
  source?: string;
  since?: number;
  until?: number;
  /** Return incidents with id below this (paging backwards from the newest). */
  before?: number;
  limit?: number;
}

export async function listIncidents(q: Queryable, f: IncidentFilter): Promise<{ items: PublicIncident[]; next: number | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (f.status === 'unresolved') where.push(`status <> 'resolved'`);
  else if (f.status) add('status = ?', f.status);
  if (f.system) add('system = ?', f.system);
  if (f.severity) add('severity = ?', f.severity);
  if (f.source) add('source = ?', f.source);
  if (f.since !== undefined) add('opened_at >= ?', new Date(f.since).toISOString());
  if (f.until !== undefined) add('opened_at < ?', new Date(f.until).toISOString());
  if (f.before !== undefined) add('id < ?', f.before);
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
  const r = await q.query<IncidentRow>(
    `SELECT ${INCIDENT_COLUMNS} FROM incidents ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${limit + 1}`,
    args,
  );
  const rows = r.rows.slice(0, limit).map((row) => toPublic(rowToState(row)));
  return { items: rows, next: r.rows.length > limit ? rows[rows.length - 1]!.id : null };
}

export async function getIncident(q: Queryable, id: number) {
  const r = await q.query<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1`, [id]);
  if (!r.rows[0]) throw notFound(`incident ${id}`);
  const ev = await q.query<{ id: number; at: Date | string; kind: string; actor: string; detail: unknown }>(
    'SELECT id, at, kind, actor, detail FROM incident_events WHERE incident_id = $1 ORDER BY id',
    [id],
  );
  // The description a specialist gave when opening the incident travels in the first signal's payload.
  const d = await q.query<{ description: string }>(
    `SELECT payload->>'description' AS description FROM signals WHERE incident_id = $1 AND payload->>'description' IS NOT NULL ORDER BY id LIMIT 1`,
    [id],
  );
  return {
    ...toPublic(rowToState(r.rows[0])),
    description: d.rows[0]?.description ?? null,
    timeline: ev.rows.map((e) => ({ id: Number(e.id), at: new Date(e.at).toISOString(), kind: e.kind, actor: e.actor, detail: e.detail })),
  };
}

/** Open incidents by system and severity, for the kuzet_incidents_open gauge. */
export async function openCounts(q: Queryable): Promise<Array<{ system: string; severity: string; n: number }>> {
  const r = await q.query<{ system: string; severity: string; n: number }>(
    `SELECT system, severity, count(*)::int AS n FROM incidents WHERE status <> 'resolved' GROUP BY system, severity`,
  );
  return r.rows;
}
