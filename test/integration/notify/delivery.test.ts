import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { verifyAckToken } from '../../../src/escalation/ack-link.ts';
import { FakeClock } from '../../../src/clock.ts';
import type { EscalationConfig } from '../../../src/escalation/config.ts';
import { Escalator } from '../../../src/escalation/escalator.ts';
import { enqueueNotifications, listOutbox, retryDeadLetter, type NewNotification } from '../../../src/escalation/outbox.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import type { Channel } from '../../../src/notify/channel.ts';
import { buildChannels } from '../../../src/notify/channels.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { sig } from '../../support/signals.ts';
import { mailText } from '../../support/mail.ts';
import { storeKind } from '../../support/store.ts';
import { cleanStore, closeSharedStore, ladderConfig, MIN, RecordingChannel } from '../escalation/fixtures.ts';
import { closedPort, slackStandIn, smtpStandIn } from './stand-ins.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
  await closeSharedStore();
});

async function base(cfg: EscalationConfig, channels: Record<string, Channel>) {
  const store = await cleanStore();
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const registry = new Registry();
  const worker = (id: string) => new DeliveryWorker({ store, clock, config: () => cfg, channels: () => channels, registry: id === 'w1' ? registry : undefined, random: () => 0.5, workerId: id });
  return { store, clock, registry, worker };
}

