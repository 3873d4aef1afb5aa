import { createHmac, timingSafeEqual } from 'node:crypto';

// Webhook signatures. Two schemes are accepted:
//  kuzet:             x-kuzet-timestamp: <unix s>, x-kuzet-signature: sha256=<hex HMAC-SHA256(secret, ts + "." + body)>
//  Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature: "v1,<base64>" (several, space-separated);
//                     HMAC-SHA256 over id + "." + ts + "." + body with the base64-decoded part of a "whsec_" secret.

export type SignatureResult = { ok: true; scheme: 'kuzet' | 'standard'; deliveryId: string | null } | { ok: false; reason: string };

type Headers = Record<string, string | string[] | undefined>;
const one = (h: Headers, k: string): string | undefined => {
  const v = h[k];
  return Array.isArray(v) ? v[0] : v;
};

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkTime(ts: string | undefined, nowMs: number, windowMs: number): string | null {
  if (!ts || !/^\d{1,12}$/.test(ts)) return 'timestamp header missing or not a number of seconds';
  const skew = nowMs - Number(ts) * 1000;
  if (skew > windowMs) return `timestamp is ${Math.round(skew / 1000)} s old (window ${windowMs / 1000} s): stale or replayed`;
  if (-skew > windowMs) return `timestamp is ${Math.round(-skew / 1000)} s in the future (window ${windowMs / 1000} s)`;
  return null;
}

export function standardKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

export function verifySignature(headers: Headers, body: Buffer, secret: string, nowMs: number, windowMs: number): SignatureResult {
  const stdSig = one(headers, 'webhook-signature');
  if (stdSig !== undefined) {
    const id = one(headers, 'webhook-id');
    const ts = one(headers, 'webhook-timestamp');
    if (!id || id.length > 256) return { ok: false, reason: 'webhook-id header missing' };
    const late = checkTime(ts, nowMs, windowMs);
    if (late) return { ok: false, reason: `webhook-timestamp: ${late}` };
    const mac = createHmac('sha256', standardKey(secret)).update(`${id}.${ts}.`).update(body).digest();
    for (const part of stdSig.split(' ')) {
      const [ver, sig] = part.split(',', 2);
      if (ver === 'v1' && sig && equal(Buffer.from(sig, 'base64'), mac)) return { ok: true, scheme: 'standard', deliveryId: id };
    }
    return { ok: false, reason: 'webhook-signature: no v1 signature matches' };
  }
  const sig = one(headers, 'x-kuzet-signature');
  if (sig === undefined) return { ok: false, reason: 'signature missing: send x-kuzet-timestamp and x-kuzet-signature (or the Standard Webhooks headers)' };
  const ts = one(headers, 'x-kuzet-timestamp');
  const late = checkTime(ts, nowMs, windowMs);
  if (late) return { ok: false, reason: `x-kuzet-timestamp: ${late}` };
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(sig);
  if (!m) return { ok: false, reason: 'x-kuzet-signature: expected "sha256=<64 hex digits>"' };
  const mac = createHmac('sha256', secret).update(`${ts}.`).update(body).digest();
  if (!equal(Buffer.from(m[1]!, 'hex'), mac)) return { ok: false, reason: 'x-kuzet-signature does not match the body' };
  return { ok: true, scheme: 'kuzet', deliveryId: null };
}

/** Sign a body the kuzet way (for clients, tests and the outgoing webhook channel). */
export function signKuzet(secret: string, body: string | Buffer, tsSeconds: number): Record<string, string> {
  const mac = createHmac('sha256', secret).update(`${tsSeconds}.`).update(body).digest('hex');
  return { 'x-kuzet-timestamp': String(tsSeconds), 'x-kuzet-signature': `sha256=${mac}` };
}

export function signStandard(secret: string, id: string, body: string | Buffer, tsSeconds: number): Record<string, string> {
  const mac = createHmac('sha256', standardKey(secret)).update(`${id}.${tsSeconds}.`).update(body).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(tsSeconds), 'webhook-signature': `v1,${mac}` };
}
