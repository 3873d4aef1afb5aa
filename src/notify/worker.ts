import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { parseDuration, type Clock, type Timer } from '../clock.ts';
import { ackUrlFor } from '../escalation/ack-link.ts';
import type { ChannelConfig, EscalationConfig } from '../escalation/config.ts';
import { subjectLabels } from '../escalation/match.ts';
import { enqueueNotifications, OUTBOX_CHANNEL, OUTBOX_COLUMNS, rowToItem, type OutboxItem, type OutboxRow } from '../escalation/outbox.ts';
import { nullLogger, type Logger } from '../log.ts';
import { redactAckTokens } from '../mask.ts';
import type { Listener, Queryable, Store } from '../store/store.ts';
import type { Channel, SendResult } from './channel.ts';
import { errorText } from './channel.ts';
import { placeholderHold } from './placeholders.ts';
import { chooseRunbook, type Runbook } from './runbooks.ts';
import { renderMessage, type SystemNamer } from './templates.ts';

// The outbox delivery worker. Any number of instances may run: rows are claimed with
// FOR UPDATE SKIP LOCKED and a lease (state 'sending', claimed_until). A worker that dies mid-claim
// leaves the row to be re-claimed when the lease ends; one that dies before claiming leaves it pending.
// Each delivery runs on its own with a timeout, so a hanging channel holds only its own slot.
// Outcome when a send's result is unknown (timeout after the receiver got it): at-least-once; the
// idempotency key travels with the message so receivers can drop the repeat.
//
// Waking: on PostgreSQL the worker LISTENs on the outbox channel; enqueueing NOTIFYs at the commit, so a
// page leaves the moment it is durable. Polling stays as the fallback (every 5 s while listening), and a
// retry wakes the worker at its own due time.
//
// Failures: a transient one (4xx SMTP, 408/425/429/5xx HTTP, a timeout, a refused connection) is retried
// with capped back-off for as long as the page still matters (a page while its incident is unacknowledged,
// a breach while it is unresolved) and the message is younger than `outbox.max_age` (24 h); after
// `fallback_after` failures the fallback channel gets a copy meanwhile. A permanent one (5xx SMTP,
// 400/401/403/404 HTTP, an unconfigured channel) is a dead letter at once (and a fallback copy). Every
// give-up is a log line, a metric and a row on the incident's timeline. When a channel delivers again
// after failing, its dead pages for incidents still open are re-driven.
//
// Channel checks: a channel that is down for longer than `max_age` and then comes back while nothing new is paged
// would keep its dead pages for ever, since only a delivery says it works. So while a channel has dead pages that
// could be re-driven, the leader (one instance: the escalation leader) looks at it on a back-off schedule
// (`outbox.check_interval`, doubling up to `outbox.max_check_interval`): first the channel's own cheap check where
// it has one (SMTP connect + EHLO + AUTH, Slack auth.test, Telegram getMe; never a probe of a webhook's URL), then
// the oldest dead page not yet tried in this schedule is sent again as the proof (its row locked, still dead, while
// it is sent). Delivered: it counts as re-driven, and the channel's other dead pages are re-driven as after any
// delivery. Not delivered: it stays dead and re-drivable (a relay that answers EHLO but refuses recipients costs one
// attempt per step, not the page's one re-drive).

export interface DeliveryDeps {
  store: Store;
  clock: Clock;
  config: () => EscalationConfig;
  /** Live channel clients by configured name (see buildChannels). */
  channels: () => Record<string, Channel>;
  runbooks?: () => readonly Runbook[];
  /** System names in the receiver's language (from `systems[]` of the config). */
  systemName?: SystemNamer;
  log?: Logger;
  registry?: Registry;
  /** Names this worker in claims (instance id). */
  workerId?: string;
  /** 0..1, for back-off jitter; tests pass a fixed one. */
  random?: () => number;
  intervalMs?: number;
  /** Whether this instance runs the channel checks (the escalation leader); default: yes (one instance). */
  leader?: () => boolean;
}

const DEFAULTS = {
  timeoutMs: 10_000,
  fallbackAfter: 3,
  leaseMs: 60_000,
  baseMs: 5_000,
  maxMs: 600_000,
  maxAgeMs: 24 * 3_600_000,
  concurrency: 16,
  listenPollMs: 5_000,
  checkMs: 30_000,
  maxCheckMs: 300_000,
};

