import { randomBytes } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import { parseDuration } from '../clock.ts';
import type { Change, ChangeHook } from '../incidents/engine.ts';
import type { IncidentState } from '../incidents/lifecycle.ts';
import { nullLogger, type Logger } from '../log.ts';
import type { Queryable, Store } from '../store/store.ts';
import { signAckToken } from './ack-link.ts';
import type { EscalationConfig, Matchers, Target } from './config.ts';
import { nextStep, resolveTargets, snapshotPolicy, stepDueAt, type LadderSnapshot } from './ladder.ts';
import { matchesLabels, matchPolicy, subjectLabels } from './match.ts';
import { cancelPending, enqueueNotifications, type MessageData, type NewNotification } from './outbox.ts';
import { activeSilences, silencing } from './silences.ts';
import { cancelTimers, claimDueTimers, markFired, postponeTimer, scheduleTimers, type TimerRow } from './timers.ts';

// Escalation: turns incident changes into durable timers and outbox rows.
// - `hook` runs inside the incident engine's transaction, so the decision to page commits with the change.
// - `sweep()` fires due timers (FOR UPDATE SKIP LOCKED) in one transaction per batch: the timer is marked
//   fired in the same commit as the outbox rows it produced, so a crash re-runs it and the idempotency
//   keys keep the outbox from doubling.

export type IncidentInfo = NonNullable<MessageData['incident']> & { status: string };

export interface EscalatorDeps {
  store: Store;
  clock: Clock;
  config: () => EscalationConfig;
  log?: Logger;
  registry?: Registry;
  /** Timers fired per sweep transaction. */
  batch?: number;
  /** Called (inside the deciding transaction) when notifications were written; wire it to the worker's nudge. */
  onDecided?: () => void;
}

/** A handler for one timer kind; runs in the sweep transaction. Other stages (requests) register their own. */
export type TimerHandler = (q: Queryable, timer: TimerRow, now: number) => Promise<void>;

interface EscRow {
  id: number;
  subject_id: number;
  policy_name: string;
  snapshot: LadderSnapshot;
  state: string;
  started_at: Date | string;
  ack_breached_at: Date | string | null;
  resolve_breached_at: Date | string | null;
}

const ESC_COLS = 'id, subject_id, policy_name, snapshot, state, started_at, ack_breached_at, resolve_breached_at';
const INC_COLS = 'id, system, check_name, source, severity, title, opened_at, labels, status';

function infoOf(inc: IncidentState): IncidentInfo {
  return {
    id: inc.id,
    system: inc.system,
    check: inc.check,
    source: inc.source,
    severity: inc.severity,
    title: inc.title,
    openedAt: inc.openedAt,
    labels: inc.labels,
    status: inc.status,
  };
}

async function loadIncident(q: Queryable, id: number): Promise<IncidentInfo | null> {
  const r = await q.query<Record<string, unknown>>(`SELECT ${INC_COLS} FROM incidents WHERE id = $1`, [id]);
  const x = r.rows[0];
  if (!x) return null;
  return {
    id: Number(x.id),
    system: String(x.system),
    check: String(x.check_name),
    source: String(x.source),
    severity: String(x.severity),
    title: String(x.title),
    openedAt: new Date(x.opened_at as string).getTime(),
    labels: (x.labels as Record<string, string>) ?? {},
    status: String(x.status),
  };
}

export class Escalator {
  readonly hook: ChangeHook;
  readonly #deps: EscalatorDeps;
  readonly #log: Logger;
  readonly #handlers = new Map<string, TimerHandler>();
  readonly #breaches?: Counter<'policy' | 'deadline'>;
  readonly #steps?: Counter<'policy'>;
  #pendingBreaches: Array<{ policy: string; deadline: string }> = [];

  constructor(deps: EscalatorDeps) {
    this.#deps = deps;
    this.#log = deps.log ?? nullLogger;
    this.hook = (q, changes) => this.#onChanges(q, changes);
    const reg: Registry | undefined = deps.registry;
    if (reg) {
      this.#breaches = new Counter({ name: 'kuzet_sla_breaches_total', help: 'SLA deadlines missed', labelNames: ['policy', 'deadline'], registers: [reg] });
      this.#steps = new Counter({ name: 'kuzet_escalation_steps_total', help: 'Escalation steps fired', labelNames: ['policy'], registers: [reg] });
    }
    this.#handlers.set('step', (q, t, now) => this.#onStepTimer(q, t, now));
    this.#handlers.set('ack_deadline', (q, t, now) => this.#onDeadline(q, t, now, 'ack'));
    this.#handlers.set('resolve_deadline', (q, t, now) => this.#onDeadline(q, t, now, 'resolve'));
    this.#handlers.set('silence_end', (q, t, now) => this.#onSilenceEnd(q, t, now));
    this.#handlers.set('resolved_notice', (q, t, now) => this.#onResolvedNotice(q, t, now));
  }

