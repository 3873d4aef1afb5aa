import type { Clock } from '../clock.ts';
import { parseDuration } from '../clock.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Queryable, Store } from '../store/store.ts';
import {
  dateOf, formatDueRule, formatLocalShort, parseDueRule, toLocal, warningTimes, weekdayOf, type DueRule, type WorkingCalendar,
} from './calendar.ts';
import type { RequestsConfig, Role } from './config.ts';
import { DUE_RULES, EXTENSIONS, type ExtensionReason, type Intake, type Lang } from './forms.ts';
import { answerEmail, receiptEmail } from './messages.ts';
import type { RequestMetrics } from './metrics.ts';
import { requestCountsByIncident } from './queries.ts';
import { REQUEST_COLUMNS, iso, ms, toPublic, type PublicRequest, type RequestRow, type RequestStatus } from './rows.ts';

// Requests: intake, lifecycle, deadlines, extensions, personal data and its retention. Deadlines are rows
// (due_at, warn_at) that the escalation engine reads; the service never schedules timers.

export interface StoredAttachment {
  storedName: string;
  originalName: string;
  mediaType: string;
  size: number;
  sha256: string;
}

/** A mail to the user: at receipt (number, deadline, rule, status link) and with the answer. */
export interface RequestMail {
  kind: 'receipt' | 'answer';
  requestId: number;
  number: string;
  to: string;
  lang: Lang;
  subject: string;
  text: string;
  /** Idempotency key of the mail: one receipt per request, one mail per answer given. */
  key: string;
}

/** What the outage detector needs of a request just received. */
export interface ReceivedRequest {
  id: number;
  number: string;
  kind: 'trouble' | 'access';
  system: string;
  subject: string;
  body: string;
  receivedAt: number;
  incidentId: number | null;
}

/**
 * A request's deadline was set or moved (intake, extension, calendar reload, reopen) or its clock stopped (answered,
 * closed: dueAt null). Delivered inside the same transaction, so the lead can wire it to the escalation timers
 * (cancel the request's pending timers, schedule warnings and the breach keyed by `version`).
 */
export interface DeadlineChange {
  requestId: number;
  number: string;
  kind: 'trouble' | 'access';
  form: string;
  system: string;
  dueAt: number | null;
  warnAt: Array<{ fraction: number; at: number }>;
  version: number;
}

export interface RequestServiceDeps {
  store: Store;
  clock: Clock;
  /** The current calendar (it is reloadable: call recomputeDeadlines after a reload). */
  calendar: () => WorkingCalendar;
  config: () => RequestsConfig;
  logger: Logger;
  /** Runs inside the transaction that decided the mail (receipt, answer): the app wires it to the outbox. */
  onMail?: (q: Queryable, mail: RequestMail) => Promise<void>;
  /** Runs inside the intake transaction: a user report is a source of failure (the app wires the outage rule). */
  onReceived?: (q: Queryable, r: ReceivedRequest) => Promise<void>;
  /** The signed status link for a request, given in its mails. */
  statusUrl?: (number: string) => string | undefined;
  /** The link to an incident, for log lines that tell the story (`<public_url>/incidents/<id>`). */
  incidentUrl?: (id: number) => string;
  /** Removes an attachment file (retention); failures are logged and retried at the next sweep. */
  removeAttachment?: (storedName: string) => Promise<void>;
  metrics?: RequestMetrics;
  onDeadline?: (q: Queryable, change: DeadlineChange) => Promise<void>;
}

export type Action = 'acknowledge' | 'start' | 'answer' | 'close' | 'reopen';

/** The lifecycle: received -> acknowledged -> in_progress -> answered -> closed (answered may reopen). */
export const TRANSITIONS: Record<Action, { from: readonly RequestStatus[]; to: RequestStatus }> = {
  acknowledge: { from: ['received'], to: 'acknowledged' },
  start: { from: ['acknowledged'], to: 'in_progress' },
  answer: { from: ['acknowledged', 'in_progress'], to: 'answered' },
  close: { from: ['answered'], to: 'closed' },
  reopen: { from: ['answered'], to: 'in_progress' },
};