/** An unfolded header with RFC 2047 encoded words decoded (Q and B). */
function decodeHeader(data: string, name: string): string {
  const m = new RegExp(`^${name}: (.*(?:\\r\\n[ \\t].*)*)`, 'mi').exec(data);
  if (!m) return '';
  return m[1]!
    .replace(/\?=\r\n[ \t]+=\?/g, '?==?')
    .replace(/=\?UTF-8\?([QB])\?([^?]*)\?=/gi, (_x, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_y, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}

const page = (over: Partial<NewNotification> = {}): NewNotification => ({
  key: `k-${Math.random()}`,
  subjectKind: 'incident',
  subjectId: 1,
  channel: 'email',
  recipient: { person: 'alice', address: 'alice@example.kz' },
  lang: 'en',
  message: { kind: 'page', incident: { id: 1, system: 'enbek', check: 'home-ru', source: 'probe', severity: 'critical', title: 'enbek.kz does not answer', openedAt: Date.parse('2026-01-05T04:00:00Z'), labels: {} } },
  ...over,
});

describe(`notification delivery on ${storeKind}`, () => {
  it('a restart between "decided" and "delivered" delivers exactly once', async () => {
    const cfg = ladderConfig();
    const log: string[] = [];
    const channels = { email: new RecordingChannel(undefined, log, 'email'), slack: new RecordingChannel(undefined, log, 'slack'), ops: new RecordingChannel(undefined, log, 'ops') };
    const t = await base(cfg, channels);
    const engine = new IncidentEngine({ store: t.store, clock: t.clock, policy: () => ({ reopenWindowMs: 0, flapFlips: 0, flapWindowMs: 0 }) });
    engine.onChanges(new Escalator({ store: t.store, clock: t.clock, config: () => cfg }).hook);
    await engine.processBatch([sig({ severity: 'critical', observedAt: t.clock.now() })]);
    // "Crash": the process that decided is gone before any worker ran. A new process starts.
    const w2 = t.worker('w2');
    assert.equal(await w2.runOnce(), 2);
    assert.equal(await w2.runOnce(), 0);
    assert.deepEqual(log.sort(), ['email:alice@example.kz', 'slack:UALICE']);

    // A worker that crashed holding a claim: the row is re-claimed only after its lease, and sent once.
    await enqueueNotifications(t.store, [page({ key: 'crashed-claim', channel: 'ops', recipient: {} })], t.clock.now());
    await t.store.query(`UPDATE outbox SET state = 'sending', claimed_by = 'dead', attempts = 1, claimed_until = $1 WHERE idempotency_key = 'crashed-claim'`, [
      new Date(t.clock.now() + MIN).toISOString(),
    ]);
    assert.equal(await w2.runOnce(), 0, 'the lease still holds');
    t.clock.advance(MIN);
    const w3 = t.worker('w3');
    await Promise.all([w2.runOnce(), w3.runOnce()]);
    await Promise.all([w2.runOnce(), w3.runOnce()]);
    assert.equal(log.filter((l) => l === 'ops:').length, 1);
    const row = (await listOutbox(t.store, {})).find((r) => r.key === 'crashed-claim')!;
    assert.equal(row.state, 'sent');
    // Writing the same decision again is a no-op.
    assert.equal(await enqueueNotifications(t.store, [page({ key: 'crashed-claim' })], t.clock.now()), 0);
  });

  it('SMTP down: retries with back-off, then falls back to Slack (real SMTP client, Slack stand-in)', async () => {
    const slack = await slackStandIn('xoxb-real');
    closers.push(slack.close);
    const cfg = ladderConfig();
    cfg.channels = {
      email: { type: 'email', host: '127.0.0.1', port: await closedPort(), from: 'kuzet@example.kz', timeout: '5s', fallback: 'slack', fallback_after: 2 },
      slack: { type: 'slack', token: 'xoxb-real', api_url: slack.url, timeout: '5s' },
    };
    const t = await base(cfg, buildChannels(cfg, new FakeClock()));
    await enqueueNotifications(t.store, [page({ key: 'smtp-down' })], t.clock.now());
    const w = t.worker('w1');
    await w.runOnce();
    let rows = await listOutbox(t.store, {});
    assert.equal(rows[0]!.state, 'pending');
    assert.equal(rows[0]!.attempts, 1);
    assert.match(rows[0]!.lastError ?? '', /ECONNREFUSED|connect/i);
    // base 10 s, attempt 1, jitter 0.5: 7.5 s
    assert.equal(rows[0]!.nextAttemptAt - t.clock.now(), 7_500);
    assert.equal(await w.runOnce(), 0, 'not before the back-off');
    t.clock.advance(7_500);
    await w.runOnce();
    await w.runOnce();
    rows = await listOutbox(t.store, {});
    const orig = rows.find((r) => r.key === 'smtp-down')!;
    const fb = rows.find((r) => r.key === 'smtp-down>slack')!;
    assert.equal(orig.state, 'pending', 'the e-mail keeps being retried while the fallback carries the page');
    assert.equal(orig.attempts, 2);
    assert.equal(fb.state, 'sent');
    assert.equal(fb.fallbackOf, orig.id);
    assert.equal(slack.received.length, 1);
    assert.equal(slack.received[0]!.body.channel, 'UALICE', "the fallback reaches the same person by their Slack id");
    assert.match(String(slack.received[0]!.body.text), /enbek/);
    assert.match(await t.registry.metrics(), /kuzet_notifications_total\{channel="email",outcome="failed_over"\} 1/);
  });

  it('e-mail reaches a real SMTP server; the message carries the idempotency key and the content', async () => {
    const smtp = await smtpStandIn();
    closers.push(smtp.close);
    const cfg = ladderConfig();
    cfg.channels = { email: { type: 'email', host: '127.0.0.1', port: smtp.port, from: 'kuzet@example.kz', timeout: '5s' } };
    const t = await base(cfg, buildChannels(cfg, new FakeClock()));
    // A link stored by an older version is never sent nor listed: the worker mints one for this message.
    await enqueueNotifications(t.store, [page({ key: 'esc:1:r0:s0:email:alice', message: { ...page().message, ackUrl: 'https://kuzet.example.kz/api/v1/ack/x' } })], t.clock.now());
    const [queued] = await listOutbox(t.store, {});
    assert.equal(queued!.message.ackUrl, undefined);
    await t.worker('w1').runOnce();
    assert.equal(smtp.mails.length, 1);
    const m = smtp.mails[0]!;
    assert.deepEqual(m.to, ['alice@example.kz']);
    assert.equal(m.from, 'kuzet@example.kz');
    assert.match(m.data, /Message-ID: <esc:1:r0:s0:email:alice@kuzet>/i);
    assert.match(decodeHeader(m.data, 'Subject'), /^\[CRITICAL\] Incident #1: enbek — enbek\.kz does not answer$/);
    assert.match(m.data, /Date: Mon, 05 Jan 2026 04:00:00/, 'dated by the injected clock');
    const link = /Acknowledge: https:\/\/kuzet\.example\.kz\/ack\/(\S+)/.exec(mailText(m.data).text)?.[1];
    assert.ok(link && link !== 'x', 'a link minted at delivery');
    const v = verifyAckToken(cfg.ack_links!.secret, link, t.clock.now());
    assert.ok(v.ok && v.claims.incidentId === 1 && v.claims.outboxId === queued!.id, 'signed for this incident and this message');
    assert.equal((await listOutbox(t.store, {}))[0]!.state, 'sent');
  });

  it('a hanging channel holds only its own delivery; it times out and is retried, then dead-lettered', async () => {
    const cfg = ladderConfig();
    cfg.channels = { hang: { type: 'webhook', url: 'http://127.0.0.1:9/', secret: 's', timeout: '10s' }, ok: { type: 'slack', token: 't' } };
    cfg.outbox = { ...cfg.outbox, max_age: '25s' };
    const log: string[] = [];
    const channels = { hang: new RecordingChannel(() => 'hang', log, 'hang'), ok: new RecordingChannel(undefined, log, 'ok') };
    const t = await base(cfg, channels);
    await enqueueNotifications(t.store, [page({ key: 'h', channel: 'hang' }), page({ key: 'o', channel: 'ok', recipient: {} })], t.clock.now());
    const w = t.worker('w1');
    await w.pump();
    for (let i = 0; i < 200 && log.length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ['ok:'], 'the healthy channel delivered while the other hangs');
    t.clock.advance(10_000);
    await w.drain();
    let h = (await listOutbox(t.store, {})).find((r) => r.key === 'h')!;
    assert.equal(h.state, 'pending');
    assert.match(h.lastError ?? '', /timed out/);
    t.clock.advance(10_000);
    await w.pump();
    t.clock.advance(10_000);
    await w.drain();
    h = (await listOutbox(t.store, {})).find((r) => r.key === 'h')!;
    assert.equal(h.state, 'dead', 'older than max_age 25s, no fallback: a dead letter');
    assert.match(await t.registry.metrics(), /kuzet_notification_give_ups_total\{channel="hang",reason="expired"\} 1/);
    assert.deepEqual((await listOutbox(t.store, { state: 'dead' })).map((r) => r.key), ['h']);
    assert.match(await t.registry.metrics(), /kuzet_notification_dead_letters 1/);
    assert.equal(await retryDeadLetter(t.store, h.id, t.clock.now()), true);
    assert.equal(await retryDeadLetter(t.store, h.id, t.clock.now()), false, 'no longer dead');
  });

  it('a permanent refusal is not retried; a per-channel rate limit spreads a burst without spending attempts', async () => {
    const cfg = ladderConfig();
    cfg.channels = { bad: { type: 'slack', token: 't' }, slow: { type: 'slack', token: 't', rate_per_minute: 2 } };
    const log: string[] = [];
    const channels = { bad: new RecordingChannel(() => ({ ok: false, retry: false, error: 'channel_not_found' }), log, 'bad'), slow: new RecordingChannel(undefined, log, 'slow') };
    const t = await base(cfg, channels);
    await enqueueNotifications(t.store, [page({ key: 'b', channel: 'bad' }), ...[1, 2, 3, 4].map((i) => page({ key: `s${i}`, channel: 'slow', recipient: {} }))], t.clock.now());
    const w = t.worker('w1');
    await w.runOnce();
    const rows = await listOutbox(t.store, {});
    assert.equal(rows.find((r) => r.key === 'b')!.state, 'dead');
    assert.equal(channels.bad.calls, 1);
    assert.equal(log.length, 2, 'two per minute');
    const held = rows.filter((r) => r.channel === 'slow' && r.state === 'pending');
    assert.equal(held.length, 2);
    assert.ok(held.every((r) => r.attempts === 0));
    t.clock.advance(MIN);
    await w.runOnce();
    assert.equal(log.length, 4);
  });
});
