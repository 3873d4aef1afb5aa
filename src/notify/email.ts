import nodemailer from 'nodemailer';
import type { Channel, SendRequest, SendResult } from './channel.ts';
import { errorText } from './channel.ts';

// E-mail through an SMTP relay (nodemailer). The idempotency key becomes the Message-ID, so a message
// re-sent after an unknown outcome is recognisably the same message.

export interface EmailOptions {
  host: string;
  port: number;
  secure?: boolean;
  user?: string;
  password?: string;
  from: string;
  /** Default receiver when the delivery names none (a team mailbox). */
  to?: string;
  timeoutMs?: number;
  /** The injected clock, for the Date header. */
  now?: () => number;
  /** Accept self-signed certificates (tests only). */
  insecureTls?: boolean;
}

export function emailChannel(o: EmailOptions): Channel {
  // Pooled: a page does not pay for a new SMTP session (connect, EHLO, AUTH) each time.
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 4,
    host: o.host,
    port: o.port,
    secure: o.secure ?? false,
    auth: o.user ? { user: o.user, pass: o.password ?? '' } : undefined,
    connectionTimeout: o.timeoutMs ?? 10_000,
    greetingTimeout: o.timeoutMs ?? 10_000,
    socketTimeout: o.timeoutMs ?? 10_000,
    tls: o.insecureTls ? { rejectUnauthorized: false } : undefined,
  });
  return {
    type: 'email',
    async send(req: SendRequest): Promise<SendResult> {
      const to = req.address || o.to;
      if (!to) return { ok: false, retry: false, error: 'no e-mail address' };
      try {
        const info = await transport.sendMail({
          from: o.from,
          to,
          subject: req.message.subject,
          text: req.message.text,
          html: req.message.html,
          date: o.now ? new Date(o.now()) : undefined,
          messageId: `<${req.idempotencyKey.replace(/[^A-Za-z0-9.:_-]/g, '_')}@kuzet>`,
          headers: { 'X-Kuzet-Idempotency-Key': req.idempotencyKey },
        });
        if (info.rejected.length && !info.accepted.length) return { ok: false, retry: false, error: `rejected: ${info.response}` };
        return { ok: true, providerId: info.messageId };
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        // 5xx from the server is a permanent refusal; connection errors and 4xx are worth another try.
        return { ok: false, retry: !(typeof code === 'number' && code >= 500), error: errorText(err) };
      }
    },
    async check() {
      try {
        await transport.verify();
        return { ok: true, detail: `SMTP ${o.host}:${o.port} answers (EHLO${o.user ? ', AUTH' : ''} accepted)` };
      } catch (err) {
        return { ok: false, detail: `SMTP ${o.host}:${o.port}: ${errorText(err)}` };
      }
    },
    async close() {
      transport.close();
    },
  };
}