export interface RequestFilter {
  status?: RequestStatus | 'open';
  system?: string;
  kind?: 'trouble' | 'access';
  overdue?: boolean;
  before?: number;
  limit?: number;
}

const OPEN: RequestStatus[] = ['received', 'acknowledged', 'in_progress'];

export class RequestService {
  readonly #d: RequestServiceDeps;

  constructor(deps: RequestServiceDeps) {
    this.#d = deps;
  }

  #systemName(id: string, lang: Lang): string {
    const sys = this.#d.config().systems.find((s) => s.id === id);
    return sys ? (lang === 'kk' ? sys.name_kk : sys.name_ru) : id;
  }

  /** Store a validated intake with its (already written) attachments in one transaction. */
  async intake(input: Intake, opts: { actor?: string; attachments?: StoredAttachment[] } = {}): Promise<PublicRequest> {
    const now = this.#d.clock.now();
    const rule = DUE_RULES[input.form];
    const dl = this.#deadline(now, rule);
    const row = await this.#d.store.tx(async (q) => {
      const idr = await q.query<{ id: number }>(`SELECT nextval(pg_get_serial_sequence('requests', 'id')) AS id`);
      const id = Number(idr.rows[0]!.id);
      const number = `R-${dateOf(toLocal(now).day).slice(0, 4)}-${String(id).padStart(6, '0')}`;
      let incidentId: number | null = null;
      if (input.kind === 'trouble') {
        const inc = await q.query<{ id: number }>(
          `SELECT id FROM incidents WHERE system = $1 AND status <> 'resolved' ORDER BY opened_at DESC, id DESC LIMIT 1`, [input.system]);
        incidentId = inc.rows[0] ? Number(inc.rows[0].id) : null;
      }
      const r = await q.query<RequestRow>(
        `INSERT INTO requests (id, number, kind, form, system, lang, channel, filed_by, subject, body, full_name, iin, login,
           position, phone, email, contact, access, status, received_at, d0, clock_start_at, due_rule, due_at, warn_at,
           incident_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::jsonb, 'received', $19, $20::date,
           $21, $22, $23, $24::jsonb, $25, $19)
         RETURNING ${REQUEST_COLUMNS}`,
        [id, number, input.kind, input.form, input.system, input.lang, input.channel, opts.actor ?? null, input.subject, input.body,
          input.full_name, input.iin, input.login, input.position, input.phone, input.email, input.contact,
          input.access ? JSON.stringify(input.access) : null, new Date(now).toISOString(), dl.d0, new Date(dl.startAt).toISOString(),
          formatDueRule(rule), new Date(dl.dueAt).toISOString(), JSON.stringify(dl.warnAt), incidentId],
      );
      for (const a of opts.attachments ?? []) {
        await q.query(
          `INSERT INTO request_attachments (request_id, stored_name, original_name, media_type, size_bytes, sha256, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [id, a.storedName, a.originalName, a.mediaType, a.size, a.sha256, new Date(now).toISOString()],
        );
      }
      await this.#deadlineChanged(q, r.rows[0]!, false);
      await this.#event(q, id, now, 'received', opts.actor ?? input.channel, {
        channel: input.channel, attachments: opts.attachments?.length ?? 0, incidentId, dueAt: new Date(dl.dueAt).toISOString(),
      });
      const row = r.rows[0]!;
      await this.#d.onReceived?.(q, { id, number, kind: input.kind, system: input.system, subject: input.subject, body: input.body, receivedAt: now, incidentId });
      if (row.email && this.#d.onMail) {
        const local = toLocal(dl.dueAt);
        const mail = receiptEmail({
          lang: row.lang, number, systemName: this.#systemName(row.system, row.lang), dueLocal: formatLocalShort(dl.dueAt).slice(0, 16),
          dueWeekday: weekdayOf(local.day), rule: formatDueRule(rule), form: row.form, statusUrl: this.#d.statusUrl?.(number),
        });
        await this.#d.onMail(q, { kind: 'receipt', requestId: id, number, to: row.email, lang: row.lang, key: `request-receipt:${id}`, ...mail });
      }
      return row;
    });
    for (const w of dl.warnings) this.#d.logger.warn(w, { request: row.number });
    this.#d.metrics?.received(row.form, row.channel);
    this.#d.logger.info(`request ${row.number} received (${row.system})${this.#link(row.incident_id)}`, { request: row.number, system: row.system, form: row.form, ...this.#incidentMeta(row.incident_id) });
    return this.#view(row, 'admin', now);
  }

  async get(id: number, role: Role): Promise<PublicRequest & { events: unknown[]; extensions: unknown[]; attachments: unknown[] }> {
    const q = this.#d.store;
    const r = await q.query<RequestRow>(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = $1`, [id]);
    if (!r.rows[0]) throw notFound(`request ${id}`);
    const ev = await q.query<{ at: Date; kind: string; actor: string; detail: unknown }>(
      'SELECT at, kind, actor, detail FROM request_events WHERE request_id = $1 ORDER BY id', [id]);
    const ex = await q.query<{ at: Date; actor: string; reason: string; working_days: number; note: string; old_due_at: Date; new_due_at: Date }>(
      'SELECT at, actor, reason, working_days, note, old_due_at, new_due_at FROM request_extensions WHERE request_id = $1 ORDER BY id', [id]);
    const at = await q.query<{ id: number; original_name: string | null; media_type: string; size_bytes: number; sha256: string }>(
      'SELECT id, original_name, media_type, size_bytes, sha256 FROM request_attachments WHERE request_id = $1 ORDER BY id', [id]);
    const whole = this.#d.config().personal_data_roles.includes(role);
    return {
      ...this.#view(r.rows[0], role, this.#d.clock.now()),
      events: ev.rows.map((e) => ({ at: iso(e.at), kind: e.kind, actor: e.actor, detail: e.detail })),
      extensions: ex.rows.map((e) => ({
        at: iso(e.at), actor: e.actor, reason: e.reason, workingDays: e.working_days, note: e.note, oldDueAt: iso(e.old_due_at), newDueAt: iso(e.new_due_at),
      })),
      attachments: at.rows.map((a) => ({
        id: Number(a.id), name: whole ? a.original_name : a.original_name === null ? null : '***', mediaType: a.media_type, size: a.size_bytes, sha256: a.sha256,
      })),
    };
  }

  async list(f: RequestFilter, role: Role): Promise<{ items: PublicRequest[]; next: number | null }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      args.push(v);
      where.push(sql.replaceAll('?', `$${args.length}`));
    };
    if (f.status === 'open') where.push(`status IN ('received', 'acknowledged', 'in_progress')`);
    else if (f.status) add('status = ?', f.status);
    if (f.system) add('system = ?', f.system);
    if (f.kind) add('kind = ?', f.kind);
    if (f.overdue) add(`(CASE WHEN answered_at IS NULL THEN ?::timestamptz ELSE answered_at END) > due_at`, new Date(this.#d.clock.now()).toISOString());
    if (f.before !== undefined) add('id < ?', f.before);
    const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
    const r = await this.#d.store.query<RequestRow>(
      `SELECT ${REQUEST_COLUMNS} FROM requests ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${limit + 1}`, args);
    const now = this.#d.clock.now();
    const items = r.rows.slice(0, limit).map((row) => this.#view(row, role, now));
    return { items, next: r.rows.length > limit ? items[items.length - 1]!.id : null };
  }

  /** Move a request along its lifecycle. `answer` needs the answer text (and a decision for access requests). */
  async transition(id: number, action: Action, actor: string, body: { answer?: string; decision?: 'granted' | 'refused' } = {}): Promise<PublicRequest> {
    const t = TRANSITIONS[action];
    const now = this.#d.clock.now();
    const nowIso = new Date(now).toISOString();
    const row = await this.#d.store.tx(async (q) => {
      const cur = await this.#lock(q, id);
      if (!t.from.includes(cur.status)) throw conflict(`request ${cur.number} is ${cur.status}; ${action} needs ${t.from.join(' or ')}`);
      const sets = ['status = $2', 'updated_at = $3'];
      const args: unknown[] = [id, t.to, nowIso];
      const put = (col: string, v: unknown) => {
        args.push(v);
        sets.push(`${col} = $${args.length}`);
      };
      if (action === 'acknowledge') put('acknowledged_at', nowIso);
      if (action === 'answer') {
        const text = body.answer?.trim();
        if (!text) throw invalid('answer: the answer text is required');
        if (text.length > 10000) throw invalid('answer: at most 10000 characters');
        if (cur.kind === 'access' && body.decision !== 'granted' && body.decision !== 'refused') {
          throw invalid('decision: an access request is answered with decision "granted" or "refused"');
        }
        put('answer', text);
        put('answered_at', nowIso);
        if (body.decision) put('decision', body.decision);
      }
      if (action === 'reopen') put('answered_at', null);
      if (action === 'close') put('closed_at', nowIso);
      const r = await q.query<RequestRow>(`UPDATE requests SET ${sets.join(', ')} WHERE id = $1 RETURNING ${REQUEST_COLUMNS}`, args);
      const updated = r.rows[0]!;
      await this.#event(q, id, now, action, actor, { from: cur.status, to: t.to, ...(body.decision ? { decision: body.decision } : {}) });
      if (action === 'answer' || action === 'reopen') await this.#deadlineChanged(q, updated, action === 'answer');
      if (action === 'answer' && updated.email && this.#d.onMail) {
        // The answer reaches the user in the form's language; an access request's decision goes to the requester's
        // (corporate) address given on the form (002 §17).
        const mail = answerEmail({
          lang: updated.lang, number: updated.number, systemName: this.#systemName(updated.system, updated.lang), answer: updated.answer ?? '',
          decision: updated.decision as 'granted' | 'refused' | null, statusUrl: this.#d.statusUrl?.(updated.number),
        });
        await this.#d.onMail(q, { kind: 'answer', requestId: id, number: updated.number, to: updated.email, lang: updated.lang, key: `request-answer:${id}:${now}`, ...mail });
      }
      return updated;
    });
    this.#d.logger.info(`request ${row.number} ${row.status}${this.#link(row.incident_id)}`, { request: row.number, action, actor, status: row.status, ...this.#incidentMeta(row.incident_id) });
    return this.#view(row, 'admin', now);
  }

  /** Extend the deadline (NQS only, 004 §16) to 10 or 20 working days from the original D0, with a recorded reason. */
  async extend(id: number, actor: string, reason: ExtensionReason, note: string): Promise<PublicRequest> {
    const now = this.#d.clock.now();
    const trimmed = note?.trim() ?? '';
    if (!trimmed) throw invalid('note: say why the deadline is extended');
    if (trimmed.length > 2000) throw invalid('note: at most 2000 characters');
    const row = await this.#d.store.tx(async (q) => {
      const cur = await this.#lock(q, id);
      const table = EXTENSIONS[cur.form];
      if (!table) throw conflict(`request ${cur.number}: the rules allow no extension for the ${cur.form} form`);
      const days = table[reason];
      if (!OPEN.includes(cur.status)) throw conflict(`request ${cur.number} is ${cur.status}; only an open request can be extended`);
      if (cur.extended_to !== null && cur.extended_to >= days) throw conflict(`request ${cur.number} is already extended to ${cur.extended_to} working days`);
      const ext = this.#d.calendar().extendedDue(cur.d0, days);
      for (const w of ext.warnings) this.#d.logger.warn(w, { request: cur.number });
      const warnAt = this.#warnings(ms(cur.clock_start_at), ext.dueAt);
      const r = await q.query<RequestRow>(
        `UPDATE requests SET extended_to = $2, due_at = $3, warn_at = $4::jsonb, deadline_version = deadline_version + 1, updated_at = $5
         WHERE id = $1 RETURNING ${REQUEST_COLUMNS}`,
        [id, days, new Date(ext.dueAt).toISOString(), JSON.stringify(warnAt), new Date(now).toISOString()]);
      await q.query(
        `INSERT INTO request_extensions (request_id, at, actor, reason, working_days, note, old_due_at, new_due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [id, new Date(now).toISOString(), actor, reason, days, trimmed, iso(cur.due_at), new Date(ext.dueAt).toISOString()]);
      await this.#event(q, id, now, 'extended', actor, { reason, workingDays: days, dueAt: new Date(ext.dueAt).toISOString() });
      await this.#deadlineChanged(q, r.rows[0]!, false);
      return r.rows[0]!;
    });
    return this.#view(row, 'admin', now);
  }

  /** After a calendar reload: recompute every open deadline; returns how many changed. */
  async recomputeDeadlines(actor = 'calendar-reload'): Promise<number> {
    const now = this.#d.clock.now();
    const r = await this.#d.store.query<RequestRow>(
      `SELECT ${REQUEST_COLUMNS} FROM requests WHERE status IN ('received', 'acknowledged', 'in_progress') ORDER BY id`);
    let changed = 0;
    for (const cur of r.rows) {
      const rule = parseDueRule(cur.due_rule);
      if (!rule) continue;
      const dl = this.#deadline(ms(cur.received_at), rule);
      let dueAt = dl.dueAt;
      if (cur.extended_to !== null) dueAt = this.#d.calendar().extendedDue(dl.d0, cur.extended_to).dueAt;
      if (dueAt === ms(cur.due_at) && dl.d0 === cur.d0) continue;
      const warnAt = this.#warnings(dl.startAt, dueAt);
      const done = await this.#d.store.tx(async (q) => {
        const u = await q.query<RequestRow>(
          `UPDATE requests SET d0 = $2::date, clock_start_at = $3, due_at = $4, warn_at = $5::jsonb, deadline_version = deadline_version + 1,
             updated_at = $6 WHERE id = $1 AND deadline_version = $7 AND status IN ('received', 'acknowledged', 'in_progress')
           RETURNING ${REQUEST_COLUMNS}`,
          [cur.id, dl.d0, new Date(dl.startAt).toISOString(), new Date(dueAt).toISOString(), JSON.stringify(warnAt), new Date(now).toISOString(), cur.deadline_version]);
        if (!u.rows[0]) return false; // changed meanwhile (extended, answered): that change wins
        await this.#event(q, Number(cur.id), now, 'deadline_recomputed', actor, { oldDueAt: iso(cur.due_at), dueAt: new Date(dueAt).toISOString() });
        await this.#deadlineChanged(q, u.rows[0], false);
        return true;
      });
      if (done) changed++;
    }
    if (changed) this.#d.logger.info('request deadlines recomputed', { changed });
    return changed;
  }

  /**
   * Retention: erase the personal data of requests closed longer than `retention` ago; the request stays, anonymised
   * (status, system, dates and deadline kept; texts and contacts gone), and its attachment files are removed.
   */
  async eraseExpired(): Promise<{ erased: number }> {
    const now = this.#d.clock.now();
    const keep = parseDuration(this.#d.config().retention);
    if (keep === undefined) throw invalid(`requests.retention ${JSON.stringify(this.#d.config().retention)} is not a duration`);
    const cutoff = new Date(now - keep).toISOString();
    const files = await this.#d.store.tx(async (q) => {
      const ids = await q.query<{ id: number }>(
        `SELECT id FROM requests WHERE personal_erased_at IS NULL AND closed_at IS NOT NULL AND closed_at < $1 ORDER BY id LIMIT 1000 FOR UPDATE`,
        [cutoff]);
      if (!ids.rows.length) return { erased: 0, names: [] as string[] };
      const list = JSON.stringify(ids.rows.map((r) => Number(r.id)));
      await q.query(
        `UPDATE requests SET full_name = NULL, iin = NULL, login = NULL, position = NULL, phone = NULL, email = NULL, contact = NULL,
           subject = NULL, body = NULL, answer = NULL,
           access = CASE WHEN access IS NULL THEN NULL ELSE jsonb_build_object('action', access->'action', 'systems', access->'systems') END,
           personal_erased_at = $2, updated_at = $2
         WHERE id IN (SELECT (jsonb_array_elements_text($1::jsonb))::bigint)`,
        [list, new Date(now).toISOString()]);
      const att = await q.query<{ stored_name: string }>(
        `UPDATE request_attachments SET original_name = NULL, erased_at = $2
         WHERE request_id IN (SELECT (jsonb_array_elements_text($1::jsonb))::bigint) AND erased_at IS NULL RETURNING stored_name`,
        [list, new Date(now).toISOString()]);
      for (const r of ids.rows) await this.#event(q, Number(r.id), now, 'personal_data_erased', 'retention', {});
      return { erased: ids.rows.length, names: att.rows.map((a) => a.stored_name) };
    });
    for (const name of files.names) {
      await this.#d.removeAttachment?.(name).catch((err: unknown) =>
        this.#d.logger.error('cannot remove an erased attachment', { file: name, error: err }));
    }
    if (files.erased) this.#d.logger.info('request personal data erased', { requests: files.erased });
    return { erased: files.erased };
  }

  /** An attachment's stored name and type (not yet erased); 404 otherwise. Reading it is for personal-data roles. */
  async attachment(requestId: number, attachmentId: number): Promise<{ storedName: string; originalName: string | null; mediaType: string; size: number }> {
    const r = await this.#d.store.query<{ stored_name: string; original_name: string | null; media_type: string; size_bytes: number }>(
      `SELECT stored_name, original_name, media_type, size_bytes FROM request_attachments
       WHERE request_id = $1 AND id = $2 AND erased_at IS NULL`, [requestId, attachmentId]);
    const a = r.rows[0];
    if (!a) throw notFound(`attachment ${attachmentId} of request ${requestId}`);
    return { storedName: a.stored_name, originalName: a.original_name, mediaType: a.media_type, size: Number(a.size_bytes) };
  }

  /** How many requests each incident has (the users it hurts). */
  async requestCountsByIncident(incidentIds: number[]): Promise<Map<number, number>> {
    return requestCountsByIncident(this.#d.store, incidentIds);
  }

  #deadline(receivedAt: number, rule: DueRule) {
    const due = this.#d.calendar().due(receivedAt, rule, this.#d.config().calendar_day_mode);
    return { ...due, warnAt: this.#warnings(due.startAt, due.dueAt) };
  }

  #warnings(startAt: number, dueAt: number): Array<{ fraction: number; at: string }> {
    const fr = this.#d.config().warn_fractions;
    return warningTimes(startAt, dueAt, fr).map((t, i) => ({ fraction: fr[i]!, at: new Date(t).toISOString() }));
  }

  async #deadlineChanged(q: Queryable, row: RequestRow, stopped: boolean): Promise<void> {
    if (!this.#d.onDeadline) return;
    await this.#d.onDeadline(q, {
      requestId: Number(row.id), number: row.number, kind: row.kind, form: row.form, system: row.system,
      dueAt: stopped ? null : ms(row.due_at),
      warnAt: stopped ? [] : row.warn_at.map((w) => ({ fraction: w.fraction, at: Date.parse(w.at) })),
      version: Number(row.deadline_version),
    });
  }

  #incidentMeta(id: number | null): Record<string, unknown> {
    if (id === null) return { incident: null };
    return { incident: Number(id), ...(this.#d.incidentUrl ? { url: this.#d.incidentUrl(Number(id)) } : {}) };
  }

  #link(id: number | null): string {
    if (id === null) return '';
    return `, incident ${Number(id)}${this.#d.incidentUrl ? ` ${this.#d.incidentUrl(Number(id))}` : ''}`;
  }

  async #lock(q: Queryable, id: number): Promise<RequestRow> {
    const r = await q.query<RequestRow>(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = $1 FOR UPDATE`, [id]);
    if (!r.rows[0]) throw notFound(`request ${id}`);
    return r.rows[0];
  }

  async #event(q: Queryable, id: number, at: number, kind: string, actor: string, detail: Record<string, unknown>): Promise<void> {
    await q.query('INSERT INTO request_events (request_id, at, kind, actor, detail) VALUES ($1, $2, $3, $4, $5::jsonb)',
      [id, new Date(at).toISOString(), kind, actor, JSON.stringify(detail)]);
  }

  #view(row: RequestRow, role: Role, now: number): PublicRequest {
    return toPublic(row, role, this.#d.config().personal_data_roles, now);
  }
}
