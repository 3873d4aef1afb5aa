import { request } from 'undici';
import type { Channel, SendRequest, SendResult } from './channel.ts';
import { errorText, retryableStatus } from './channel.ts';

// Telegram Bot API: POST {api}/bot<token>/sendMessage with JSON {chat_id, text, reply_markup}.
// The reply is {ok, result} or {ok: false, error_code, description}; 429 carries parameters.retry_after.

export interface TelegramOptions {
  token: string;
  chatId?: string;
  apiUrl?: string;
  timeoutMs?: number;
}

export function telegramChannel(o: TelegramOptions): Channel {
  const base = (o.apiUrl ?? 'https://api.telegram.org').replace(/\/+$/, '');
  return {
    type: 'telegram',
    async send(req: SendRequest): Promise<SendResult> {
      const chatId = req.address || o.chatId;
      if (!chatId) return { ok: false, retry: false, error: 'no Telegram chat' };
      const m = req.message;
      const body: Record<string, unknown> = { chat_id: chatId, text: `${m.subject}\n\n${m.text}`.slice(0, 4096), disable_web_page_preview: true };
      if (m.ackUrl) body.reply_markup = { inline_keyboard: [[{ text: 'Acknowledge / Принять', url: m.ackUrl }]] };
      try {
        const r = await request(`${base}/bot${o.token}/sendMessage`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: req.signal,
          headersTimeout: o.timeoutMs ?? 10_000,
          bodyTimeout: o.timeoutMs ?? 10_000,
        });
        const text = await r.body.text();
        let json: { ok?: boolean; description?: string; result?: { message_id?: number } } = {};
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON: judged by status below
        }
        if (r.statusCode === 200 && json.ok) return { ok: true, providerId: String(json.result?.message_id ?? '') };
        return { ok: false, retry: retryableStatus(r.statusCode), error: `telegram ${r.statusCode}: ${json.description ?? text.slice(0, 200)}` };
      } catch (err) {
        return { ok: false, retry: true, error: errorText(err) };
      }
    },
    async check() {
      // getMe: the Bot API answers and the token is good. Sends nothing.
      try {
        const r = await request(`${base}/bot${o.token}/getMe`, { method: 'GET', headersTimeout: o.timeoutMs ?? 10_000, bodyTimeout: o.timeoutMs ?? 10_000 });
        const text = await r.body.text();
        let json: { ok?: boolean; description?: string } = {};
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON: not the Bot API answering
        }
        if (r.statusCode === 200 && json.ok) return { ok: true, detail: 'Telegram Bot API answers' };
        return { ok: false, detail: `telegram ${r.statusCode}: ${json.description ?? text.slice(0, 200)}` };
      } catch (err) {
        return { ok: false, detail: `telegram: ${errorText(err)}` };
      }
    },
  };
}
