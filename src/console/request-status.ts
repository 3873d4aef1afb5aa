import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../store/store.ts';

// A user's request status: by a signed link from the acknowledgement e-mail, or by request number and e-mail.
// The link's token is `<number>.<HMAC-SHA256(secret, "request-status:" + number)>`; it shows only the status, the
// deadline and the answer, never the personal data the user filed.

const mac = (secret: string, number: string) => createHmac('sha256', secret).update(`request-status:${number}`).digest('base64url');

export function signRequestStatus(secret: string, number: string): string {
  return `${number}.${mac(secret, number)}`;
}

export function verifyRequestStatus(secret: string, token: string): string | null {
  const i = token.lastIndexOf('.');
  if (i <= 0 || token.length > 200) return null;
  const number = token.slice(0, i);
  if (!/^R-\d{4}-\d{6,12}$/.test(number)) return null;
  const want = Buffer.from(mac(secret, number));
  const got = Buffer.from(token.slice(i + 1));
  return want.length === got.length && timingSafeEqual(want, got) ? number : null;
}

export interface RequestStatusView {
  number: string;
  system: string;
  kind: string;
  status: string;
  receivedAt: number;
  dueAt: number;
  rule: string;
  extended: boolean;
  answer: string | null;
  decision: string | null;
  answeredAt: number | null;
}

export async function requestStatus(q: Queryable, number: string, email?: string): Promise<RequestStatusView | null> {
  const r = await q.query<{ number: string; system: string; kind: string; status: string; received_at: Date | string; due_at: Date | string; due_rule: string; extended_to: number | null; answer: string | null; decision: string | null; answered_at: Date | string | null; email: string | null }>(
    'SELECT number, system, kind, status, received_at, due_at, due_rule, extended_to, answer, decision, answered_at, email FROM requests WHERE number = $1', [number]);
  const row = r.rows[0];
  if (!row) return null;
  if (email !== undefined && (!row.email || row.email.trim().toLowerCase() !== email.trim().toLowerCase())) return null;
  const answered = row.status === 'answered' || row.status === 'closed';
  return {
    number: row.number, system: row.system, kind: row.kind, status: row.status, receivedAt: new Date(row.received_at).getTime(), dueAt: new Date(row.due_at).getTime(),
    rule: row.due_rule, extended: row.extended_to !== null, answer: answered ? row.answer : null, decision: answered ? row.decision : null,
    answeredAt: row.answered_at === null ? null : new Date(row.answered_at).getTime(),
  };
}
