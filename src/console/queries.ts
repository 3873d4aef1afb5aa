import { INCIDENT_COLUMNS, rowToState, toPublic, type IncidentRow, type PublicIncident } from '../incidents/rows.ts';
import type { Queryable } from '../store/store.ts';

// The console's reads. Lists page by keyset (never OFFSET) on indexed columns: open incidents first (a partial
// index on unresolved ids), then resolved ones by primary key.

export interface ListFilter {
  system?: string;
  severity?: string;
  source?: string;
  status?: 'open' | 'acknowledged' | 'resolved' | 'unresolved';
  since?: number;
  /** Cursor: "u<id>" continues among unresolved incidents, "r<id>" among resolved ones. */
  after?: string;
  limit?: number;
}

export interface ListedIncident extends PublicIncident {
  nextStep: { at: number; step: number; round: number } | null;
}

export async function listForConsole(q: Queryable, f: ListFilter): Promise<{ items: ListedIncident[]; next: string | null }> {
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 200);
  const base: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => base.push(sql.replace('?', `$${args.push(v)}`));
  if (f.system) add('system = ?', f.system);
  if (f.severity) add('severity = ?', f.severity);
  if (f.source) add('source = ?', f.source);
  if (f.since !== undefined) add('opened_at >= ?', new Date(f.since).toISOString());
  if (f.status && f.status !== 'unresolved') add('status = ?', f.status);
  const cursor = /^([ur])(\d{1,15})$/.exec(f.after ?? '');
  const section = cursor?.[1] ?? 'u';
  const below = cursor ? Number(cursor[2]) : null;
  const run = async (unresolved: boolean, before: number | null, n: number) => {
    const where = [...base, unresolved ? `status <> 'resolved'` : `status = 'resolved'`];
    const a = [...args];
    if (before !== null) where.push(`id < $${a.push(before)}`);
    const r = await q.query<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ${n}`, a);
    return r.rows;
  };
  const rows: Array<{ row: IncidentRow; s: 'u' | 'r' }> = [];
  const wantUnresolved = f.status !== 'resolved';
  const wantResolved = !f.status || f.status === 'resolved';
  if (section === 'u' && wantUnresolved) for (const row of await run(true, below, limit + 1)) rows.push({ row, s: 'u' });
  if (rows.length <= limit && wantResolved) {
    for (const row of await run(false, section === 'r' ? below : null, limit + 1 - rows.length)) rows.push({ row, s: 'r' });
  }
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const next = rows.length > limit && last ? `${last.s}${Number(last.row.id)}` : null;
  const items = page.map(({ row }) => ({ ...toPublic(rowToState(row)), nextStep: null as ListedIncident['nextStep'] }));
  const steps = await nextSteps(q, items.filter((i) => i.status === 'open').map((i) => i.id));
  for (const i of items) i.nextStep = steps.get(i.id) ?? null;
  return { items, next };
}

/** The next pending escalation step of each incident. */
export async function nextSteps(q: Queryable, ids: number[]): Promise<Map<number, { at: number; step: number; round: number }>> {
  const out = new Map<number, { at: number; step: number; round: number }>();
  if (!ids.length) return out;
  const r = await q.query<{ subject_id: number; due_at: Date | string; payload: { step?: number; round?: number } }>(
    `SELECT DISTINCT ON (subject_id) subject_id, due_at, payload FROM timers
      WHERE subject_kind = 'incident' AND state = 'pending' AND kind = 'step' AND subject_id = ANY($1::bigint[])
      ORDER BY subject_id, due_at`,
    [ids],
  );
  for (const row of r.rows) out.set(Number(row.subject_id), { at: new Date(row.due_at).getTime(), step: Number(row.payload?.step ?? 0), round: Number(row.payload?.round ?? 0) });
  return out;
}

export async function getIncidentRow(q: Queryable, id: number): Promise<PublicIncident | null> {
  const r = await q.query<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1`, [id]);
  return r.rows[0] ? toPublic(rowToState(r.rows[0])) : null;
}

export interface TimelineRow {
  at: number;
  kind: 'event' | 'signal' | 'notification';
  html?: string;
  event?: { kind: string; actor: string; detail: Record<string, unknown> };
  signal?: { status: string; severity: string; summary: string; repeats: number; last: number; source: string };
  notification?: { person: string; channel: string; state: string; attempts: number; error: string | null; sentAt: number | null; createdAt: number; messageKind: string };
}

