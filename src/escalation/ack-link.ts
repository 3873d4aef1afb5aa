import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseDuration } from '../clock.ts';
import type { Queryable } from '../store/store.ts';
import type { EscalationConfig } from './config.ts';
import type { MessageData } from './outbox.ts';

// Acknowledge links: `<incident>.<outbox id>.<nonce>.<expiry>.<hmac>`, HMAC-SHA256 over the first four parts.
// Signed (a forged link fails), expiring (checked against the injected clock), single use (the nonce
// is recorded when used; a second use is refused). A link is minted by the delivery worker for one message
// at the moment it is sent, and exists only in that message: it is never stored, listed, logged or counted.
// The outbox id it names says who the message went to, so acknowledging by link records that person.

export interface AckClaims {
  incidentId: number;
  /** The outbox row of the message that carried the link. */
  outboxId: number;
  nonce: string;
  expiresAt: number;
}

export type AckVerdict = { ok: true; claims: AckClaims } | { ok: false; reason: 'malformed' | 'forged' | 'expired' | 'used' };
export type AckUse = { ok: true; claims: AckClaims; who: string } | Extract<AckVerdict, { ok: false }>;

const mac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('base64url');

export function signAckToken(secret: string, c: { incidentId: number; outboxId: number; expiresAt: number; nonce?: string }): string {
  const body = `${c.incidentId}.${c.outboxId}.${c.nonce ?? randomBytes(12).toString('base64url')}.${Math.floor(c.expiresAt)}`;
  return `${body}.${mac(secret, body)}`;
}

/** Check signature and expiry only (no store); `consumeAckToken` also spends the nonce. */
export function verifyAckToken(secret: string, token: string, now: number): AckVerdict {
  const parts = token.split('.');
  if (
    parts.length !== 5 || !/^\d{1,15}$/.test(parts[0]!) || !/^\d{1,15}$/.test(parts[1]!) || !/^[A-Za-z0-9_-]{8,64}$/.test(parts[2]!) ||
    !/^\d{1,15}$/.test(parts[3]!)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const want = Buffer.from(mac(secret, parts.slice(0, 4).join('.')));
  const got = Buffer.from(parts[4]!);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'forged' };
  const claims = { incidentId: Number(parts[0]), outboxId: Number(parts[1]), nonce: parts[2]!, expiresAt: Number(parts[3]) };
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/**
 * Verify and spend the link inside the caller's transaction. `who` is the person the message was sent to
 * (or `channel:<name>` for a channel's default receiver).
 */
export async function consumeAckToken(q: Queryable, secret: string, token: string, now: number, usedBy: string): Promise<AckUse> {
  const v = verifyAckToken(secret, token, now);
  if (!v.ok) return v;
  const r = await q.query(
    `INSERT INTO ack_link_uses (nonce, incident_id, used_at, used_by) VALUES ($1, $2, $3, $4) ON CONFLICT (nonce) DO NOTHING`,
    [v.claims.nonce, v.claims.incidentId, new Date(now).toISOString(), usedBy],
  );
  if (r.rowCount !== 1) return { ok: false, reason: 'used' };
  const o = await q.query<{ channel: string; recipient: { person?: string } | null }>(
    `SELECT channel, recipient FROM outbox WHERE id = $1 AND subject_kind = 'incident' AND subject_id = $2`,
    [v.claims.outboxId, v.claims.incidentId],
  );
  const row = o.rows[0];
  // Signed by us for a message that is gone (pruned): still a valid link, but nobody to name.
  const who = row ? (row.recipient?.person ?? `channel:${row.channel}`) : 'ack-link';
  return { ...v, who };
}

/** The link for one outgoing message, or undefined when it gets none (no secret or public URL, not a page). */
export function ackUrlFor(
  cfg: EscalationConfig,
  item: { id: number; subjectKind: string; subjectId: number; message: MessageData },
  now: number,
): string | undefined {
  const base = cfg.public_url?.replace(/\/+$/, '');
  if (!cfg.ack_links || !base || item.subjectKind !== 'incident' || !item.message.incident) return undefined;
  if (item.message.kind !== 'page' && item.message.kind !== 'breach') return undefined;
  const ttl = parseDuration(cfg.ack_links.ttl ?? '24h') ?? 86_400_000;
  // The console's page: it shows the incident and acknowledges on a confirm (a link preview never acknowledges).
  return `${base}/ack/${signAckToken(cfg.ack_links.secret, { incidentId: item.subjectId, outboxId: item.id, expiresAt: now + ttl })}`;
}