/**
 * A dead letter that a working channel re-drives (outbox `o`, incidents `i`): a page of an incident still open, a
 * breach or storm of one unresolved; never a placeholder address; each at most once.
 */
const REDRIVABLE = `o.state = 'dead' AND o.subject_kind = 'incident' AND i.id = o.subject_id
            AND ((o.message->>'kind' = 'page' AND i.status = 'open') OR (o.message->>'kind' IN ('breach', 'storm') AND i.status <> 'resolved'))
            -- A placeholder address was never tried: the channel working again changes nothing for it.
            AND coalesce(o.last_error, '') NOT LIKE 'placeholder address%'
            -- Once per dead letter: one that fails again after a re-drive fails for itself, not for the channel.
            AND NOT EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = o.subject_id AND e.kind = 'notification_redriven' AND e.detail->>'outbox_id' = o.id::text)`;

/** The check schedule of one channel with dead pages (leader only, in memory: a new leader starts afresh). */
interface CheckState {
  due: number;
  gapMs: number;
  /** Dead pages sent as the proof since the schedule began; the next step tries another. */
  tried: Set<number>;
}

/** Message kinds worth retrying only while their incident is in these states. */
const STILL_MATTERS: Partial<Record<string, readonly string[]>> = { page: ['open'], breach: ['open', 'acknowledged'], storm: ['open', 'acknowledged'] };

export type GiveUpReason = 'permanent' | 'expired' | 'unconfigured';

interface Bucket {
  tokens: number;
  at: number;
}

export class DeliveryWorker {
  readonly #deps: DeliveryDeps;
  readonly #log: Logger;
  readonly #id: string;
  readonly #inflight = new Set<Promise<void>>();
  /** Outbox ids this worker is delivering right now: never claimed again by it, whatever the wall clock says. */
  readonly #inflightIds = new Set<number>();
  readonly #buckets = new Map<string, Bucket>();
  readonly #outcomes?: Counter<'channel' | 'outcome'>;
  readonly #latency?: Histogram<'channel'>;
  readonly #giveUps?: Counter<'channel' | 'reason'>;
  readonly #checkResults?: Counter<'channel' | 'result'>;
  readonly #checks = new Map<string, CheckState>();
  #checkTimer: Timer | null = null;
  #checking: Promise<number> | null = null;
  /** Channels that delivered since they last failed (or since start: unknown counts as failing). */
  readonly #healthy = new Set<string>();
  #listener: Listener | null = null;
  #again = false;
  #running = false;
  #timer: Timer | null = null;
  #pumping: Promise<number> | null = null;
  #nudges: Timer[] = [];

