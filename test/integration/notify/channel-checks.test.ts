import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { SMTPServer } from 'smtp-server';
import { FakeClock } from '../../../src/clock.ts';
import type { EscalationConfig } from '../../../src/escalation/config.ts';
import { Sweeper } from '../../../src/escalation/sweeper.ts';
import { enqueueNotifications, listOutbox, type NewNotification } from '../../../src/escalation/outbox.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import type { Logger } from '../../../src/log.ts';
import type { Channel } from '../../../src/notify/channel.ts';
import { buildChannels } from '../../../src/notify/channels.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { openStore, type Store } from '../../../src/store/store.ts';
import { sig } from '../../support/signals.ts';
import { storeKind, testDatabaseUrl } from '../../support/store.ts';
import { cleanStore, closeSharedStore, ladderConfig, MIN } from '../escalation/fixtures.ts';

// Dead pages are delivered when their channel comes back, even when nothing else is paged: while a channel has
// dead pages worth re-driving, the worker checks it on a back-off schedule of the injected clock (SMTP: nodemailer's
// verify, a session with no message), and a working channel gets its dead pages out, each once.

const SEC = 1000;

/**
 * A real SMTP server whose state the test switches: `down` answers every connection with 421 and hangs up (no
 * session, so nodemailer's verify fails), `reject` refuses every recipient with 550, `up` accepts and records.
 * `connections` counts every connection that reached it.
 */
