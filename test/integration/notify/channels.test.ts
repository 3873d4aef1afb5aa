import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { SendRequest } from '../../../src/notify/channel.ts';
import { slackChannel } from '../../../src/notify/slack.ts';
import { telegramChannel } from '../../../src/notify/telegram.ts';
import { webhookChannel } from '../../../src/notify/webhook.ts';
import { httpReceiver, slackStandIn, telegramStandIn } from './stand-ins.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
});

const req = (over: Partial<SendRequest> = {}): SendRequest => ({
  message: { subject: '[CRITICAL] Incident #7: enbek', text: 'System: enbek', ackUrl: 'https://kuzet.example.kz/api/v1/ack/t', incidentId: 7 },
  idempotencyKey: 'esc:1:r0:s0:x:alice',
  signal: new AbortController().signal,
  ...over,
});

describe('channels against local stand-ins', () => {
  it('Slack: chat.postMessage with the bearer token, channel, text and an Acknowledge button', async () => {
    const s = await slackStandIn('xoxb-good');
    closers.push(s.close);
    const ok = await slackChannel({ token: 'xoxb-good', apiUrl: s.url, channel: 'C0PS' }).send(req());
    assert.deepEqual(ok, { ok: true, providerId: '1700000000.000001' });
    const body = s.received[0]!.body as { channel: string; text: string; blocks: Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }> };
    assert.equal(body.channel, 'C0PS');
    assert.equal(body.text, '[CRITICAL] Incident #7: enbek');
    assert.deepEqual(body.blocks[1]!.elements![0]!.action_id, 'kuzet_ack');
    assert.equal(body.blocks[1]!.elements![0]!.value, '7');
    const bad = await slackChannel({ token: 'xoxb-wrong', apiUrl: s.url, channel: 'C0PS' }).send(req());
    assert.deepEqual(bad, { ok: false, retry: false, error: 'invalid_auth' }, 'a refused token is not retried');
    const down = await slackChannel({ token: 'xoxb-good', apiUrl: 'http://127.0.0.1:9/api/', channel: 'C', timeoutMs: 2000 }).send(req());
    assert.equal(down.ok, false);
    assert.equal(!down.ok && down.retry, true, 'a connection failure is retried');
  });

  it('Telegram: POST /bot<token>/sendMessage with chat_id, text and an inline ack button', async () => {
    const s = await telegramStandIn('123:ABC');
    closers.push(s.close);
    const r = await telegramChannel({ token: '123:ABC', apiUrl: s.url }).send(req({ address: '-1001' }));
    assert.deepEqual(r, { ok: true, providerId: '1' });
    const body = s.received[0]!.body as { chat_id: string; text: string; reply_markup: { inline_keyboard: Array<Array<{ url: string }>> } };
    assert.equal(body.chat_id, '-1001');
    assert.match(body.text, /^\[CRITICAL\] Incident #7: enbek\n\nSystem: enbek$/);
    assert.equal(body.reply_markup.inline_keyboard[0]![0]!.url, 'https://kuzet.example.kz/api/v1/ack/t');
    const wrongToken = await telegramChannel({ token: 'nope', apiUrl: s.url, chatId: '1' }).send(req());
    assert.deepEqual(wrongToken.ok === false && wrongToken.retry, false);
    const limited = await telegramStandIn('t', { status: 429, description: 'Too Many Requests: retry after 5' });
    closers.push(limited.close);
    const l = await telegramChannel({ token: 't', apiUrl: limited.url, chatId: '1' }).send(req());
    assert.equal(l.ok === false && l.retry, true);
    assert.match(l.ok === false ? l.error : '', /429: Too Many Requests/);
  });

  it('checks send nothing: Slack auth.test, Telegram getMe; a bad token or a dead service is "down"; a webhook has none', async () => {
    const s = await slackStandIn('xoxb-good');
    closers.push(s.close);
    assert.equal((await slackChannel({ token: 'xoxb-good', apiUrl: s.url }).check!()).ok, true);
    const badSlack = await slackChannel({ token: 'xoxb-wrong', apiUrl: s.url }).check!();
    assert.deepEqual([badSlack.ok, /invalid_auth/.test(badSlack.detail)], [false, true]);
    assert.equal((await slackChannel({ token: 'xoxb-good', apiUrl: 'http://127.0.0.1:9/api/', timeoutMs: 2000 }).check!()).ok, false);
    assert.deepEqual([s.counts.checks, s.received.length], [2, 0], 'auth.test twice, no message');

    const t = await telegramStandIn('123:ABC');
    closers.push(t.close);
    assert.equal((await telegramChannel({ token: '123:ABC', apiUrl: t.url }).check!()).ok, true);
    const badTg = await telegramChannel({ token: 'nope', apiUrl: t.url }).check!();
    assert.deepEqual([badTg.ok, /401/.test(badTg.detail)], [false, true]);
    assert.equal((await telegramChannel({ token: '123:ABC', apiUrl: 'http://127.0.0.1:9', timeoutMs: 2000 }).check!()).ok, false);
    assert.deepEqual([t.counts.checks, t.received.length], [2, 0], 'getMe twice, no message');

    assert.equal(webhookChannel({ url: 'http://127.0.0.1:9/hook', secret: 's', now: () => 0 }).check, undefined, 'a webhook URL is never probed');
  });

  it('webhook: HMAC-SHA256 over "timestamp.body", idempotency key header; 5xx retried, 4xx not', async () => {
    const rcv = await httpReceiver(204);
    closers.push(rcv.close);
    const r = await webhookChannel({ url: rcv.url + '/hook', secret: 'whsecret', now: () => 1_767_585_600_000 }).send(req());
    assert.deepEqual(r, { ok: true });
    const got = rcv.received[0]!;
    assert.equal(got.headers['x-kuzet-timestamp'], '1767585600');
    assert.equal(got.headers['x-kuzet-signature'], 'sha256=' + createHmac('sha256', 'whsecret').update(`1767585600.${got.raw}`).digest('hex'));
    assert.equal(got.headers['idempotency-key'], 'esc:1:r0:s0:x:alice');
    assert.equal(got.body.incident_id, 7);
    const e500 = await httpReceiver(503);
    const e400 = await httpReceiver(400);
    closers.push(e500.close, e400.close);
    const a = await webhookChannel({ url: e500.url, secret: 's', now: () => 0 }).send(req());
    const b = await webhookChannel({ url: e400.url, secret: 's', now: () => 0 }).send(req());
    assert.deepEqual([a.ok === false && a.retry, b.ok === false && b.retry], [true, false]);
  });
});
