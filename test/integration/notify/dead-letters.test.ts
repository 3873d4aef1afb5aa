import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { SMTPServer } from 'smtp-server';
import { FakeClock } from '../../../src/clock.ts';
import type { EscalationConfig } from '../../../src/escalation/config.ts';
import { enqueueNotifications, listOutbox, type NewNotification } from '../../../src/escalation/outbox.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import type { Logger } from '../../../src/log.ts';
import { buildChannels } from '../../../src/notify/channels.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { sig } from '../../support/signals.ts';
import { storeKind } from '../../support/store.ts';
import { cleanStore, closeSharedStore, ladderConfig, MIN, RecordingChannel } from '../escalation/fixtures.ts';

// Issue 12 item 9: pages left in dead letters. A real SMTP server (smtp-server) that refuses with 451
// (transient) for longer than the old six attempts, then recovers; and one that refuses with 550 (permanent).

/** An SMTP server whose answer to MAIL FROM is switched by the test: accept, 451 or 550. */
async function switchableSmtp() {
  const state = { mode: 'accept' as 'accept' | 451 | 550, mails: [] as { to: string[]; data: string }[], refused: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onMailFrom(_addr, _session, cb) {
      if (state.mode === 'accept') return cb();
      state.refused++;
      const err = Object.assign(new Error(state.mode === 451 ? '4.3.0 try again later' : '5.7.1 relaying denied'), { responseCode: state.mode });
      cb(err);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        state.mails.push({ to: session.envelope.rcptTo.map((r) => r.address), data: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port)));
  return { port, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function recordingLogger(lines: string[]): Logger {
  const l: Logger = {
    debug() {},
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m, f) => lines.push(`error ${m} ${JSON.stringify(f ?? {})}`),
    child: () => l,
  };
  return l;
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
  await closeSharedStore();
});

async function setup(over: Partial<EscalationConfig> = {}) {
  const smtp = await switchableSmtp();
  closers.push(smtp.close);
  const cfg = ladderConfig(over);
  cfg.channels = {
    email: { type: 'email', host: '127.0.0.1', port: smtp.port, from: 'kuzet@example.kz', timeout: '5s', fallback: 'slack', fallback_after: 2 },
    slack: { type: 'slack', token: 'xoxb-t' },
  };
  const store = await cleanStore();
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const registry = new Registry();
  const lines: string[] = [];
  const slack = new RecordingChannel(undefined, [], 'slack');
  const email = buildChannels({ ...cfg, channels: { email: cfg.channels.email! } }, clock).email!;
  closers.push(async () => email.close?.());
  const worker = new DeliveryWorker({ store, clock, config: () => cfg, channels: () => ({ email, slack }), registry, random: () => 0.5, workerId: 'w1', log: recordingLogger(lines) });
  const engine = new IncidentEngine({ store, clock, policy: () => ({ reopenWindowMs: 0, flapFlips: 0, flapWindowMs: 0 }) });
  const incident = async (check: string): Promise<number> => {
    await engine.processBatch([sig({ check, fingerprint: `fp-${check}`, severity: 'critical', observedAt: clock.now() })]);
    return (await store.query<{ id: number }>('SELECT id FROM incidents WHERE fingerprint = $1', [`fp-${check}`])).rows[0]!.id;
  };
  const page = (key: string, incidentId: number): NewNotification => ({
    key,
    subjectKind: 'incident',
    subjectId: incidentId,
    channel: 'email',
    recipient: { person: 'alice', address: 'alice@example.kz' },
    lang: 'en',
    message: { kind: 'page', incident: { id: incidentId, system: 'enbek', check: 'home', source: 'probe', severity: 'critical', title: 'enbek.kz does not answer', openedAt: clock.now(), labels: {} } },
  });
  const row = async (key: string) => (await listOutbox(store, {})).find((r) => r.key === key)!;
  const timeline = async (id: number) =>
    (await store.query<{ kind: string; detail: Record<string, unknown> }>(`SELECT kind, detail FROM incident_events WHERE incident_id = $1 AND kind LIKE 'notification_%' ORDER BY id`, [id])).rows;
  return { smtp, cfg, store, clock, registry, lines, slack, worker, incident, page, row, timeline };
}

describe(`dead letters on ${storeKind}`, () => {
  it('451 for longer than six attempts: retried with capped back-off, the fallback carries the page meanwhile, and the mail leaves when the relay recovers', async () => {
    const t = await setup({ outbox: { base_backoff: '10s', max_backoff: '1m' } });
    const id = await t.incident('relay-451');
    t.smtp.state.mode = 451;
    await enqueueNotifications(t.store, [t.page('p451', id)], t.clock.now());
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      await t.worker.runOnce();
      const r = await t.row('p451');
      assert.equal(r.state, 'pending', `attempt ${i + 1}: still in the queue, not dead`);
      assert.match(r.lastError ?? '', /451|try again/);
      delays.push(r.nextAttemptAt - t.clock.now());
      t.clock.advance(r.nextAttemptAt - t.clock.now());
    }
    assert.equal(t.smtp.state.refused, 10, 'the relay saw ten attempts (the old worker gave up after six)');
    assert.ok(Math.max(...delays) <= MIN, `back-off is capped at max_backoff: ${delays.join(', ')}`);
    assert.equal(delays.at(-1), 45_000, 'capped: 1 min with equal jitter at 0.5');
    assert.equal(t.slack.sent.length, 1, 'the fallback channel carried the page meanwhile, once');
    assert.equal(t.slack.sent[0]!.address, 'UALICE');
    t.smtp.state.mode = 'accept';
    await t.worker.runOnce();
    assert.equal((await t.row('p451')).state, 'sent');
    assert.equal(t.smtp.state.mails.length, 1);
    assert.deepEqual(t.smtp.state.mails[0]!.to, ['alice@example.kz']);
    assert.deepEqual(await t.timeline(id), [], 'no give-up');
    assert.doesNotMatch(await t.registry.metrics(), /kuzet_notification_give_ups_total\{/);
  });

  it('a page of an incident acknowledged meanwhile stops being retried (cancelled, not a give-up)', async () => {
    const t = await setup();
    const id = await t.incident('acked-meanwhile');
    t.smtp.state.mode = 451;
    await enqueueNotifications(t.store, [t.page('pack', id)], t.clock.now());
    await t.worker.runOnce();
    assert.equal((await t.row('pack')).state, 'pending');
    await t.store.query(`UPDATE incidents SET status = 'acknowledged' WHERE id = $1`, [id]);
    t.clock.advance(MIN);
    await t.worker.runOnce();
    assert.equal((await t.row('pack')).state, 'cancelled');
    assert.deepEqual(await t.timeline(id), []);
  });

  it('a page that expired because the relay was down for longer than max_age is re-driven once mail works again (chaos suite, smtp-down)', async () => {
    const t = await setup({ outbox: { base_backoff: '10s', max_backoff: '20s', max_age: '1m' } });
    const id = await t.incident('relay-down-long');
    t.smtp.state.mode = 451;
    await enqueueNotifications(t.store, [t.page('p-expired', id)], t.clock.now());
    for (let i = 0; i < 20 && (await t.row('p-expired')).state !== 'dead'; i++) {
      await t.worker.runOnce();
      const r = await t.row('p-expired');
      if (r.state === 'pending') t.clock.advance(Math.max(0, r.nextAttemptAt - t.clock.now()));
    }
    assert.equal((await t.row('p-expired')).state, 'dead', 'retried until max_age, then given up');
    assert.equal((await t.timeline(id))[0]!.detail.reason, 'expired');
    t.clock.advance(10 * MIN); // the relay stays down a while longer; the incident is still unacknowledged
    t.smtp.state.mode = 'accept';
    const later = await t.incident('relay-back');
    await enqueueNotifications(t.store, [t.page('p-back', later)], t.clock.now());
    await t.worker.runOnce(); // p-back is delivered: e-mail works again
    await t.worker.runOnce();
    assert.equal((await t.row('p-back')).state, 'sent');
    assert.equal((await t.row('p-expired')).state, 'sent', 'the expired page reached nobody: re-driven and delivered, whatever its age');
    assert.deepEqual((await t.timeline(id)).map((e) => e.kind), ['notification_dead', 'notification_redriven']);
    assert.equal(t.smtp.state.mails.length, 2, 'each page once');
  });

  it('550 dead-letters at once with a log line, a metric and a timeline row; when e-mail delivers again the dead page of the open incident is re-driven, not the acknowledged one', async () => {
    const t = await setup();
    const open = await t.incident('relay-550');
    const acked = await t.incident('relay-550-acked');
    t.smtp.state.mode = 550;
    await enqueueNotifications(t.store, [t.page('p550', open), t.page('p550-acked', acked)], t.clock.now());
    await t.worker.runOnce();
    for (const key of ['p550', 'p550-acked']) {
      const r = await t.row(key);
      assert.equal(r.state, 'dead', `${key}: a permanent refusal is not retried`);
      assert.equal(r.attempts, 1);
    }
    assert.equal(t.smtp.state.refused, 2);
    const tl = await t.timeline(open);
    assert.equal(tl.length, 1);
    assert.equal(tl[0]!.kind, 'notification_dead');
    assert.equal(tl[0]!.detail.reason, 'permanent');
    assert.equal(tl[0]!.detail.channel, 'email');
    assert.match(String(tl[0]!.detail.error), /550|relaying denied/);
    assert.match(await t.registry.metrics(), /kuzet_notification_give_ups_total\{channel="email",reason="permanent"\} 2/);
    assert.equal(t.lines.filter((l) => l.startsWith('error notification dead-lettered')).length, 2);
    await t.worker.runOnce();
    assert.equal(t.slack.sent.length, 2, 'the fallback copy goes out at once on a permanent refusal');

    await t.store.query(`UPDATE incidents SET status = 'acknowledged' WHERE id = $1`, [acked]);
    t.smtp.state.mode = 'accept';
    t.clock.advance(MIN);
    const later = await t.incident('relay-ok');
    await enqueueNotifications(t.store, [t.page('p-ok', later)], t.clock.now());
    await t.worker.runOnce(); // p-ok is delivered: e-mail works again, so its dead letters are re-driven
    await t.worker.runOnce();
    assert.equal((await t.row('p-ok')).state, 'sent');
    assert.equal((await t.row('p550')).state, 'sent', 're-driven and delivered');
    assert.equal((await t.row('p550-acked')).state, 'dead', 'the acknowledged incident is not paged again');
    assert.deepEqual(t.smtp.state.mails.map((m) => m.to[0]).length, 2);
    assert.deepEqual((await t.timeline(open)).map((e) => e.kind), ['notification_dead', 'notification_redriven']);
    assert.ok(t.lines.some((l) => l.startsWith('info dead letters re-driven')));

    // A letter refused again after its re-drive fails for itself: it is not re-driven a second time.
    t.smtp.state.mode = 550;
    await t.store.query(`UPDATE outbox SET state = 'dead' WHERE idempotency_key = 'p550'`);
    await enqueueNotifications(t.store, [t.page('p-refused', later)], t.clock.now());
    await t.worker.runOnce();
    t.smtp.state.mode = 'accept';
    await enqueueNotifications(t.store, [t.page('p-ok-2', later)], t.clock.now());
    await t.worker.runOnce();
    await t.worker.runOnce();
    assert.equal((await t.row('p-refused')).state, 'sent', 're-driven once');
    assert.equal((await t.row('p550')).state, 'dead', 'already re-driven once: stays dead');
  });
});