export async function incidentTimeline(q: Queryable, id: number): Promise<TimelineRow[]> {
  const [ev, sig, out] = await Promise.all([
    q.query<{ at: Date | string; kind: string; actor: string; detail: Record<string, unknown> }>(
      'SELECT at, kind, actor, detail FROM incident_events WHERE incident_id = $1 ORDER BY id LIMIT 2000', [id]),
    q.query<{ observed_at: Date | string; last_observed_at: Date | string; status: string; severity: string; summary: string; repeat_count: number; source: string }>(
      'SELECT observed_at, last_observed_at, status, severity, summary, repeat_count, source FROM signals WHERE incident_id = $1 ORDER BY id LIMIT 2000', [id]),
    // Never the message itself: it carries the acknowledge link.
    q.query<{ recipient: { person?: string; name?: string }; channel: string; state: string; attempts: number; last_error: string | null; sent_at: Date | string | null; created_at: Date | string; kind: string | null }>(
      `SELECT recipient, channel, state, attempts, last_error, sent_at, created_at, message->>'kind' AS kind FROM outbox
        WHERE subject_kind = 'incident' AND subject_id = $1 ORDER BY id LIMIT 2000`, [id]),
  ]);
  const rows: TimelineRow[] = [
    ...ev.rows.map((e) => ({ at: new Date(e.at).getTime(), kind: 'event' as const, event: { kind: e.kind, actor: e.actor, detail: e.detail ?? {} } })),
    ...sig.rows.map((s) => ({
      at: new Date(s.observed_at).getTime(), kind: 'signal' as const,
      signal: { status: s.status, severity: s.severity, summary: s.summary, repeats: Number(s.repeat_count), last: new Date(s.last_observed_at).getTime(), source: s.source },
    })),
    ...out.rows.map((n) => ({
      at: new Date(n.sent_at ?? n.created_at).getTime(), kind: 'notification' as const,
      notification: {
        person: n.recipient?.person ?? n.recipient?.name ?? '—', channel: n.channel, state: n.state, attempts: Number(n.attempts), error: n.last_error,
        sentAt: n.sent_at === null ? null : new Date(n.sent_at).getTime(), createdAt: new Date(n.created_at).getTime(), messageKind: n.kind ?? '',
      },
    })),
  ];
  const order = { signal: 0, event: 1, notification: 2 };
  return rows.sort((a, b) => a.at - b.at || order[a.kind] - order[b.kind]);
}

export interface EscalationRow {
  policy: string;
  state: string;
  ackDue: number | null;
  resolveDue: number | null;
  ackBreached: number | null;
  resolveBreached: number | null;
}

export async function incidentEscalations(q: Queryable, id: number): Promise<EscalationRow[]> {
  const r = await q.query<{ policy_name: string; state: string; ack_due_at: Date | null; resolve_due_at: Date | null; ack_breached_at: Date | null; resolve_breached_at: Date | null }>(
    `SELECT policy_name, state, ack_due_at, resolve_due_at, ack_breached_at, resolve_breached_at FROM escalations
      WHERE subject_kind = 'incident' AND subject_id = $1 ORDER BY id`, [id]);
  const ms = (d: Date | string | null) => (d === null ? null : new Date(d).getTime());
  return r.rows.map((x) => ({ policy: x.policy_name, state: x.state, ackDue: ms(x.ack_due_at), resolveDue: ms(x.resolve_due_at), ackBreached: ms(x.ack_breached_at), resolveBreached: ms(x.resolve_breached_at) }));
}

/** Linked user requests, without personal data. */
export async function linkedRequests(q: Queryable, id: number) {
  const r = await q.query<{ id: number; number: string; kind: string; status: string; due_at: Date | string; received_at: Date | string }>(
    'SELECT id, number, kind, status, due_at, received_at FROM requests WHERE incident_id = $1 ORDER BY id LIMIT 500', [id]);
  return r.rows.map((x) => ({ id: Number(x.id), number: x.number, kind: x.kind, status: x.status, dueAt: new Date(x.due_at).getTime(), receivedAt: new Date(x.received_at).getTime() }));
}

export async function publicNotesOf(q: Queryable, id: number) {
  const r = await q.query<{ text: string; author: string; created_at: Date | string }>('SELECT text, author, created_at FROM public_notes WHERE incident_id = $1 ORDER BY id', [id]);
  return r.rows.map((x) => ({ text: x.text, author: x.author, at: new Date(x.created_at).getTime() }));
}

export async function addPublicNote(q: Queryable, incidentId: number, system: string, text: string, author: string, now: number): Promise<void> {
  await q.query('INSERT INTO public_notes (incident_id, system, text, author, created_at) VALUES ($1, $2, $3, $4, $5)',
    [incidentId, system, text, author, new Date(now).toISOString()]);
}

/** Who a notification carrying this acknowledge-link nonce was sent to. */
export async function ackLinkRecipient(q: Queryable, incidentId: number, outboxId: number): Promise<string | null> {
  // The link names the message it came in (its outbox id): that message's person acknowledges.
  const r = await q.query<{ person: string | null }>(
    `SELECT recipient->>'person' AS person FROM outbox WHERE id = $1 AND subject_kind = 'incident' AND subject_id = $2`,
    [outboxId, incidentId],
  );
  return r.rows[0]?.person ?? null;
}
