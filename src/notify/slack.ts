import { WebClient, type KnownBlock } from '@slack/web-api';
import type { Channel, SendRequest, SendResult } from './channel.ts';
import { errorText } from './channel.ts';

// Slack through chat.postMessage (@slack/web-api). Retries are ours (the worker's back-off), so the
// client's own retry loop is off. An "Acknowledge" button carries the incident id for the action endpoint.

export interface SlackOptions {
  token: string;
  /** Default conversation (channel id) when the delivery names none. */
  channel?: string;
  /** API base, e.g. "https://slack.com/api/"; tests point it at a local stand-in. */
  apiUrl?: string;
  timeoutMs?: number;
}

const PERMANENT = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'channel_not_found', 'is_archived', 'not_in_channel', 'user_not_found', 'msg_too_long', 'invalid_blocks', 'no_text']);

export function slackChannel(o: SlackOptions): Channel {
  const client = new WebClient(o.token, {
    slackApiUrl: o.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: o.timeoutMs ?? 10_000,
  });
  return {
    type: 'slack',
    async send(req: SendRequest): Promise<SendResult> {
      const channel = req.address || o.channel;
      if (!channel) return { ok: false, retry: false, error: 'no Slack conversation' };
      const m = req.message;
      const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: m.text.slice(0, 2900) } }];
      if (m.incidentId !== undefined) {
        blocks.push({
          type: 'actions',
          elements: [{ type: 'button', action_id: 'kuzet_ack', text: { type: 'plain_text', text: 'Acknowledge' }, style: 'primary', value: String(m.incidentId) }],
        });
      }
      try {
        const r = await client.chat.postMessage({ channel, text: `${m.subject}`, blocks, unfurl_links: false });
        return { ok: true, providerId: r.ts };
      } catch (err) {
        const code = (err as { code?: string; data?: { error?: string } }).code;
        const apiError = (err as { data?: { error?: string } }).data?.error;
        if (code === 'slack_webapi_platform_error' && apiError && PERMANENT.has(apiError)) return { ok: false, retry: false, error: apiError };
        return { ok: false, retry: true, error: apiError ?? errorText(err) };
      }
    },
    async check() {
      // auth.test: the API answers and the token is good. Posts nothing.
      try {
        const r = await client.auth.test();
        return { ok: true, detail: `Slack answers (team ${r.team ?? '?'})` };
      } catch (err) {
        return { ok: false, detail: `Slack: ${(err as { data?: { error?: string } }).data?.error ?? errorText(err)}` };
      }
    },
  };
}
