import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../store/store.ts';

// Acknowledge links: `<incident>.<nonce>.<expiry>.<hmac>`, HMAC-SHA256 over the first three parts.
// Signed (a forged link fails), expiring (checked against the injected clock), single use (the nonce
// is recorded when used; a second use is refused).

export interface AckClaims {
  incidentId: number;
  nonce: string;
  expiresAt: number;
}

export type AckVerdict = { ok: true; claims: AckClaims } | { ok: false; reason: 'malformed' | 'forged' | 'expired' | 'used' };

const mac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('base64url');

export function signAckToken(secret: string, incidentId: number, expiresAt: number, nonce = randomBytes(12).toString('base64url')): string {
  const body = `${incidentId}.${nonce}.${Math.floor(expiresAt)}`;
  return `${body}.${mac(secret, body)}`;
}

/** Check signature and expiry only (no store); `consumeAckToken` also spends the nonce. */
export function verifyAckToken(secret: string, token: string, now: number): AckVerdict {
  const parts = token.split('.');
  if (parts.length !== 4 || !/^\d{1,15}$/.test(parts[0]!) || !/^[A-Za-z0-9_-]{8,64}$/.test(parts[1]!) || !/^\d{1,15}$/.test(parts[2]!)) {
    return { ok: false, reason: 'malformed' };
  }
  const want = Buffer.from(mac(secret, parts.slice(0, 3).join('.')));
  const got = Buffer.from(parts[3]!);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'forged' };
  const claims = { incidentId: Number(parts[0]), nonce: parts[1]!, expiresAt: Number(parts[2]) };
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/** Verify and spend the link inside the caller's transaction. */
export async function consumeAckToken(q: Queryable, secret: string, token: string, now: number, usedBy: string): Promise<AckVerdict> {
  const v = verifyAckToken(secret, token, now);
  if (!v.ok) return v;
  const r = await q.query(
    `INSERT INTO ack_link_uses (nonce, incident_id, used_at, used_by) VALUES ($1, $2, $3, $4) ON CONFLICT (nonce) DO NOTHING`,
    [v.claims.nonce, v.claims.incidentId, new Date(now).toISOString(), usedBy],
  );
  return r.rowCount === 1 ? v : { ok: false, reason: 'used' };
}
