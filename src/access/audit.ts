import type { Clock } from '../clock.ts';
import type { Queryable } from '../store/store.ts';

// The audit log: append-only, one row per mutating call (and per refused one): who, what, when, from where, outcome.

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | null;
  remote?: string | null;
  outcome: string;
  detail?: Record<string, unknown>;
}

export async function writeAudit(q: Queryable, clock: Clock, e: AuditEntry): Promise<void> {
  await q.query('INSERT INTO audit_log (at, actor, action, target, remote, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)', [
    new Date(clock.now()).toISOString(),
    e.actor.slice(0, 200),
    e.action.slice(0, 200),
    e.target?.slice(0, 500) ?? null,
    e.remote?.slice(0, 100) ?? null,
    e.outcome.slice(0, 100),
    JSON.stringify(e.detail ?? {}),
  ]);
}

/** Many entries in one statement (the app's audit writer groups them). */
export async function writeAudits(q: Queryable, clock: Clock, entries: AuditEntry[]): Promise<void> {
  if (!entries.length) return;
  const at = new Date(clock.now()).toISOString();
  await q.query(
    `INSERT INTO audit_log (at, actor, action, target, remote, outcome, detail)
     SELECT $1, actor, action, target, remote, outcome, detail FROM jsonb_to_recordset($2::jsonb)
       AS x(actor text, action text, target text, remote text, outcome text, detail jsonb)`,
    [at, JSON.stringify(entries.map((e) => ({
      actor: e.actor.slice(0, 200), action: e.action.slice(0, 200), target: e.target?.slice(0, 500) ?? null,
      remote: e.remote?.slice(0, 100) ?? null, outcome: e.outcome.slice(0, 100), detail: e.detail ?? {},
    })))],
  );
}

export async function listAudit(q: Queryable, limit = 100) {
  const r = await q.query('SELECT id, at, actor, action, target, remote, outcome, detail FROM audit_log ORDER BY id DESC LIMIT $1', [Math.min(limit, 1000)]);
  return r.rows;
}
