import { parseDuration, type Clock } from '../clock.ts';
import type { EscalationConfig } from '../escalation/config.ts';
import type { Channel } from './channel.ts';
import { emailChannel } from './email.ts';
import { slackChannel } from './slack.ts';
import { telegramChannel } from './telegram.ts';
import { webhookChannel } from './webhook.ts';

/** Build the channel clients named in config. Throws on a channel missing what its type needs (check-config catches it first). */
export function buildChannels(cfg: EscalationConfig, clock: Clock): Record<string, Channel> {
  const out: Record<string, Channel> = {};
  for (const [name, c] of Object.entries(cfg.channels ?? {})) {
    const timeoutMs = parseDuration(c.timeout ?? '') ?? 10_000;
    const need = (field: keyof typeof c) => {
      const v = c[field];
      if (v === undefined || v === '') throw new Error(`escalation.channels.${name}.${field} is required for a ${c.type} channel`);
      return v as never;
    };
    switch (c.type) {
      case 'email':
        out[name] = emailChannel({ host: need('host'), port: c.port ?? 25, secure: c.secure, user: c.user, password: c.password, from: need('from'), to: c.to, timeoutMs, now: () => clock.now() });
        break;
      case 'slack':
        out[name] = slackChannel({ token: need('token'), channel: c.slack_channel, apiUrl: c.api_url, timeoutMs });
        break;
      case 'telegram':
        out[name] = telegramChannel({ token: need('token'), chatId: c.chat_id, apiUrl: c.api_url, timeoutMs });
        break;
      case 'webhook':
        out[name] = webhookChannel({ url: need('url'), secret: need('secret'), timeoutMs, now: () => clock.now() });
        break;
    }
  }
  return out;
}

export async function closeChannels(channels: Record<string, Channel>): Promise<void> {
  await Promise.all(Object.values(channels).map((c) => c.close?.().catch(() => {})));
}
