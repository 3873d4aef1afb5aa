import { createHmac } from 'node:crypto';
import { request } from 'undici';
import type { Channel, SendRequest, SendResult } from './channel.ts';
import { errorText, retryableStatus } from './channel.ts';

// A generic signed webhook. Headers: X-Kuzet-Timestamp (unix seconds), X-Kuzet-Signature
// "sha256=<hex HMAC-SHA256 over `${timestamp}.${body}`>", Idempotency-Key. A receiver checks the
// signature and a replay window on the timestamp, and drops repeats of a key it has seen.

export interface WebhookOptions {
  url: string;
  secret: string;
  timeoutMs?: number;
  /** Seconds since the epoch for the timestamp header (the injected clock). */
  now: () => number;
}

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function webhookChannel(o: WebhookOptions): Channel {
  return {
    type: 'webhook',
    async send(req: SendRequest): Promise<SendResult> {
      const body = JSON.stringify({
        idempotency_key: req.idempotencyKey,
        subject: req.message.subject,
        text: req.message.text,
        incident_id: req.message.incidentId ?? null,
        ack_url: req.message.ackUrl ?? null,
        to: req.address ?? null,
      });
      const ts = Math.floor(o.now() / 1000);
      try {
        const r = await request(o.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-kuzet-timestamp': String(ts),
            'x-kuzet-signature': signWebhook(o.secret, ts, body),
            'idempotency-key': req.idempotencyKey,
          },
          body,
          signal: req.signal,
          headersTimeout: o.timeoutMs ?? 10_000,
          bodyTimeout: o.timeoutMs ?? 10_000,
        });
        await r.body.text();
        if (r.statusCode >= 200 && r.statusCode < 300) return { ok: true };
        return { ok: false, retry: retryableStatus(r.statusCode), error: `webhook answered ${r.statusCode}` };
      } catch (err) {
        return { ok: false, retry: true, error: errorText(err) };
      }
    },
  };
}