async function switchableSmtp() {
  const state = { mode: 'down' as 'up' | 'down' | 'reject', connections: 0, mails: [] as { to: string[]; key: string }[] };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onConnect(_session, cb) {
      state.connections++;
      if (state.mode === 'down') return cb(Object.assign(new Error('4.3.2 service not available, closing channel'), { responseCode: 421 }));
      cb();
    },
    onRcptTo(address, _session, cb) {
      if (state.mode === 'reject') return cb(Object.assign(new Error(`5.1.1 mailbox ${address.address} unavailable`), { responseCode: 550 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const data = Buffer.concat(chunks).toString('utf8');
        const key = /^X-Kuzet-Idempotency-Key:\s*(.*)$/im.exec(data)?.[1]?.trim() ?? '';
        state.mails.push({ to: session.envelope.rcptTo.map((r) => r.address), key });
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
    error: (m) => lines.push(`error ${m}`),
    child: () => l,
  };
  return l;
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
  await closeSharedStore();
});

const OUTBOX = { base_backoff: '10s', max_backoff: '20s', max_age: '1m', check_interval: '30s', max_check_interval: '2m' };

async function setup(store?: Store, lead: { of?: () => boolean } = {}) {
  const smtp = await switchableSmtp();
  closers.push(smtp.close);
  const cfg: EscalationConfig = ladderConfig({ outbox: OUTBOX });
  cfg.channels = { email: { type: 'email', host: '127.0.0.1', port: smtp.port, from: 'kuzet@kuzet.kz', timeout: '5s' } };
  const db = store ?? (await cleanStore());
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const registry = new Registry();
  const lines: string[] = [];
  const channels: Array<Record<string, Channel>> = [];
  const worker = (id = 'w1', leader?: () => boolean, st: Store = db) => {
    const ch = buildChannels(cfg, clock);
    channels.push(ch);
    closers.push(async () => ch.email?.close?.());
    return new DeliveryWorker({ store: st, clock, config: () => cfg, channels: () => ch, registry: id === 'w1' ? registry : undefined, random: () => 0.5, workerId: id, log: recordingLogger(lines), leader });
  };
  const w = worker('w1', () => lead.of?.() ?? true);
  const engine = new IncidentEngine({ store: db, clock, policy: () => ({ reopenWindowMs: 0, flapFlips: 0, flapWindowMs: 0 }) });
  const incident = async (check: string): Promise<number> => {
    await engine.processBatch([sig({ check, fingerprint: `fp-${check}`, severity: 'critical', observedAt: clock.now() })]);
    return (await db.query<{ id: number }>('SELECT id FROM incidents WHERE fingerprint = $1', [`fp-${check}`])).rows[0]!.id;
  };
  const page = (key: string, incidentId: number, address = 'duty@kuzet.kz'): NewNotification => ({
    key,
    subjectKind: 'incident',
    subjectId: incidentId,
    channel: 'email',
    recipient: { person: 'alice', address },
    lang: 'en',
    message: { kind: 'page', incident: { id: incidentId, system: 'enbek', check: 'home', source: 'probe', severity: 'critical', title: 'enbek.kz does not answer', openedAt: clock.now(), labels: {} } },
  });
  const state = async (key: string) => (await listOutbox(db, {})).find((r) => r.key === key)!.state;
  const timeline = async (id: number) =>
    (await db.query<{ kind: string; detail: Record<string, unknown> }>(`SELECT kind, detail FROM incident_events WHERE incident_id = $1 AND kind LIKE 'notification_%' ORDER BY id`, [id])).rows;
  /** Deliver until every row of `keys` is dead (the relay down for longer than max_age), moving the clock to each retry. */
  const driveToDead = async (keys: string[]) => {
    for (let i = 0; i < 30; i++) {
      await w.runOnce();
      const rows = (await listOutbox(db, {})).filter((r) => keys.includes(r.key));
      if (rows.every((r) => r.state === 'dead')) return;
      const next = Math.min(...rows.filter((r) => r.state === 'pending').map((r) => r.nextAttemptAt));
      clock.advance(Math.max(0, next - clock.now()));
    }
    assert.fail('the pages never died');
  };
  return { smtp, cfg, store: db, clock, registry, lines, worker: w, newWorker: worker, incident, page, state, timeline, driveToDead };
}

/** Wait (bounded, real time) for work the worker started on its own timer: I/O, not the clock. */
async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe(`channel checks re-drive dead pages on ${storeKind}`, () => {
  it('SMTP down past max_age, back with no new page: at the next check the dead pages are delivered, each once; the acknowledged incident’s stays dead', async () => {
    const t = await setup();
    const a = await t.incident('down-a');
    const b = await t.incident('down-b');
    const acked = await t.incident('down-acked');
    await enqueueNotifications(t.store, [t.page('pa', a), t.page('pb', b), t.page('pc', acked)], t.clock.now());
    await t.driveToDead(['pa', 'pb', 'pc']);
    assert.equal((await t.timeline(a))[0]!.detail.reason, 'expired');
    await t.store.query(`UPDATE incidents SET status = 'acknowledged' WHERE id = $1`, [acked]);

    t.smtp.state.mode = 'up'; // the relay is back; nothing new is paged
    const before = t.smtp.state.connections;
    assert.equal(await t.worker.checkChannels(), 0, 'the check is not due yet');
    assert.equal(t.smtp.state.connections, before, 'nothing looked at the relay before the interval');
    t.clock.advance(30 * SEC);
    assert.equal(await t.worker.checkChannels(), 2);
    await t.worker.runOnce();
    await t.worker.runOnce();
    assert.equal(await t.state('pa'), 'sent');
    assert.equal(await t.state('pb'), 'sent');
    assert.equal(await t.state('pc'), 'dead', 'the acknowledged incident is not paged again');
    assert.deepEqual(t.smtp.state.mails.map((m) => m.key).sort(), ['pa', 'pb'], 'each open incident’s page once');
    assert.deepEqual((await t.timeline(a)).map((e) => e.kind), ['notification_dead', 'notification_redriven']);
    assert.deepEqual((await t.timeline(b)).map((e) => e.kind), ['notification_dead', 'notification_redriven']);
    assert.deepEqual((await t.timeline(acked)).map((e) => e.kind), ['notification_dead']);
    assert.equal(t.lines.filter((l) => l === 'info channel email is back; re-driving 2 dead pages').length, 1, t.lines.join('\n'));
    const metrics = await t.registry.metrics();
    assert.match(metrics, /kuzet_notification_channel_checks_total\{channel="email",result="up"\} 1/);
    assert.match(metrics, /kuzet_notifications_total\{channel="email",outcome="redriven"\} 2/);

    // Later rounds find nothing to re-drive: no more checks, no page twice.
    const after = t.smtp.state.connections;
    for (let i = 0; i < 10; i++) {
      t.clock.advance(MIN);
      await t.worker.checkChannels();
      await t.worker.runOnce();
    }
    assert.equal(t.smtp.state.mails.length, 2);
    assert.equal(t.smtp.state.connections, after, 'no check once nothing waits');
  });

  it('a running worker does it by itself on its clock (the old worker never re-drove without a new page)', async () => {
    const t = await setup();
    const a = await t.incident('timer-a');
    await enqueueNotifications(t.store, [t.page('ta', a)], t.clock.now());
    await t.driveToDead(['ta']);
    t.smtp.state.mode = 'up';
    await t.worker.start();
    try {
      t.clock.advance(30 * SEC); // the check timer fires; nothing else happens on its own
      await until('the dead page delivered', () => t.smtp.state.mails.length === 1);
      await until('the row marked sent', async () => (await t.state('ta')) === 'sent');
      t.clock.advance(10 * MIN);
      await t.worker.runOnce();
      assert.equal(t.smtp.state.mails.length, 1, 'once');
    } finally {
      await t.worker.stop();
    }
  });

  it('while the relay is still down the checks back off: the first 30 s after the page died, then gaps of 30 s, 60 s, 2 min, 2 min (one connection each)', async () => {
    const t = await setup();
    const a = await t.incident('backoff');
    await enqueueNotifications(t.store, [t.page('bo', a)], t.clock.now());
    await t.driveToDead(['bo']);
    const deadAt = t.clock.now();
    const seen: number[] = [];
    let last = t.smtp.state.connections;
    for (let s = 0; s <= 7 * 60; s += 10) {
      await t.worker.checkChannels();
      if (t.smtp.state.connections !== last) {
        assert.equal(t.smtp.state.connections - last, 1, 'one connection per check (verify: no message)');
        seen.push((t.clock.now() - deadAt) / SEC);
        last = t.smtp.state.connections;
      }
      t.clock.advance(10 * SEC);
    }
    assert.deepEqual(seen, [30, 60, 120, 240, 360], `checks at ${seen.join(', ')} s after the page died`);
    assert.equal(await t.state('bo'), 'dead');
    assert.equal(t.smtp.state.mails.length, 0);
    assert.match(await t.registry.metrics(), /kuzet_notification_channel_checks_total\{channel="email",result="down"\} 5/);
    t.smtp.state.mode = 'up';
    t.clock.advance(2 * MIN);
    await t.worker.checkChannels();
    await t.worker.runOnce();
    assert.equal(await t.state('bo'), 'sent');
  });

  it('a relay that answers but refuses recipients: the page sent as proof stays dead and re-drivable, and goes out once the relay accepts', async () => {
    const t = await setup();
    const a = await t.incident('refusing-a');
    const b = await t.incident('refusing-b');
    await enqueueNotifications(t.store, [t.page('ra', a), t.page('rb', b)], t.clock.now());
    await t.driveToDead(['ra', 'rb']);
    t.smtp.state.mode = 'reject'; // EHLO works, so the check passes; the page itself is refused
    t.clock.advance(30 * SEC);
    assert.equal(await t.worker.checkChannels(), 0);
    assert.equal(await t.state('ra'), 'dead');
    assert.equal(await t.state('rb'), 'dead');
    t.clock.advance(30 * SEC);
    await t.worker.checkChannels(); // the next step tries the other page
    assert.deepEqual((await t.timeline(a)).map((e) => e.kind), ['notification_dead'], 'no re-drive spent, no timeline row per step');
    t.smtp.state.mode = 'up';
    t.clock.advance(60 * SEC);
    assert.equal(await t.worker.checkChannels(), 2);
    await t.worker.runOnce();
    assert.deepEqual(t.smtp.state.mails.map((m) => m.key).sort(), ['ra', 'rb']);
  });

  it('a webhook is not probed: its oldest dead page is sent again once per step, and when it is accepted the rest follow, each once', async () => {
    const t = await setup();
    const hook = { status: 503, posts: [] as string[] };
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        hook.posts.push(String((JSON.parse(raw) as { idempotency_key: string }).idempotency_key));
        res.writeHead(hook.status);
        res.end();
      });
    });
    const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    t.cfg.channels = { email: t.cfg.channels!.email!, hook: { type: 'webhook', url: `http://127.0.0.1:${port}/kuzet`, secret: 'hook-secret', timeout: '5s' } };
    const w = t.newWorker('wh');
    const a = await t.incident('hook-a');
    const b = await t.incident('hook-b');
    await enqueueNotifications(t.store, [{ ...t.page('ha', a), channel: 'hook' }], t.clock.now());
    t.clock.advance(SEC);
    await enqueueNotifications(t.store, [{ ...t.page('hb', b), channel: 'hook' }], t.clock.now());
    for (let i = 0; i < 30 && !((await t.state('ha')) === 'dead' && (await t.state('hb')) === 'dead'); i++) {
      await w.runOnce();
      t.clock.advance(5 * SEC);
    }
    assert.equal(await t.state('hb'), 'dead');
    const before = hook.posts.length;
    for (let i = 0; i < 3; i++) {
      t.clock.advance(2 * MIN);
      await w.checkChannels();
    }
    assert.deepEqual(hook.posts.slice(before), ['ha', 'hb', 'ha'], 'one dead page per step, the oldest not yet tried first');
    assert.equal(await t.state('ha'), 'dead');
    hook.status = 204;
    t.clock.advance(2 * MIN);
    assert.equal(await w.checkChannels(), 2);
    await w.runOnce();
    assert.deepEqual(hook.posts.slice(before + 3), ['hb', 'ha'], 'the proof (the one not tried since the last round), then the rest; each once');
    assert.equal(await t.state('ha'), 'sent');
    assert.equal(await t.state('hb'), 'sent');
  });

  it('placeholder addresses are never re-driven and never make the relay be checked', async () => {
    const t = await setup();
    t.cfg.placeholder_domains = ['example.kz'];
    const a = await t.incident('placeholder');
    await enqueueNotifications(t.store, [t.page('ph', a, 'nobody@example.kz')], t.clock.now());
    await t.worker.runOnce();
    assert.equal(await t.state('ph'), 'dead');
    t.smtp.state.mode = 'up';
    const before = t.smtp.state.connections;
    for (let i = 0; i < 5; i++) {
      t.clock.advance(MIN);
      await t.worker.checkChannels();
    }
    assert.equal(t.smtp.state.connections, before);
    assert.equal(await t.state('ph'), 'dead');
  });

  it('three instances: only the leader checks, so the relay sees one check per step and each page goes out once', async () => {
    const s1 = await cleanStore();
    const schema = (await s1.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    const others = await Promise.all([1, 2].map(() => openStore({ url: testDatabaseUrl, schema, poolSize: 4 })));
    for (const s of others) closers.push(() => s.close());
    const lead: { of?: () => boolean } = {};
    const t = await setup(s1, lead);
    const stores = [s1, ...others];
    const sweepers = stores.map((store) => new Sweeper({ store, clock: t.clock, sweep: async () => 0, intervalMs: 1000 }));
    lead.of = () => sweepers[0]!.leader;
    await Promise.all(sweepers.map((s) => s.start()));
    try {
      assert.equal(sweepers.filter((s) => s.leader).length, 1, 'exactly one leader');
      const workers = stores.map((store, i) => (i === 0 ? t.worker : t.newWorker(`w${i + 1}`, () => sweepers[i]!.leader, store)));
      const a = await t.incident('three');
      await enqueueNotifications(t.store, [t.page('p3', a)], t.clock.now());
      await t.driveToDead(['p3']);
      const before = t.smtp.state.connections;
      for (let i = 0; i < 4; i++) {
        t.clock.advance(30 * SEC);
        await Promise.all(workers.map((w) => w.checkChannels()));
      }
      // One schedule, the leader's: checks 30 s, 60 s and 120 s after the page died. Three schedules would be 9.
      const checks = t.smtp.state.connections - before;
      const leaderIndex = sweepers.findIndex((s) => s.leader);
      assert.equal(checks, 3, `${checks} checks in 2 min`);
      t.smtp.state.mode = 'up';
      t.clock.advance(2 * MIN);
      const n = await Promise.all(workers.map((w) => w.checkChannels()));
      await Promise.all(workers.map((w) => w.runOnce()));
      await Promise.all(workers.map((w) => w.runOnce()));
      assert.deepEqual(n.map((x, i) => (i === leaderIndex ? x : 0)), n, 'only the leader re-drove');
      assert.equal(n.reduce((x, y) => x + y, 0), 1);
      assert.deepEqual(t.smtp.state.mails.map((m) => m.key), ['p3'], 'once');
    } finally {
      await Promise.all(sweepers.map((s) => s.stop()));
    }
  });
});