  constructor(deps: DeliveryDeps) {
    this.#deps = deps;
    this.#log = deps.log ?? nullLogger;
    this.#id = deps.workerId ?? `w-${Math.floor((deps.random ?? Math.random)() * 1e9).toString(36)}`;
    const reg = deps.registry;
    if (reg) {
      this.#outcomes = new Counter({ name: 'kuzet_notifications_total', help: 'Notification delivery attempts by outcome', labelNames: ['channel', 'outcome'], registers: [reg] });
      this.#latency = new Histogram({
        name: 'kuzet_notification_delivery_seconds',
        help: 'From the decision to page to the channel accepting the message',
        labelNames: ['channel'],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300],
        registers: [reg],
      });
      this.#giveUps = new Counter({
        name: 'kuzet_notification_give_ups_total',
        help: 'Notifications given up on (dead letters), by channel and reason: permanent, expired, unconfigured',
        labelNames: ['channel', 'reason'],
        registers: [reg],
      });
      this.#checkResults = new Counter({
        name: 'kuzet_notification_channel_checks_total',
        help: 'Checks of a channel that has dead pages, by result: up (a dead page delivered again), down',
        labelNames: ['channel', 'result'],
        registers: [reg],
      });
      const store = deps.store;
      new Gauge({
        name: 'kuzet_notification_dead_letters',
        help: 'Notifications given up on (listable in the API)',
        registers: [reg],
        async collect() {
          const r = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE state = 'dead'`).catch(() => null);
          if (r) this.set(Number(r.rows[0]!.n));
        },
      });
    }
  }

  #settings(): Required<NonNullable<EscalationConfig['outbox']>> {
    const o = this.#deps.config().outbox ?? {};
    return {
      lease: o.lease ?? '60s',
      base_backoff: o.base_backoff ?? '5s',
      max_backoff: o.max_backoff ?? '10m',
      max_age: o.max_age ?? '24h',
      concurrency: o.concurrency ?? DEFAULTS.concurrency,
      check_interval: o.check_interval ?? '30s',
      max_check_interval: o.max_check_interval ?? '5m',
    };
  }

  #checkGaps(): { baseMs: number; maxMs: number } {
    const s = this.#settings();
    const baseMs = parseDuration(s.check_interval) || DEFAULTS.checkMs;
    return { baseMs, maxMs: Math.max(baseMs, parseDuration(s.max_check_interval) || DEFAULTS.maxCheckMs) };
  }

  /** True while a LISTEN connection wakes this worker (PostgreSQL). */
  get listening(): boolean {
    return this.#listener !== null;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    // Every (re-)LISTEN pumps: notifications sent while the connection was away are lost.
    const wake = () => void this.pump().catch((err) => this.#log.error('outbox pump failed', { err }));
    this.#listener = this.#deps.store.listen?.(OUTBOX_CHANNEL, wake, wake) ?? null;
    this.#loop();
    this.#armChecks();
  }

  /** Idempotent; stops claiming and waits for deliveries in flight (each is bounded by its timeout). */
  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = null;
    this.#checkTimer?.cancel();
    this.#checkTimer = null;
    for (const t of this.#nudges) t.cancel();
    this.#nudges = [];
    await this.#listener?.close();
    this.#listener = null;
    await this.#pumping?.catch(() => {});
    await this.#checking?.catch(() => {});
    await this.drain();
  }

  #loop(): void {
    if (!this.#running) return;
    void this.pump()
      .catch((err) => this.#log.error('outbox pump failed', { err }))
      .finally(() => {
        if (this.#running) this.#timer = this.#deps.clock.setTimeout(() => this.#loop(), this.#deps.intervalMs ?? (this.#listener ? DEFAULTS.listenPollMs : 500));
      });
  }

  /**
   * New rows were decided in a transaction that is about to commit: look a few times soon, rather than
   * waiting for the next poll. (The hook that decides runs before the commit, so the first look may be early.)
   */
  nudge(): void {
    // Listening: the NOTIFY sent with the rows arrives at the commit, which is exactly when to look.
    if (!this.#running || this.#nudges.length || this.#listener) return;
    for (const ms of [10, 40, 100, 250]) {
      const t = this.#deps.clock.setTimeout(() => {
        this.#nudges = this.#nudges.filter((x) => x !== t);
        void this.pump().catch((err) => this.#log.error('outbox pump failed', { err }));
      }, ms);
      this.#nudges.push(t);
    }
  }

  /** Claim what is due (up to the free slots) and start sending it. Returns how many were claimed. */
  pump(): Promise<number> {
    if (this.#pumping) {
      // A wake-up during a claim may be for rows the claim did not see: look once more after it.
      this.#again = true;
      return this.#pumping;
    }
    this.#pumping = this.#claimAndSend().finally(() => {
      this.#pumping = null;
      if (this.#again && this.#running) {
        this.#again = false;
        void this.pump().catch((err) => this.#log.error('outbox pump failed', { err }));
      }
    });
    return this.#pumping;
  }

  /** Look again in `ms` (a retry's or a rate limit's due time) rather than at the next fallback poll. */
  #wakeIn(ms: number): void {
    if (!this.#running || !this.#listener) return;
    const t = this.#deps.clock.setTimeout(() => {
      this.#nudges = this.#nudges.filter((x) => x !== t);
      void this.pump().catch((err) => this.#log.error('outbox pump failed', { err }));
    }, ms);
    this.#nudges.push(t);
  }

  /** Wait for every delivery in flight. */
  async drain(): Promise<void> {
    while (this.#inflight.size) await Promise.all([...this.#inflight]);
  }

  /** Deliver everything due now and wait for it (tests, `kuzet notify flush`). */
  async runOnce(): Promise<number> {
    const n = await this.pump();
    await this.drain();
    return n;
  }

  async #claimAndSend(): Promise<number> {
    const s = this.#settings();
    const free = s.concurrency - this.#inflight.size;
    if (free <= 0) return 0;
    const now = this.#deps.clock.now();
    const lease = parseDuration(s.lease) ?? DEFAULTS.leaseMs;
    // Wall-clock steps (see "Time" in README.md):
    // - a retry or a rate-limit wait is never longer than max_backoff (a rate wait at most a minute). A pending row
    //   due further ahead than that was timed on a clock that has since been set back: it is due now, not an hour late;
    // - a row this worker is still delivering is never claimed again by it, even when a forward step ended its lease.
    const stale = now + (parseDuration(s.max_backoff) ?? DEFAULTS.maxMs) + 60_000;
    const r = await this.#deps.store.query<OutboxRow>(
      `UPDATE outbox SET state = 'sending', claimed_until = $2, claimed_by = $3, attempts = attempts + 1
        WHERE id IN (SELECT id FROM outbox WHERE ((state = 'pending' AND (next_attempt_at <= $1 OR next_attempt_at > $5)) OR (state = 'sending' AND claimed_until <= $1))
                       AND id NOT IN (SELECT (jsonb_array_elements_text($6::jsonb))::bigint)
                     ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING ${OUTBOX_COLUMNS}`,
      [new Date(now).toISOString(), new Date(now + lease).toISOString(), this.#id, free, new Date(stale).toISOString(), JSON.stringify([...this.#inflightIds])],
    );
    // Every slot taken: there may be more due, so a finished delivery looks again (not the next poll).
    const full = r.rows.length >= free;
    for (const row of r.rows) {
      const id = Number(row.id);
      this.#inflightIds.add(id);
      const p = this.#deliver(rowToItem(row)).catch((err) => this.#log.error('delivery bookkeeping failed', { err }));
      this.#inflight.add(p);
      void p.finally(() => {
        this.#inflightIds.delete(id);
        this.#inflight.delete(p);
        if (full && this.#running) void this.pump().catch((err) => this.#log.error('outbox pump failed', { err }));
      });
    }
    return r.rows.length;
  }

  /** Take one token from the channel's bucket; returns 0 or the ms until one is free. */
  #rateWait(name: string, cfg: ChannelConfig | undefined, now: number): number {
    const rate = cfg?.rate_per_minute;
    if (!rate) return 0;
    const b = this.#buckets.get(name) ?? { tokens: rate, at: now };
    // max(0, …): a wall clock set back must not take tokens away (an hour back would hold the channel for an hour).
    b.tokens = Math.min(rate, b.tokens + (Math.max(0, now - b.at) * rate) / 60_000);
    b.at = now;
    this.#buckets.set(name, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 60_000) / rate);
  }

  async #deliver(item: OutboxItem): Promise<void> {
    const { clock, store } = this.#deps;
    const cfg = this.#deps.config();
    const chCfg = cfg.channels?.[item.channel];
    const channel = this.#deps.channels()[item.channel];
    const now = clock.now();
    const wait = this.#rateWait(item.channel, chCfg, now);
    if (wait > 0) {
      // Over the channel's rate: back in the queue without spending an attempt.
      await store.query(
        `UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_attempt_at = $2, claimed_until = NULL WHERE id = $1 AND claimed_by = $3 AND state = 'sending'`,
        [item.id, new Date(now + wait).toISOString(), this.#id],
      );
      this.#outcomes?.inc({ channel: item.channel, outcome: 'rate_limited' });
      this.#wakeIn(wait);
      return;
    }
    let result: SendResult;
    const held = placeholderHold(cfg, item);
    if (held) {
      result = { ok: false, retry: false, error: held }; // never handed to the channel (see placeholders.ts)
    } else if (!channel || !chCfg) {
      result = { ok: false, retry: false, error: `channel ${item.channel} is not configured` };
    } else {
      result = await this.#sendWithTimeout(channel, chCfg, item, this.#render(cfg, item, now));
    }
    // A receiver may echo what it refused: the link's secret must not reach last_error (listed in the API) or a log.
    await this.#settle(item, chCfg, result.ok ? result : { ...result, error: redactAckTokens(result.error) });
  }

  #render(cfg: EscalationConfig, item: OutboxItem, now: number): ReturnType<typeof renderMessage> {
    const runbook = item.message.incident ? chooseRunbook(this.#deps.runbooks?.() ?? [], subjectLabels(item.message.incident)) : null;
    // The acknowledge link is made now, for this message only: it is in what the person receives and nowhere else.
    const ackUrl = ackUrlFor(cfg, item, now);
    return renderMessage(ackUrl ? { ...item.message, ackUrl } : item.message, item.lang, runbook, this.#deps.systemName);
  }

  async #sendWithTimeout(channel: Channel, chCfg: ChannelConfig, item: OutboxItem, message: ReturnType<typeof renderMessage>): Promise<SendResult> {
    const timeoutMs = parseDuration(chCfg.timeout ?? '') ?? DEFAULTS.timeoutMs;
    const ac = new AbortController();
    let timer: Timer | null = null;
    const timedOut = new Promise<SendResult>((resolve) => {
      timer = this.#deps.clock.setTimeout(() => {
        ac.abort();
        resolve({ ok: false, retry: true, error: `timed out after ${timeoutMs} ms` });
      }, timeoutMs);
    });
    try {
      return await Promise.race([
        channel.send({ message, address: item.recipient.address, idempotencyKey: item.key, signal: ac.signal }).catch(
          (err): SendResult => ({ ok: false, retry: true, error: errorText(err) }), // a channel broke its contract: still just a failure
        ),
        timedOut,
      ]);
    } finally {
      (timer as Timer | null)?.cancel();
    }
  }

  async #settle(item: OutboxItem, chCfg: ChannelConfig | undefined, result: SendResult): Promise<void> {
    const { clock, store } = this.#deps;
    const now = clock.now();
    const iso = new Date(now).toISOString();
    if (result.ok) {
      await store.query(
        `UPDATE outbox SET state = 'sent', sent_at = $2, provider_id = $3, last_error = NULL, claimed_until = NULL WHERE id = $1 AND claimed_by = $4`,
        [item.id, iso, result.providerId ?? null, this.#id],
      );
      this.#outcomes?.inc({ channel: item.channel, outcome: 'sent' });
      this.#latency?.observe({ channel: item.channel }, Math.max(0, now - item.createdAt) / 1000);
      if (!this.#healthy.has(item.channel)) {
        this.#healthy.add(item.channel);
        await this.redrive(item.channel).catch((err) => this.#log.error('re-driving dead letters failed', { channel: item.channel, err }));
      }
      this.#story('sent', item);
      return;
    }
    this.#healthy.delete(item.channel);
    const s = this.#settings();
    const fallback = chCfg?.fallback;
    const fallbackAfter = chCfg?.fallback_after ?? DEFAULTS.fallbackAfter;
    const permanent = !result.retry || !chCfg;
    this.#log.warn('notification failed', { id: item.id, channel: item.channel, attempt: item.attempts, permanent, error: result.error });
    if (fallback && fallback !== item.channel && (item.attempts >= fallbackAfter || permanent)) {
      // A copy on the fallback channel (once: its key is derived); this message keeps its own course.
      if ((await this.#enqueueFallback(item, fallback, now)) > 0) this.#outcomes?.inc({ channel: item.channel, outcome: 'failed_over' });
    }
    if (permanent) return this.#giveUp(item, chCfg ? 'permanent' : 'unconfigured', result.error);
    if (now - item.createdAt >= (parseDuration(s.max_age) ?? DEFAULTS.maxAgeMs)) return this.#giveUp(item, 'expired', result.error);
    if (!(await this.#stillMatters(item))) {
      // Acknowledged or resolved meanwhile: nobody needs this page any more. Not a give-up.
      await store.query(`UPDATE outbox SET state = 'cancelled', last_error = $2, claimed_until = NULL WHERE id = $1 AND claimed_by = $3 AND state = 'sending'`, [item.id, result.error, this.#id]);
      this.#outcomes?.inc({ channel: item.channel, outcome: 'cancelled' });
      return;
    }
    const delay = backoffMs(item.attempts, parseDuration(s.base_backoff) ?? DEFAULTS.baseMs, parseDuration(s.max_backoff) ?? DEFAULTS.maxMs, this.#deps.random ?? Math.random);
    await store.query(
      `UPDATE outbox SET state = 'pending', last_error = $2, next_attempt_at = $3, claimed_until = NULL WHERE id = $1 AND claimed_by = $4`,
      [item.id, result.error, new Date(now + delay).toISOString(), this.#id],
    );
    this.#outcomes?.inc({ channel: item.channel, outcome: 'retry' });
    this.#wakeIn(delay);
    this.#story('retried', item, result.error, now + delay);
  }

  /** One info line per page outcome, with the incident and its link (issue 19: log lines that tell the story). */
  #story(what: 'sent' | 'retried' | 'dead-lettered', item: OutboxItem, error?: string, nextAt?: number): void {
    const inc = item.subjectKind === 'incident' ? item.subjectId : null;
    const url = item.message.incidentUrl;
    const who = item.recipient.person ?? item.recipient.address ?? item.channel;
    const subject = inc !== null ? `incident ${inc}` : `${item.subjectKind} ${item.subjectId}`;
    this.#log.info(`${item.message.kind} ${what}: ${subject} to ${who} via ${item.channel}${url ? ` ${url}` : ''}${error ? ` (${error})` : ''}`, {
      notification: item.id,
      incident: inc,
      url,
      channel: item.channel,
      recipient: who,
      attempt: item.attempts,
      ...(error ? { error } : {}),
      ...(nextAt !== undefined ? { next_attempt_at: new Date(nextAt).toISOString() } : {}),
    });
  }

  async #stillMatters(item: OutboxItem): Promise<boolean> {
    const states = STILL_MATTERS[item.message.kind];
    if (item.subjectKind !== 'incident' || !states) return true;
    const r = await this.#deps.store.query<{ status: string }>('SELECT status FROM incidents WHERE id = $1', [item.subjectId]);
    return r.rows.length === 0 || states.includes(r.rows[0]!.status);
  }

  #enqueueFallback(item: OutboxItem, fallback: string, now: number): Promise<number> {
    const cfg = this.#deps.config();
    const fbType = cfg.channels?.[fallback]?.type;
    const person = item.recipient.person ? cfg.people?.[item.recipient.person] : undefined;
    const address = person && fbType ? (fbType === 'email' ? person.email : fbType === 'slack' ? person.slack : fbType === 'telegram' ? person.telegram : undefined) : undefined;
    return enqueueNotifications(
      this.#deps.store,
      [{ key: `${item.key}>${fallback}`, subjectKind: item.subjectKind, subjectId: item.subjectId, channel: fallback, recipient: { ...item.recipient, address }, lang: item.lang, message: item.message, fallbackOf: item.id }],
      now,
    );
  }

  /** A dead letter: the row, a row on the incident's timeline (same transaction), a log line and a metric. */
  async #giveUp(item: OutboxItem, reason: GiveUpReason, error: string): Promise<void> {
    const now = this.#deps.clock.now();
    const done = await this.#deps.store.tx(async (q) => {
      const u = await q.query(`UPDATE outbox SET state = 'dead', last_error = $2, claimed_until = NULL WHERE id = $1 AND claimed_by = $3 AND state = 'sending'`, [item.id, error, this.#id]);
      if (u.rowCount === 0) return false; // lease lost to another worker: it owns the row now
      if (item.subjectKind === 'incident') await timelineRow(q, item.subjectId, now, 'notification_dead', { outbox_id: item.id, channel: item.channel, kind: item.message.kind, person: item.recipient.person ?? null, reason, attempts: item.attempts, error });
      return true;
    });
    if (!done) return;
    this.#outcomes?.inc({ channel: item.channel, outcome: 'dead' });
    this.#giveUps?.inc({ channel: item.channel, reason });
    this.#log.error('notification dead-lettered', { id: item.id, subject: `${item.subjectKind}:${item.subjectId}`, channel: item.channel, reason, attempts: item.attempts, error });
    this.#story('dead-lettered', item, error);
    // The channel's checks start one interval from now (the leader's next round finds dead pages made elsewhere).
    if (item.subjectKind === 'incident' && !this.#checks.has(item.channel) && (this.#deps.leader?.() ?? true)) {
      this.#checks.set(item.channel, { due: now + this.#checkGaps().baseMs, gapMs: this.#checkGaps().baseMs, tried: new Set() });
    }
  }

  /**
   * The channel delivers again: put its dead letters back in the queue where they still matter (pages of
   * incidents still open, breaches of unresolved ones), each at most once. Returns how many. Whatever their age: a
   * page that expired because the channel was down for longer than `max_age` reached nobody, and its incident is
   * still unacknowledged, so it matters most of all.
   */
  async redrive(channel: string): Promise<number> {
    const n = await this.#requeueDead(channel);
    if (n > 0) this.#log.info('dead letters re-driven: the channel delivers again', { channel, count: n });
    return n;
  }

  /** Put the channel's re-drivable dead letters back in the queue, with a `notification_redriven` row each. */
  async #requeueDead(channel: string): Promise<number> {
    const now = this.#deps.clock.now();
    const n = await this.#deps.store.tx(async (q) => {
      const r = await q.query<{ id: number; subject_id: number }>(
        `UPDATE outbox o SET state = 'pending', attempts = 0, next_attempt_at = $2, claimed_until = NULL
           FROM incidents i
          WHERE o.channel = $1 AND ${REDRIVABLE}
          RETURNING o.id, o.subject_id`,
        [channel, new Date(now).toISOString()],
      );
      for (const row of r.rows) await timelineRow(q, Number(row.subject_id), now, 'notification_redriven', { outbox_id: Number(row.id), channel });
      if (r.rows.length) await q.query(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
      return r.rows.length;
    });
    if (n > 0) {
      this.#outcomes?.inc({ channel, outcome: 'redriven' }, n);
      void this.pump().catch((err) => this.#log.error('outbox pump failed', { err }));
    }
    return n;
  }

  #armChecks(): void {
    if (!this.#running) return;
    const now = this.#deps.clock.now();
    let wait = this.#checkGaps().baseMs;
    for (const st of this.#checks.values()) wait = Math.min(wait, st.due - now);
    this.#checkTimer?.cancel();
    this.#checkTimer = this.#deps.clock.setTimeout(() => {
      this.#checkTimer = null;
      void this.checkChannels()
        .catch((err) => this.#log.error('channel checks failed', { err }))
        .finally(() => this.#armChecks());
    }, Math.max(100, wait));
  }

  /**
   * One round of channel checks: every channel with dead pages that could be re-driven and whose check is due is
   * looked at (see the head of this file). The timer runs it while the worker runs; tests call it after moving the
   * clock. Only the leader checks. Returns how many dead pages went out again or back in the queue.
   */
  checkChannels(): Promise<number> {
    this.#checking ??= this.#checkRound().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  async #checkRound(): Promise<number> {
    if (!(this.#deps.leader?.() ?? true)) {
      this.#checks.clear(); // another instance checks; should this one lead later, it starts afresh
      return 0;
    }
    const r = await this.#deps.store.query<{ channel: string }>(`SELECT DISTINCT o.channel FROM outbox o, incidents i WHERE ${REDRIVABLE}`);
    const waiting = new Set(r.rows.map((x) => x.channel));
    for (const name of [...this.#checks.keys()]) if (!waiting.has(name)) this.#checks.delete(name);
    const cfg = this.#deps.config();
    const channels = this.#deps.channels();
    const { baseMs, maxMs } = this.#checkGaps();
    const now = this.#deps.clock.now();
    const due: Array<Promise<number>> = [];
    for (const name of waiting) {
      const channel = channels[name];
      const chCfg = cfg.channels?.[name];
      if (!channel || !chCfg) continue; // not configured: nothing to check (the dead letters are listed for an operator)
      let st = this.#checks.get(name);
      // Dead pages found by this round (made before the start, or on another instance): looked at now.
      if (!st) this.#checks.set(name, (st = { due: now, gapMs: baseMs, tried: new Set() }));
      if (st.due > now) continue;
      const state = st;
      due.push(
        this.#checkChannel(name, channel, chCfg, state).then((n) => {
          if (n !== null) {
            this.#checks.delete(name);
            return n;
          }
          state.due = this.#deps.clock.now() + state.gapMs;
          state.gapMs = Math.min(maxMs, state.gapMs * 2);
          return 0;
        }),
      );
    }
    return (await Promise.all(due)).reduce((a, b) => a + b, 0);
  }

  /** Check one channel and send one dead page as the proof. Null: still down; else how many pages went out again. */
  async #checkChannel(name: string, channel: Channel, chCfg: ChannelConfig, st: CheckState): Promise<number | null> {
    const { clock, store } = this.#deps;
    const timeoutMs = parseDuration(chCfg.timeout ?? '') ?? DEFAULTS.timeoutMs;
    if (channel.check) {
      const c = await this.#withTimeout(channel.check(), timeoutMs, { ok: false, detail: `check timed out after ${timeoutMs} ms` });
      if (!c.ok) {
        this.#checkResults?.inc({ channel: name, result: 'down' });
        this.#log.debug('channel still down', { channel: name, detail: redactAckTokens(c.detail) });
        return null;
      }
    }
    // The proof stays a dead letter (listed, counted) until it is delivered: its row is locked for the send instead
    // of claimed, so a re-drive elsewhere waits for the outcome, and a crash mid-send leaves it exactly as it was.
    const proof = await store.tx(async (q) => {
      const item = await this.#lockProof(q, name, st.tried);
      if (!item) return null;
      st.tried.add(item.id);
      const cfg = this.#deps.config();
      const held = placeholderHold(cfg, item);
      const result: SendResult = held ? { ok: false, retry: false, error: held } : await this.#sendWithTimeout(channel, chCfg, item, this.#render(cfg, item, clock.now()));
      const at = new Date(clock.now()).toISOString();
      if (!result.ok) {
        await q.query(`UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, [item.id, redactAckTokens(result.error)]);
        return { item, result };
      }
      await q.query(`UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = $2, provider_id = $3, last_error = NULL, claimed_until = NULL WHERE id = $1`, [
        item.id,
        at,
        result.providerId ?? null,
      ]);
      await timelineRow(q, item.subjectId, clock.now(), 'notification_redriven', { outbox_id: item.id, channel: name, via: 'check' });
      return { item, result };
    });
    if (!proof) return 0; // re-driven meanwhile (a delivery elsewhere), or acknowledged: nothing waits
    const { item, result } = proof;
    if (!result.ok) {
      // Still dead, and still re-drivable: the proof costs an attempt, never the page's one re-drive.
      this.#checkResults?.inc({ channel: name, result: 'down' });
      this.#log.debug('channel still down: the dead page sent as proof was refused again', { channel: name, notification: item.id, error: redactAckTokens(result.error) });
      return null;
    }
    this.#checkResults?.inc({ channel: name, result: 'up' });
    this.#healthy.add(name);
    this.#outcomes?.inc({ channel: name, outcome: 'sent' });
    this.#outcomes?.inc({ channel: name, outcome: 'redriven' });
    this.#latency?.observe({ channel: name }, Math.max(0, clock.now() - item.createdAt) / 1000);
    this.#story('sent', item);
    const n = 1 + (await this.#requeueDead(name));
    this.#log.info(`channel ${name} is back; re-driving ${n} dead pages`, { channel: name, count: n });
    return n;
  }

  /** Lock the oldest re-drivable dead page of the channel not tried yet in this schedule (all tried: from the start). */
  async #lockProof(q: Queryable, channel: string, tried: Set<number>): Promise<OutboxItem | null> {
    const lock = (skip: number[]) =>
      q.query<OutboxRow>(
        `SELECT ${OUTBOX_COLUMNS} FROM outbox
          WHERE id = (SELECT o.id FROM outbox o, incidents i WHERE o.channel = $1 AND ${REDRIVABLE} AND NOT (o.id = ANY($2::bigint[]))
                       ORDER BY o.created_at, o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED)`,
        [channel, skip],
      );
    let r = await lock([...tried]);
    if (!r.rows.length && tried.size) {
      tried.clear();
      r = await lock([]);
    }
    return r.rows.length ? rowToItem(r.rows[0]!) : null;
  }

  async #withTimeout<T>(p: Promise<T>, ms: number, late: T): Promise<T> {
    let timer: Timer | null = null;
    const timedOut = new Promise<T>((resolve) => {
      timer = this.#deps.clock.setTimeout(() => resolve(late), ms);
    });
    try {
      return await Promise.race([p, timedOut]);
    } finally {
      (timer as Timer | null)?.cancel();
    }
  }
}

function timelineRow(q: Queryable, incidentId: number, at: number, kind: string, detail: Record<string, unknown>) {
  return q.query(`INSERT INTO incident_events (incident_id, at, kind, actor, detail) SELECT id, $2, $3, 'kuzet', $4::jsonb FROM incidents WHERE id = $1`, [
    incidentId,
    new Date(at).toISOString(),
    kind,
    JSON.stringify(detail),
  ]);
}

/** Exponential back-off with "equal jitter": half fixed, half random, so retries of a burst spread out. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}
