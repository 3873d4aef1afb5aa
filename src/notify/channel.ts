// A channel delivers one rendered message to one receiver. Contract:
// - `send` never throws; it resolves with the outcome, and says whether a failure is worth retrying
//   (a refused token or an unknown chat will not get better; a timeout or a 5xx may).
// - It honours `signal` (aborted when the per-delivery timeout passes); the worker also stops waiting
//   at the timeout, so a channel that ignores the signal still cannot block other deliveries.
// - `idempotencyKey` goes to the receiver where the protocol has a place for it (Message-ID,
//   Idempotency-Key header), so a retry after an unknown outcome can be recognised downstream.

export interface Rendered {
  subject: string;
  text: string;
  html?: string;
  /** Where a person can acknowledge; channels with buttons show it as one. */
  ackUrl?: string;
  incidentId?: number;
}

export interface SendRequest {
  message: Rendered;
  /** Channel-specific address; empty means the channel's configured default. */
  address?: string;
  idempotencyKey: string;
  signal: AbortSignal;
}

export type SendResult = { ok: true; providerId?: string } | { ok: false; retry: boolean; error: string };

export interface Channel {
  readonly type: 'email' | 'slack' | 'telegram' | 'webhook' | 'test';
  send(req: SendRequest): Promise<SendResult>;
  close?(): Promise<void>;
  /**
   * Does the service answer? (SMTP: connect, EHLO, AUTH when configured; Slack: auth.test; Telegram: getMe. A webhook
   * has none: its URL is not probed.) Sends nothing. Never throws.
   */
  check?(): Promise<{ ok: boolean; detail: string }>;
}

/** One place that decides whether an HTTP status is worth another try (Alertmanager's notify/util.go). */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 500);
