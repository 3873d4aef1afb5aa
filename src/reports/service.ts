import cron from 'node-cron';
import type { Clock } from '../clock.ts';
import { parseDuration } from '../clock.ts';
import { enqueueNotifications } from '../escalation/outbox.ts';
import { scheduleTimers, type TimerRow } from '../escalation/timers.ts';
import type { Logger } from '../log.ts';
import type { WorkingCalendar } from '../requests/calendar.ts';
import type { Signal } from '../signals/signal.ts';
import type { Queryable, Store } from '../store/store.ts';
import type { MaintenanceInfo, ProbeInfo } from './availability.ts';
import { buildReport, nqsDueAt, type BackupJobInfo, type ReportContext, type SystemInfo } from './build.ts';
import { REPORT_FORMATS, REPORT_KINDS, REPORT_LANGS, type ReportFormat, type ReportKind, type ReportLang, type ReportsConfig } from './config.ts';
import { t } from './i18n.ts';
import type { Report } from './model.ts';
import { htmlToPdf } from './pdf.ts';
import { parsePeriod, previousMonth, ReportInputError } from './period.ts';
import { CONTENT_TYPES, fileName, renderCsv, renderHtml, renderJson } from './render.ts';

// Reports on demand (CLI, API), kept in the archive, delivered monthly by e-mail through the outbox, and the
// NQS yearly analysis's deadline as durable timers that raise a signal (so it pages like any deadline).

export interface ReportOptions {
  kind: unknown;
  period: unknown;
  system?: unknown;
  format?: unknown;
  lang?: unknown;
  excludeMaintenance?: boolean;
  bom?: boolean;
  notes?: Partial<Record<'situation' | 'problems' | 'proposals', string>>;
}

export interface RenderedReport {
  report: Report;
  format: ReportFormat;
  lang: ReportLang;
  contentType: string;
  fileName: string;
  body: Buffer;
}

export interface ReportEnv {
  systems: SystemInfo[];
  probes: ProbeInfo[];
  maintenance: MaintenanceInfo[];
  calendar: WorkingCalendar;
  backups: BackupJobInfo[];
}

export interface ReportServiceDeps {
  store: Store;
  clock: Clock;
  version: string;
  config: () => ReportsConfig;
  env: () => ReportEnv;
  log?: Logger;
  /** The e-mail channel for deliveries (escalation config) and the public URL for download links. */
  mailChannel?: () => string | undefined;
  publicUrl?: () => string;
}

export interface ArchiveEntry {
  id: number;
  kind: string;
  period: string;
  system: string | null;
  format: string;
  lang: string;
  trigger: string;
  sha256: string;
  content_type: string;
  size_bytes: number;
  created_at: string;
  created_by: string;
}