  registerTimerHandler(kind: string, handler: TimerHandler): void {
    if (this.#handlers.has(kind)) throw new Error(`timer handler ${kind} is already registered`);
    this.#handlers.set(kind, handler);
  }

  /** Fire every due timer (in batches). Returns how many fired. Safe to run on several instances at once. */
  async sweep(): Promise<number> {
    const { store, clock } = this.#deps;
    const kinds = [...this.#handlers.keys()];
    let total = 0;
    for (let round = 0; round < 1000; round++) {
      const now = clock.now();
      this.#pendingBreaches = [];
      const n = await store.tx(async (q) => {
        const due = await claimDueTimers(q, now, this.#deps.batch ?? 100, kinds);
        const fired: number[] = [];
        for (const t of due) {
          // One timer that fails (a bug, bad data) must not hold back the others behind it:
          // its work is rolled back to the savepoint and it is tried again a minute later.
          await q.query('SAVEPOINT kuzet_timer');
          try {
            await this.#handlers.get(t.kind)!(q, t, now);
            await q.query('RELEASE SAVEPOINT kuzet_timer');
            fired.push(t.id);
          } catch (err) {
            await q.query('ROLLBACK TO SAVEPOINT kuzet_timer');
            const failures = Number(t.payload.failures ?? 0) + 1;
            this.#log.error('timer handler failed', { timer: t.id, kind: t.kind, failures, err });
            await postponeTimer(q, t.id, now + 60_000 * Math.min(failures, 10), failures);
          }
        }
        await markFired(q, fired, now);
        return due.length;
      });
      for (const b of this.#pendingBreaches) this.#breaches?.inc(b);
      total += n;
      if (n < (this.#deps.batch ?? 100)) break;
    }
    return total;
  }

  async #onChanges(q: Queryable, changes: Change[]): Promise<void> {
    const cfg = this.#deps.config();
    const now = this.#deps.clock.now();
    for (const { incident, event } of changes) {
      switch (event.kind) {
        case 'opened':
          if (event.page) await this.#start(q, cfg, infoOf(incident), now);
          break;
        case 'reopened':
          // Back before "resolved" was told: the same episode goes on (no new page), its ladder where it was.
          if (await this.#resumeHeld(q, incident, now)) break;
          if (event.page) await this.#start(q, cfg, infoOf(incident), now);
          break;
        case 'severity_raised':
        case 'maintenance_ended':
          if (event.page && !(await this.#current(q, incident.id))) await this.#start(q, cfg, infoOf(incident), now);
          break;
        case 'acknowledged':
          await q.query(
            `UPDATE escalations SET state = 'acknowledged', updated_at = $2 WHERE subject_kind = 'incident' AND subject_id = $1
               AND state IN ('active', 'silenced', 'inhibited', 'grouped')`,
            [incident.id, new Date(now).toISOString()],
          );
          await cancelTimers(q, 'incident', incident.id, ['step', 'ack_deadline', 'silence_end']);
          await cancelPending(q, 'incident', incident.id, ['page']);
          break;
        case 'resolved': {
          const last = await this.#current(q, incident.id);
          await q.query(
            `UPDATE escalations SET state = 'resolved', updated_at = $2 WHERE subject_kind = 'incident' AND subject_id = $1 AND state <> 'resolved'`,
            [incident.id, new Date(now).toISOString()],
          );
          await cancelTimers(q, 'incident', incident.id);
          await cancelPending(q, 'incident', incident.id, ['page', 'breach']);
          const notifyAfter = Number(event.detail.notify_after ?? 0);
          if (notifyAfter > now && last) {
            // Held for the settle period: a failure back before then takes the hold back (#resumeHeld).
            await scheduleTimers(
              q,
              [
                {
                  subjectKind: 'incident',
                  subjectId: incident.id,
                  kind: 'resolved_notice',
                  dueAt: notifyAfter,
                  payload: { escalation: Number(last.id), prev_state: last.state, resolved_at: now },
                  dedupKey: `esc:${last.id}:resolved-notice:${now}`,
                },
              ],
              now,
            );
          } else if (notifyAfter <= now) await this.#tellResolved(q, infoOf(incident), now);
          await this.#releaseInhibited(q, cfg, incident.id, now);
          break;
        }
        default:
          break; // flapping marks and notes never start paging
      }
    }
  }

  async #current(q: Queryable, incidentId: number): Promise<EscRow | null> {
    const r = await q.query<EscRow>(
      `SELECT ${ESC_COLS} FROM escalations WHERE subject_kind = 'incident' AND subject_id = $1 AND state <> 'resolved' ORDER BY id DESC LIMIT 1`,
      [incidentId],
    );
    return r.rows[0] ?? null;
  }

  async #start(q: Queryable, cfg: EscalationConfig, inc: IncidentInfo, now: number): Promise<void> {
    const policy = matchPolicy(cfg.policies ?? [], inc);
    if (!policy) return;
    const snap = snapshotPolicy(policy);
    const labels = subjectLabels(inc);
    const silence = silencing(await activeSilences(q, cfg, now), labels);
    const cause = silence ? null : await this.#findCause(q, cfg, inc, labels);
    let state: 'active' | 'silenced' | 'inhibited' | 'grouped' = silence ? 'silenced' : cause ? 'inhibited' : 'active';
    const storm = cfg.storm_guard;
    const windowMs = storm ? (parseDuration(storm.window) ?? 0) : 0;
    if (state === 'active' && storm) {
      const r = await q.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM escalations WHERE subject_kind = 'incident' AND started_at > $1 AND state NOT IN ('silenced', 'inhibited')`,
        [new Date(now - windowMs).toISOString()],
      );
      if (Number(r.rows[0]!.n) >= storm.max_incidents) state = 'grouped';
    }
    const heldBy = silence
      ? { silence: silence.id, reason: silence.reason, until: silence.endsAt }
      : cause
        ? { incident: cause.id, rule: cause.rule }
        : state === 'grouped'
          ? { storm: Math.floor(now / windowMs) }
          : {};
    const ins = await q.query<{ id: number }>(
      `INSERT INTO escalations (subject_kind, subject_id, policy_name, snapshot, state, started_at, held_by, updated_at)
       VALUES ('incident', $1, $2, $3::jsonb, $4, $5, $6::jsonb, $5) RETURNING id`,
      [inc.id, snap.policy, JSON.stringify(snap), state, new Date(now).toISOString(), JSON.stringify(heldBy)],
    );
    const escId = Number(ins.rows[0]!.id);
    if (state === 'silenced') {
      await scheduleTimers(q, [{ subjectKind: 'incident', subjectId: inc.id, kind: 'silence_end', dueAt: silence!.endsAt, payload: { escalation: escId }, dedupKey: `esc:${escId}:silence:${silence!.endsAt}` }], now);
    } else if (state === 'grouped') {
      await this.#stormPage(q, cfg, storm!.notify, windowMs, now);
    } else if (state === 'active') {
      await this.#activate(q, cfg, escId, snap, inc, now);
    }
  }

  /** Start the clocks: deadlines as timers, steps that are due now fired inline, the next step as a timer. */
  async #activate(q: Queryable, cfg: EscalationConfig, escId: number, snap: LadderSnapshot, inc: IncidentInfo, now: number): Promise<void> {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const ackDue = snap.ackMs === null ? null : now + snap.ackMs;
    const resolveDue = snap.resolveMs === null ? null : now + snap.resolveMs;
    await q.query(`UPDATE escalations SET state = 'active', started_at = $2, ack_due_at = $3, resolve_due_at = $4, updated_at = $2 WHERE id = $1`, [
      escId,
      iso(now),
      iso(ackDue),
      iso(resolveDue),
    ]);
    const timers = [];
    if (ackDue !== null) timers.push({ subjectKind: 'incident', subjectId: inc.id, kind: 'ack_deadline', dueAt: ackDue, payload: { escalation: escId }, dedupKey: `esc:${escId}:ack` });
    if (resolveDue !== null) timers.push({ subjectKind: 'incident', subjectId: inc.id, kind: 'resolve_deadline', dueAt: resolveDue, payload: { escalation: escId }, dedupKey: `esc:${escId}:resolve` });
    await scheduleTimers(q, timers, now);
    await this.#advance(q, cfg, escId, snap, inc, now, { round: 0, step: 0 });
  }

  /** Fire `at` and every following step already due; schedule the first one that is not. */
  async #advance(q: Queryable, cfg: EscalationConfig, escId: number, snap: LadderSnapshot, inc: IncidentInfo, startedAt: number, at: { round: number; step: number } | null): Promise<void> {
    const now = this.#deps.clock.now();
    while (at && stepDueAt(snap, startedAt, at.round, at.step) <= now) {
      await this.#fireStep(q, cfg, escId, snap, inc, at.round, at.step, now);
      at = nextStep(snap, at.round, at.step);
    }
    if (at) {
      await scheduleTimers(
        q,
        [{ subjectKind: 'incident', subjectId: inc.id, kind: 'step', dueAt: stepDueAt(snap, startedAt, at.round, at.step), payload: { escalation: escId, ...at }, dedupKey: `esc:${escId}:r${at.round}:s${at.step}` }],
        now,
      );
    }
  }

  async #fireStep(q: Queryable, cfg: EscalationConfig, escId: number, snap: LadderSnapshot, inc: IncidentInfo, round: number, step: number, now: number): Promise<void> {
    const msg: MessageData = { kind: 'page', incident: stripStatus(inc), policy: snap.policy, step, round };
    await this.#notify(q, cfg, snap.steps[step]!.notify, `esc:${escId}:r${round}:s${step}`, inc.id, msg, now);
    await q.query(`UPDATE escalations SET steps_fired = steps_fired + 1, updated_at = $2 WHERE id = $1`, [escId, new Date(now).toISOString()]);
    this.#steps?.inc({ policy: snap.policy });
  }

  async #notify(q: Queryable, cfg: EscalationConfig, targets: Target[], keyBase: string, incidentId: number | null, msg: MessageData, now: number): Promise<void> {
    const { deliveries, problems } = resolveTargets(cfg, targets, now);
    for (const p of problems) this.#log.warn('escalation target unreachable', { problem: p, key: keyBase });
    const base = cfg.public_url?.replace(/\/+$/, '');
    const ttl = parseDuration(cfg.ack_links?.ttl ?? '24h') ?? 86_400_000;
    const rows: NewNotification[] = deliveries.map((d) => {
      const m: MessageData = { ...msg };
      if (base && incidentId !== null) {
        m.incidentUrl = `${base}/incidents/${incidentId}`;
        if (cfg.ack_links && msg.kind !== 'resolved') m.ackUrl = `${base}/ack/${signAckToken(cfg.ack_links.secret, incidentId, now + ttl, randomBytes(12).toString('base64url'))}`;
      }
      return {
        key: `${keyBase}:${d.channel}:${d.recipient.person ?? '-'}`,
        subjectKind: 'incident',
        subjectId: incidentId ?? 0,
        channel: d.channel,
        recipient: d.recipient,
        lang: d.lang,
        message: m,
      };
    });
    if ((await enqueueNotifications(q, rows, now)) > 0) this.#deps.onDecided?.();
  }

  async #stormPage(q: Queryable, cfg: EscalationConfig, targets: Target[], windowMs: number, now: number): Promise<void> {
    const bucket = Math.floor(now / windowMs);
    const r = await q.query<{ n: number; systems: string[] }>(
      `SELECT count(*)::int AS n, coalesce(jsonb_agg(DISTINCT i.system), '[]'::jsonb) AS systems FROM escalations e JOIN incidents i ON i.id = e.subject_id
        WHERE e.subject_kind = 'incident' AND e.started_at > $1 AND e.state NOT IN ('silenced', 'inhibited')`,
      [new Date(now - windowMs).toISOString()],
    );
    const msg: MessageData = { kind: 'storm', storm: { count: Number(r.rows[0]!.n), windowMs, systems: r.rows[0]!.systems } };
    await this.#notify(q, cfg, targets, `storm:${bucket}`, null, msg, now);
  }

  async #findCause(q: Queryable, cfg: EscalationConfig, inc: IncidentInfo, labels: Record<string, string>): Promise<{ id: number; rule: number } | null> {
    const rules = (cfg.inhibit ?? []).map((r, i) => ({ ...r, i })).filter((r) => matchesLabels(r.suppress, labels));
    if (!rules.length) return null;
    const r = await q.query<Record<string, unknown>>(
      `SELECT ${INC_COLS} FROM incidents WHERE status <> 'resolved' AND id <> $1 ORDER BY id LIMIT 2000`,
      [inc.id],
    );
    for (const rule of rules) {
      for (const x of r.rows) {
        const other = { system: String(x.system), check: String(x.check_name), source: String(x.source), severity: String(x.severity), labels: (x.labels as Record<string, string>) ?? {} };
        if (matchesLabels(rule.cause as Matchers, subjectLabels(other)) && !matchesLabels(rule.suppress, subjectLabels(other))) return { id: Number(x.id), rule: rule.i };
      }
    }
    return null;
  }

  /** The settle period passed and the incident is still resolved: tell the people paged. */
  async #onResolvedNotice(q: Queryable, t: TimerRow, now: number): Promise<void> {
    // A reopen cancels this timer; the status check covers a reopen that did not go through the hook.
    const inc = await loadIncident(q, t.subjectId);
    if (inc?.status === 'resolved') await this.#tellResolved(q, inc, now);
  }

  /**
   * A reopen while "resolved" is still held: take the held message back and put the escalation back as it was
   * before the resolve. An active ladder goes on with its next step and its original deadlines (the sweep fires
   * any that fell due meanwhile). Returns false when nothing was held.
   */
  async #resumeHeld(q: Queryable, incident: IncidentState, now: number): Promise<boolean> {
    const held = await q.query<{ payload: Record<string, unknown> }>(
      `UPDATE timers SET state = 'cancelled' WHERE subject_kind = 'incident' AND subject_id = $1 AND kind = 'resolved_notice' AND state = 'pending' RETURNING payload`,
      [incident.id],
    );
    const p = held.rows[0]?.payload;
    if (!p) return false;
    const x = await this.#lockEscalation(q, p.escalation);
    if (!x || x.e.state !== 'resolved') return true;
    const prev = String(p.prev_state);
    const escId = Number(x.e.id);
    await q.query(`UPDATE escalations SET state = $2, updated_at = $3 WHERE id = $1`, [escId, prev, new Date(now).toISOString()]);
    // The resolve cancelled this escalation's pending timers; they come back with their original due times, and
    // the sweep fires any that fell due meanwhile. (Their idempotency keys stay theirs: nothing pages twice.)
    const kinds = prev === 'active' ? ['step', 'ack_deadline', 'resolve_deadline'] : prev === 'acknowledged' ? ['resolve_deadline'] : [];
    if (kinds.length) {
      await q.query(
        `UPDATE timers SET state = 'pending' WHERE subject_kind = 'incident' AND subject_id = $1 AND state = 'cancelled'
           AND payload->>'escalation' = $2 AND kind IN (SELECT jsonb_array_elements_text($3::jsonb))`,
        [incident.id, String(escId), JSON.stringify(kinds)],
      );
    }
    // A silence may have ended meanwhile: its handler checks again and activates or waits.
    if (prev === 'silenced') {
      await scheduleTimers(q, [{ subjectKind: 'incident', subjectId: incident.id, kind: 'silence_end', dueAt: now, payload: { escalation: escId }, dedupKey: `esc:${escId}:silence:resumed:${now}` }], now);
    }
    return true;
  }

  /** Everyone who was paged for this episode hears that it is over, on the channel that reached them. */
  async #tellResolved(q: Queryable, incident: IncidentInfo, now: number): Promise<void> {
    const e = await q.query<{ id: number }>(`SELECT id FROM escalations WHERE subject_kind = 'incident' AND subject_id = $1 ORDER BY id DESC LIMIT 1`, [incident.id]);
    const escId = e.rows[0]?.id;
    if (escId === undefined) return;
    const r = await q.query<{ channel: string; recipient: NewNotification['recipient']; lang: NewNotification['lang'] }>(
      `SELECT DISTINCT ON (channel, recipient) channel, recipient, lang FROM outbox
        WHERE subject_kind = 'incident' AND subject_id = $1 AND state = 'sent' AND message->>'kind' = 'page' AND idempotency_key LIKE $2
        ORDER BY channel, recipient, id DESC`,
      [incident.id, `esc:${escId}:%`],
    );
    const msg: MessageData = { kind: 'resolved', incident: stripStatus(incident) };
    await enqueueNotifications(
      q,
      r.rows.map((x) => ({
        key: `esc:${escId}:resolved:${x.channel}:${x.recipient.person ?? '-'}`,
        subjectKind: 'incident',
        subjectId: incident.id,
        channel: x.channel,
        recipient: x.recipient,
        lang: x.lang,
        message: msg,
      })),
      now,
    );
  }

  /** The cause resolved: incidents it held that are still unresolved start their own ladders now. */
  async #releaseInhibited(q: Queryable, cfg: EscalationConfig, causeId: number, now: number): Promise<void> {
    const r = await q.query<EscRow>(
      `SELECT ${ESC_COLS} FROM escalations WHERE state = 'inhibited' AND held_by->>'incident' = $1 FOR UPDATE`,
      [String(causeId)],
    );
    for (const e of r.rows) {
      const inc = await loadIncident(q, Number(e.subject_id));
      if (inc && inc.status === 'open') await this.#activate(q, cfg, Number(e.id), e.snapshot, inc, now);
    }
  }

  async #lockEscalation(q: Queryable, id: unknown): Promise<{ e: EscRow; inc: IncidentInfo } | null> {
    const r = await q.query<EscRow>(`SELECT ${ESC_COLS} FROM escalations WHERE id = $1 FOR UPDATE`, [Number(id)]);
    const e = r.rows[0];
    if (!e) return null;
    const inc = await loadIncident(q, Number(e.subject_id));
    return inc ? { e, inc } : null;
  }

  async #onStepTimer(q: Queryable, t: TimerRow, now: number): Promise<void> {
    const x = await this.#lockEscalation(q, t.payload.escalation);
    // Acknowledged or resolved (by any path) since the timer was set: the ladder stops here.
    if (!x || x.e.state !== 'active' || x.inc.status !== 'open') return;
    const at = { round: Number(t.payload.round ?? 0), step: Number(t.payload.step ?? 0) };
    await this.#advance(q, this.#deps.config(), Number(x.e.id), x.e.snapshot, x.inc, new Date(x.e.started_at).getTime(), at);
    void now;
  }

  async #onDeadline(q: Queryable, t: TimerRow, now: number, deadline: 'ack' | 'resolve'): Promise<void> {
    const x = await this.#lockEscalation(q, t.payload.escalation);
    if (!x) return;
    const missed = deadline === 'ack' ? x.e.state === 'active' && x.inc.status === 'open' : x.e.state !== 'resolved' && x.inc.status !== 'resolved';
    if (!missed || (deadline === 'ack' ? x.e.ack_breached_at : x.e.resolve_breached_at) !== null) return;
    await q.query(`UPDATE escalations SET ${deadline}_breached_at = $2, updated_at = $2 WHERE id = $1`, [Number(x.e.id), new Date(now).toISOString()]);
    this.#pendingBreaches.push({ policy: x.e.policy_name, deadline });
    if (x.e.snapshot.onBreach.length) {
      const msg: MessageData = { kind: 'breach', breach: deadline, incident: stripStatus(x.inc), policy: x.e.policy_name };
      await this.#notify(q, this.#deps.config(), x.e.snapshot.onBreach, `esc:${x.e.id}:breach:${deadline}`, x.inc.id, msg, now);
    }
  }

  async #onSilenceEnd(q: Queryable, t: TimerRow, now: number): Promise<void> {
    const x = await this.#lockEscalation(q, t.payload.escalation);
    if (!x || x.e.state !== 'silenced' || x.inc.status !== 'open') return;
    const cfg = this.#deps.config();
    const still = silencing(await activeSilences(q, cfg, now), subjectLabels(x.inc));
    if (still) {
      await scheduleTimers(q, [{ subjectKind: 'incident', subjectId: x.inc.id, kind: 'silence_end', dueAt: still.endsAt, payload: { escalation: x.e.id }, dedupKey: `esc:${x.e.id}:silence:${still.endsAt}` }], now);
      return;
    }
    await this.#activate(q, cfg, Number(x.e.id), x.e.snapshot, x.inc, now);
  }
}

function stripStatus(inc: IncidentInfo): NonNullable<MessageData['incident']> {
  const { status: _status, ...rest } = inc;
  return rest;
}
