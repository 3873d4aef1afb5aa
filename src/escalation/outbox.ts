import type { Queryable } from '../store/store.ts';
import type { Lang } from './config.ts';

// The notification outbox, write side and admin views. Escalation writes rows in the same transaction
// as its decision; src/notify delivers them. The idempotency key names the decision (escalation, step,
// round, receiver, channel), so writing the same decision twice is a no-op and a replay never doubles a page.

export type OutboxState = 'pending' | 'sending' | 'sent' | 'dead' | 'failed_over' | 'cancelled';

/** Everything a channel template needs; rendered at delivery time in the recipient's language. */
export interface MessageData {
  kind: 'page' | 'breach' | 'storm' | 'resolved' | 'mail';
  /** kind 'mail': a message already written in the receiver's language (a user's request acknowledgement). */
  mail?: { subject: string; text: string };
  incident?: {
    id: number;
    system: string;
    check: string;
    source: string;
    severity: string;
    title: string;
    openedAt: number;
    labels: Record<string, string>;
  };
  policy?: string;
  step?: number;
  round?: number;
  breach?: 'ack' | 'resolve';
  storm?: { count: number; windowMs: number; systems: string[] };
  incidentUrl?: string;
  ackUrl?: string;
}

export interface Recipient {
  person?: string;
  name?: string;
  /** Channel-specific address: e-mail, Slack user or channel id, Telegram chat id; empty = the channel's default. */
  address?: string;
}

export interface NewNotification {
  key: string;
  subjectKind: string;
  subjectId: number;
  channel: string;
  recipient: Recipient;
  lang: Lang;
  message: MessageData;
  notBefore?: number;
  fallbackOf?: number;
}

/** Insert notifications; rows whose key already exists are skipped. Returns how many were new. */
export async function enqueueNotifications(q: Queryable, rows: NewNotification[], now: number): Promise<number> {
  if (!rows.length) return 0;
  const r = await q.query(
    `INSERT INTO outbox (idempotency_key, subject_kind, subject_id, channel, recipient, lang, message, next_attempt_at, fallback_of, created_at)
     SELECT k, subject_kind, subject_id, channel, recipient, lang, message, next_attempt_at, fallback_of, $2
       FROM jsonb_to_recordset($1::jsonb) AS x(k text, subject_kind text, subject_id bigint, channel text, recipient jsonb,
            lang text, message jsonb, next_attempt_at timestamptz, fallback_of bigint)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [
      JSON.stringify(
        rows.map((n) => ({
          k: n.key,
          subject_kind: n.subjectKind,
          subject_id: n.subjectId,
          channel: n.channel,
          recipient: n.recipient,
          lang: n.lang,
          message: n.message,
          next_attempt_at: new Date(n.notBefore ?? now).toISOString(),
          fallback_of: n.fallbackOf ?? null,
        })),
      ),
      new Date(now).toISOString(),
    ],
  );
  return r.rowCount;
}

export interface OutboxItem {
  id: number;
  key: string;
  subjectKind: string;
  subjectId: number;
  channel: string;
  recipient: Recipient;
  lang: Lang;
  message: MessageData;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  fallbackOf: number | null;
  createdAt: number;
  sentAt: number | null;
}

export const OUTBOX_COLUMNS = `id, idempotency_key, subject_kind, subject_id, channel, recipient, lang, message, state, attempts,
  next_attempt_at, last_error, fallback_of, created_at, sent_at`;

export interface OutboxRow {
  id: number;
  idempotency_key: string;
  subject_kind: string;
  subject_id: number;
  channel: string;
  recipient: Recipient;
  lang: Lang;
  message: MessageData;
  state: OutboxState;
  attempts: number;
  next_attempt_at: Date | string;
  last_error: string | null;
  fallback_of: number | null;
  created_at: Date | string;
  sent_at: Date | string | null;
}

export function rowToItem(r: OutboxRow): OutboxItem {
  return {
    id: Number(r.id),
    key: r.idempotency_key,
    subjectKind: r.subject_kind,
    subjectId: Number(r.subject_id),
    channel: r.channel,
    recipient: r.recipient ?? {},
    lang: r.lang,
    message: r.message,
    state: r.state,
    attempts: Number(r.attempts),
    nextAttemptAt: new Date(r.next_attempt_at).getTime(),
    lastError: r.last_error,
    fallbackOf: r.fallback_of === null ? null : Number(r.fallback_of),
    createdAt: new Date(r.created_at).getTime(),
    sentAt: r.sent_at === null ? null : new Date(r.sent_at).getTime(),
  };
}

export async function listOutbox(q: Queryable, f: { state?: OutboxState; subjectKind?: string; subjectId?: number; limit?: number } = {}): Promise<OutboxItem[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.state) where.push(`state = $${args.push(f.state)}`);
  if (f.subjectKind) where.push(`subject_kind = $${args.push(f.subjectKind)}`);
  if (f.subjectId !== undefined) where.push(`subject_id = $${args.push(f.subjectId)}`);
  const limit = Math.min(Math.max(f.limit ?? 100, 1), 1000);
  const r = await q.query<OutboxRow>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${limit}`,
    args,
  );
  return r.rows.map(rowToItem);
}

/** Put a dead letter back in the queue (an operator fixed the channel). False when it is not dead. */
export async function retryDeadLetter(q: Queryable, id: number, now: number): Promise<boolean> {
  const r = await q.query(
    `UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2, claimed_until = NULL WHERE id = $1 AND state = 'dead'`,
    [id, new Date(now).toISOString()],
  );
  return r.rowCount > 0;
}

/** Withdraw undelivered pages of a subject (it was acknowledged or resolved before they went out). */
export async function cancelPending(q: Queryable, subjectKind: string, subjectId: number, kinds: MessageData['kind'][]): Promise<number> {
  const r = await q.query(
    `UPDATE outbox SET state = 'cancelled' WHERE subject_kind = $1 AND subject_id = $2 AND state = 'pending'
       AND message->>'kind' IN (SELECT jsonb_array_elements_text($3::jsonb))`,
    [subjectKind, subjectId, JSON.stringify(kinds)],
  );
  return r.rowCount;
}