const oneOf = <T extends string>(field: string, v: unknown, allowed: readonly T[], def: T): T => {
  if (v === undefined || v === null || v === '') return def;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new ReportInputError(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(typeof v === 'string' ? v.slice(0, 40) : v)}`);
};

export function parseKind(v: unknown): ReportKind {
  if (typeof v !== 'string' || !(REPORT_KINDS as readonly string[]).includes(v)) {
    throw new ReportInputError('kind', `expected one of ${REPORT_KINDS.join(', ')}, got ${JSON.stringify(typeof v === 'string' ? v.slice(0, 40) : v ?? null)}`);
  }
  return v as ReportKind;
}

export const REPORT_TIMER = 'report_deadline';

export class ReportService {
  #task?: { stop(): void | Promise<void>; getNextRun(): Date | null };

  constructor(private readonly d: ReportServiceDeps) {}

  context(q: Queryable = this.d.store): ReportContext {
    const env = this.d.env();
    const cfg = this.d.config();
    return { q, now: this.d.clock.now(), version: this.d.version, ...env, nqs: { system: cfg.nqs_yearly.system, owner: cfg.nqs_yearly.owner, due: cfg.nqs_yearly.due } };
  }

  /** Build and render one report. Bad input throws ReportInputError naming the field. */
  async generate(o: ReportOptions): Promise<RenderedReport> {
    const kind = parseKind(o.kind);
    const period = parsePeriod(o.period);
    const format = oneOf('format', o.format, REPORT_FORMATS, 'json');
    const lang = oneOf('lang', o.lang, REPORT_LANGS, this.d.config().lang);
    if (o.system !== undefined && o.system !== null && (typeof o.system !== 'string' || o.system === '')) throw new ReportInputError('system', 'expected a system id');
    const report = await buildReport(this.context(), { kind, period, system: (o.system as string | undefined) ?? undefined, excludeMaintenance: !!o.excludeMaintenance, notes: o.notes });
    return this.render(report, format, lang, o.bom);
  }

  async render(report: Report, format: ReportFormat, lang: ReportLang, bom?: boolean): Promise<RenderedReport> {
    let body: Buffer;
    if (format === 'csv') body = Buffer.from(renderCsv(report, { bom }), 'utf8');
    else if (format === 'json') body = Buffer.from(renderJson(report), 'utf8');
    else if (format === 'html') body = Buffer.from(renderHtml(report, lang), 'utf8');
    else body = await htmlToPdf(renderHtml(report, lang), this.d.config().chromium);
    return { report, format, lang, contentType: CONTENT_TYPES[format], fileName: fileName(report, format), body };
  }

  /** Keep a rendered report in the archive; returns its id (null when a scheduled one was already kept). */
  async keep(q: Queryable, r: RenderedReport, trigger: 'scheduled' | 'manual' | 'submitted', actor: string): Promise<number | null> {
    const res = await q.query<{ id: string | number }>(
      `INSERT INTO report_archive (kind, period, system, format, lang, trigger, sha256, content_type, body, size_bytes, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (kind, period, format, lang) WHERE trigger = 'scheduled' DO NOTHING RETURNING id`,
      [r.report.kind, r.report.period.label, r.report.scope.system, r.format, r.lang, trigger, r.report.data_sha256, r.contentType, r.body, r.body.length,
        new Date(this.d.clock.now()).toISOString(), actor],
    );
    return res.rows[0] ? Number(res.rows[0].id) : null;
  }

  async listArchive(opts: { kind?: string; limit?: number; before?: number } = {}): Promise<ArchiveEntry[]> {
    const r = await this.d.store.query<ArchiveEntry & { created_at: Date | string; id: string | number }>(
      `SELECT id, kind, period, system, format, lang, trigger, sha256, content_type, size_bytes, created_at, created_by FROM report_archive
        WHERE ($1::text IS NULL OR kind = $1) AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
      [opts.kind ?? null, opts.before ?? null, Math.min(500, opts.limit ?? 50)],
    );
    return r.rows.map((x) => ({ ...x, id: Number(x.id), created_at: new Date(x.created_at).toISOString() }));
  }

  async getArchived(id: number): Promise<(ArchiveEntry & { body: Buffer }) | null> {
    const r = await this.d.store.query<ArchiveEntry & { body: Uint8Array; created_at: Date | string; id: string | number }>(
      `SELECT id, kind, period, system, format, lang, trigger, sha256, content_type, size_bytes, created_at, created_by, body FROM report_archive WHERE id = $1`,
      [id],
    );
    const x = r.rows[0];
    if (!x) return null;
    return { ...x, id: Number(x.id), created_at: new Date(x.created_at).toISOString(), body: Buffer.from(x.body) };
  }

  /**
   * The monthly delivery for the month before `at`: every configured kind is built, kept (once per kind,
   * period, format and language, whatever the number of instances) and mailed through the outbox with its
   * download link, in one transaction per report.
   */
  async deliverMonthly(at = this.d.clock.now()): Promise<{ kept: number[]; mailed: number; skipped: string[] }> {
    const cfg = this.d.config();
    const period = previousMonth(at);
    const out = { kept: [] as number[], mailed: 0, skipped: [] as string[] };
    for (const kind of cfg.monthly) {
      const rendered = await this.generate({ kind, period: kind === 'nqs-yearly' ? period.label.slice(0, 4) : period.label, format: cfg.format, lang: cfg.lang });
      await this.d.store.tx(async (q) => {
        const id = await this.keep(q, rendered, 'scheduled', 'kuzet');
        if (id === null) {
          out.skipped.push(kind);
          return;
        }
        out.kept.push(id);
        const channel = cfg.channel ?? this.d.mailChannel?.();
        if (!channel || !cfg.recipients.length) return;
        const base = this.d.publicUrl?.() ?? '';
        const r = rendered.report;
        const title = t(`title.${kind}`, cfg.lang);
        const lines = [
          `${title} — ${r.period.label}`,
          '',
          ...r.summary.map((s) => `${t(s.key, cfg.lang)}: ${s.value ?? '—'}`),
          '',
          `${base}/api/v1/reports/archive/${id}`,
          `${t('kuzet_version', cfg.lang)}: ${r.kuzet_version}`,
          `${t('data_sha256', cfg.lang)}: ${r.data_sha256}`,
        ];
        out.mailed += await enqueueNotifications(
          q,
          cfg.recipients.map((address) => ({
            key: `report:${id}:${address}`,
            subjectKind: 'report',
            subjectId: id,
            channel,
            recipient: { address },
            lang: cfg.lang === 'en' ? 'en' : cfg.lang,
            message: { kind: 'mail', mail: { subject: `kuzet: ${title} ${r.period.label}`, text: lines.join('\n') } },
          })),
          this.d.clock.now(),
        );
      });
    }
    this.d.log?.info('monthly reports delivered', { period: period.label, ...out });
    return out;
  }

  /** node-cron in the configured zone (default: 09:00 Asia/Almaty on the 1st). */
  start(): void {
    const cfg = this.d.config();
    if (this.#task) return;
    this.#task = cron.schedule(cfg.schedule, () => {
      this.deliverMonthly().catch((err: Error) => this.d.log?.error('monthly report delivery failed', { err: err.message }));
    }, { timezone: cfg.timezone, name: 'kuzet-monthly-reports', noOverlap: true });
  }

  nextDelivery(): Date | null {
    return this.#task?.getNextRun() ?? null;
  }

  async stop(): Promise<void> {
    await this.#task?.stop();
    this.#task = undefined;
  }

  // ------------------------------------------------------------------------------------ NQS yearly deadline

  /** Timers for this year's analysis (or next year's, once this year's is past): reminders and the due time. */
  async scheduleNqsDeadline(q: Queryable = this.d.store): Promise<number[]> {
    const cfg = this.d.config().nqs_yearly;
    const now = this.d.clock.now();
    let year = new Date(now + 5 * 3_600_000).getUTCFullYear();
    if (nqsDueAt(year, cfg.due) < now) year += 1;
    const dueAt = nqsDueAt(year, cfg.due);
    const times = [...cfg.remind_before.map((b) => dueAt - (parseDuration(b) ?? 0)), dueAt].filter((x) => x > now).sort((a, b) => a - b);
    await scheduleTimers(
      q,
      times.map((at) => ({
        subjectKind: 'report',
        subjectId: year,
        kind: REPORT_TIMER,
        dueAt: at,
        payload: { report: 'nqs-yearly', year, dueAt, breach: at >= dueAt },
        dedupKey: `report:nqs-yearly:${year}:${at}`,
      })),
      now,
    );
    return times;
  }

  /** Whether the year's analysis was submitted (kept with trigger "submitted"). */
  async nqsSubmitted(q: Queryable, year: number): Promise<boolean> {
    const r = await q.query(`SELECT 1 FROM report_archive WHERE kind = 'nqs-yearly' AND period = $1 AND trigger = 'submitted' LIMIT 1`, [String(year)]);
    return r.rows.length > 0;
  }

  /** The signal a due timer raises while the analysis is not submitted; submitting resolves it. */
  nqsSignal(year: number, dueAt: number, breach: boolean, now: number, status: 'firing' | 'resolved' = 'firing'): Signal {
    const cfg = this.d.config().nqs_yearly;
    const days = Math.max(0, Math.ceil((dueAt - now) / 86_400_000));
    return {
      source: 'staff',
      system: cfg.system,
      check: 'report-deadline',
      fingerprint: `report:nqs-yearly:${year}`,
      severity: breach ? 'critical' : cfg.severity,
      status,
      summary: status === 'resolved'
        ? `The NQS yearly analysis for ${year} was submitted`
        : breach
          ? `The NQS yearly analysis for ${year} was due ${new Date(dueAt).toISOString()} and is not submitted`
          : `The NQS yearly analysis for ${year} is due in ${days} day(s); it is not submitted yet`,
      labels: { report: 'nqs-yearly', year: String(year), owner: cfg.owner, deadline: breach ? 'breach' : 'warning', runbook: 'report-deadline' },
      payload: { due_at: new Date(dueAt).toISOString(), owner: cfg.owner },
      observedAt: now,
    };
  }

  /** Handler for REPORT_TIMER (registered on the escalator's sweeper). */
  timerHandler(apply: (q: Queryable, s: Signal[]) => Promise<unknown>) {
    return async (q: Queryable, timer: TimerRow, now: number) => {
      const p = timer.payload as { year: number; dueAt: number; breach: boolean };
      if (await this.nqsSubmitted(q, p.year)) return;
      await apply(q, [this.nqsSignal(p.year, p.dueAt, p.breach, now)]);
    };
  }

  /** Keep the year's analysis as submitted (with the text its owner wrote) and resolve the deadline. */
  async submitNqs(o: ReportOptions, actor: string, apply?: (q: Queryable, s: Signal[]) => Promise<unknown>): Promise<{ id: number; rendered: RenderedReport }> {
    const rendered = await this.generate({ ...o, kind: 'nqs-yearly' });
    const year = Number(rendered.report.period.label);
    const cfg = this.d.config().nqs_yearly;
    const id = await this.d.store.tx(async (q) => {
      const kept = await this.keep(q, rendered, 'submitted', actor);
      const open = await q.query(`SELECT 1 FROM incidents WHERE fingerprint = $1 AND status <> 'resolved'`, [`report:nqs-yearly:${year}`]);
      if (open.rows.length && apply) await apply(q, [this.nqsSignal(year, nqsDueAt(year, cfg.due), false, this.d.clock.now(), 'resolved')]);
      return kept!;
    });
    return { id, rendered };
  }
}
