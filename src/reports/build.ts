import { almatyOffsetMinutes, dateOf, dayNumber, formatLocalIso, fromLocal, toLocal, type WorkingCalendar } from '../requests/calendar.ts';
import type { Queryable } from '../store/store.ts';
import { availabilityPct, dayLabel, latencyFromRollups, loadEpisodes, locationFigures, maintenanceIntervals, systemAvailability, type Episode, type MaintenanceInfo, type ProbeInfo } from './availability.ts';
import type { ReportKind } from './config.ts';
import { clip, union } from './intervals.ts';
import { periodJson, sealReport, type BarChart, type CalendarFact, type Cell, type Report, type Table, type TextSection } from './model.ts';
import { parsePeriod, ReportInputError, type Period } from './period.ts';

// Builds each report from the store and the configuration. Every figure is computed here; the renderers
// (csv, html, pdf, json) only lay the Report out.

export interface SystemInfo {
  id: string;
  name: string;
  name_ru?: string;
  name_kk?: string;
}

export interface BackupJobInfo {
  name: string;
  system: string;
  rtoMs?: number;
}

export interface ReportContext {
  q: Queryable;
  now: number;
  version: string;
  systems: SystemInfo[];
  probes: ProbeInfo[];
  maintenance: MaintenanceInfo[];
  calendar: WorkingCalendar;
  backups: BackupJobInfo[];
  nqs: { system: string; owner: string; due: string };
}

export interface ReportRequest {
  kind: ReportKind;
  period: Period;
  system?: string;
  excludeMaintenance?: boolean;
  /** nqs-yearly: the text a person wrote (situation, problems, proposals). */
  notes?: Partial<Record<'situation' | 'problems' | 'proposals', string>>;
}

const iso = (v: number | null | undefined): string | null => (v === null || v === undefined ? null : formatLocalIso(v));
const ms = (v: Date | string | number | null | undefined): number | null => (v === null || v === undefined ? null : new Date(v).getTime());
const round = (v: number | null, d = 3): number | null => (v === null || !Number.isFinite(v) ? null : Math.round(v * 10 ** d) / 10 ** d);
const minutes = (msv: number) => round(msv / 60_000, 3)!;

function quantile(xs: number[], q: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Check the request's system against the configuration. */
export function scopeSystems(ctx: ReportContext, system: string | undefined): SystemInfo[] {
  if (system === undefined) return ctx.systems;
  const s = ctx.systems.find((x) => x.id === system);
  if (!s) throw new ReportInputError('system', `unknown system ${JSON.stringify(system)}; known: ${ctx.systems.map((x) => x.id).join(', ')}`);
  return [s];
}

/** The calendar facts a report used: zone and offset, days, working days and every day off in [fromDay, toDay]. */
export function calendarFacts(cal: WorkingCalendar, p: Period, extra?: { fromDay: number; toDay: number }): CalendarFact[] {
  const facts: CalendarFact[] = [];
  const offs = new Set([toOffset(p.from), toOffset(p.to - 1)]);
  facts.push({ key: 'zone', value: `Asia/Almaty, UTC${[...offs].join(' / UTC')}` });
  const first = dayNumber(p.firstDay);
  const last = dayNumber(p.lastDay);
  let working = 0;
  for (let d = first; d <= last; d++) if (cal.isWorkingDay(d)) working++;
  facts.push({ key: 'days', value: `${p.days} (${p.firstDay} – ${p.lastDay})` });
  facts.push({ key: 'working_days', value: `${working}; ${cal.data.workStart / 60}:00–${cal.data.workEnd / 60}:00` });
  const a = Math.min(first, extra?.fromDay ?? first);
  const b = Math.max(last, extra?.toDay ?? last);
  for (let d = a; d <= b; d++) {
    const e = cal.entry(dateOf(d));
    if (e) facts.push({ key: e.kind, value: `${e.date}${e.name ? ` ${e.name}` : ''}${e.uncertain ? ' (uncertain)' : ''}` });
  }
  const years = new Set<number>();
  for (let y = Number(dateOf(a).slice(0, 4)); y <= Number(dateOf(b).slice(0, 4)); y++) years.add(y);
  const missing = [...years].filter((y) => !cal.covers(y));
  facts.push({ key: 'calendar_years', value: cal.years.join(', ') + (missing.length ? `; MISSING ${missing.join(', ')}: only weekends known` : '') });
  return facts;
}

const toOffset = (at: number) => `+${almatyOffsetMinutes(at) / 60}`;

export async function buildReport(ctx: ReportContext, req: ReportRequest): Promise<Report> {
  if (req.kind === 'nqs-yearly' && req.period.kind !== 'year') {
    throw new ReportInputError('period', `the nqs-yearly report covers a year ("2026"), got ${JSON.stringify(req.period.label)}`);
  }
  scopeSystems(ctx, req.system);
  const observedTo = Math.max(req.period.from, Math.min(req.period.to, ctx.now));
  const base = {
    kind: req.kind,
    period: periodJson(req.period, observedTo),
    scope: { system: req.system ?? null, exclude_maintenance: !!req.excludeMaintenance },
    generated_at: new Date(ctx.now).toISOString(),
    kuzet_version: ctx.version,
  };
  const body = await BUILDERS[req.kind](ctx, req, observedTo);
  return sealReport({ ...base, charts: [], sections: [], notes: [], ...body });
}

type Body = Pick<Report, 'calendar_facts' | 'summary' | 'tables'> & Partial<Pick<Report, 'charts' | 'sections' | 'notes'>>;
type Builder = (ctx: ReportContext, req: ReportRequest, observedTo: number) => Promise<Body>;

const BUILDERS: Record<ReportKind, Builder> = {
  availability: availabilityReport,
  incidents: incidentsReport,
  requests: requestsReport,
  backups: backupsReport,
  feeds: feedsReport,
  'nqs-yearly': nqsYearlyReport,
};

// ---------------------------------------------------------------------------------------------------------
// availability

async function availabilityReport(ctx: ReportContext, req: ReportRequest, observedTo: number): Promise<Body> {
  const p = req.period;
  const systems = scopeSystems(ctx, req.system);
  const ids = systems.map((s) => s.id);
  const probes = new Map(ctx.probes.map((x) => [x.name, x]));
  const episodes = await loadEpisodes(ctx.q, ids, probes, p.from, p.to, ctx.now);
  const availProbes = ctx.probes.filter((x) => x.availability && ids.includes(x.system));
  const latency = await latencyFromRollups(ctx.q, ids, availProbes, p);
  const perLocation = await locationFigures(ctx.q, ids, availProbes, p);
  // Every other incident of these systems open during an outage "saw" it too (a user report, a log rule, the SOC).
  const others = await ctx.q.query<{ id: string | number; system: string; source: string; opened_at: Date; resolved_at: Date | null }>(
    `SELECT id, system, source, opened_at, resolved_at FROM incidents
      WHERE system = ANY($1::text[]) AND opened_at < $3::timestamptz AND (resolved_at IS NULL OR resolved_at > $2::timestamptz)
        AND check_name <> 'request-deadline'`,
    [ids, new Date(p.from).toISOString(), new Date(p.to).toISOString()],
  );
  const seen = others.rows.map((x) => ({ id: Number(x.id), system: x.system, source: x.source, from: ms(x.opened_at)!, to: ms(x.resolved_at) ?? Infinity }));
  const rows: Record<string, Cell>[] = [];
  const outages: Record<string, Cell>[] = [];
  const locations: Record<string, Cell>[] = [];
  const charts: BarChart[] = [];
  let sumPct = 0;
  let nPct = 0;
  let totalDown = 0;
  let totalDegraded = 0;
  for (const s of systems) {
    const names = new Set(ctx.probes.filter((x) => x.system === s.id).map((x) => x.name));
    const maint = maintenanceIntervals(ctx.maintenance, s.id, names, p.from, p.to);
    const a = systemAvailability(s.id, episodes, maint, p, observedTo, !!req.excludeMaintenance);
    const l = latency.get(s.id);
    // Without a single measurement or outage record there is nothing to claim: no figure, not 100 %.
    const measured = (l?.results ?? 0) > 0 || a.episodes.length > 0;
    const pct = measured ? availabilityPct(a) : null;
    if (pct !== null) {
      sumPct += pct;
      nPct++;
    }
    totalDown += a.downMs;
    totalDegraded += a.degradedMs;
    rows.push({
      system: s.id,
      name: s.name,
      availability_pct: round(pct, 4),
      downtime_min: minutes(a.downMs),
      outages: a.down.length,
      degraded_min: minutes(a.degradedMs),
      maintenance_min: minutes(a.maintenanceMs),
      counted_min: minutes(a.countedMs),
      probes: availProbes.filter((x) => x.system === s.id).map((x) => x.name).join(' '),
      results: l?.results ?? 0,
      probe_downtime_min: l ? minutes(l.probeDowntimeS * 1000) : 0,
      p50_ms: round(l?.p50 ?? null, 1),
      p95_ms: round(l?.p95 ?? null, 1),
      p99_ms: round(l?.p99 ?? null, 1),
    });
    // Probes probed from several locations: each location's availability, then the probe's overall figure.
    for (const x of perLocation.filter((y) => y.system === s.id)) {
      const down = (x.downS - (req.excludeMaintenance ? x.maintenanceDownS : 0)) * 1000;
      locations.push({
        system: s.id,
        probe_name: x.probe,
        location: x.location ?? 'all_locations',
        required_locations: x.location === null ? Math.max(1, probes.get(x.probe)?.locations ?? 1) : null,
        availability_pct: a.countedMs > 0 ? round(100 * (1 - Math.min(down, a.countedMs) / a.countedMs), 4) : null,
        probe_down_min: minutes(down),
        counted_min: minutes(a.countedMs),
        results: x.results,
        failures: x.failures,
        p50_ms: round(x.p50, 1),
        p95_ms: round(x.p95, 1),
        p99_ms: round(x.p99, 1),
      });
    }
    for (const [start, end] of a.down) outages.push(outageRow(s.id, start, end, a.episodes, seen.filter((x) => x.system === s.id && x.from < end && x.to > start)));
    charts.push({
      id: `daily-${s.id}`,
      title: s.id,
      min: 0,
      bars: a.daily.map(([d, counted, down]) => ({ label: dayLabel(d), value: counted > 0 ? round(100 * (1 - down / counted), 3) : null, note: down > 0 ? `${minutes(down)} min` : undefined })),
    });
  }
  outages.sort((x, y) => String(x.start).localeCompare(String(y.start)) || String(x.system).localeCompare(String(y.system)));
  return {
    calendar_facts: calendarFacts(ctx.calendar, p),
    summary: [
      { key: 'overall_availability_pct', value: nPct ? round(sumPct / nPct, 4) : null, type: 'pct' },
      { key: 'systems', value: systems.length, type: 'int' },
      { key: 'outages', value: outages.length, type: 'int' },
      { key: 'downtime_min', value: minutes(totalDown), type: 'min' },
      { key: 'degraded_min', value: minutes(totalDegraded), type: 'min' },
    ],
    tables: [
      {
        id: 'systems',
        columns: [
          { key: 'system' }, { key: 'name' }, { key: 'availability_pct', type: 'pct' }, { key: 'downtime_min', type: 'min' }, { key: 'outages', type: 'int' },
          { key: 'degraded_min', type: 'min' }, { key: 'maintenance_min', type: 'min' }, { key: 'counted_min', type: 'min' }, { key: 'probes' },
          { key: 'results', type: 'int' }, { key: 'probe_downtime_min', type: 'min' }, { key: 'p50_ms', type: 'ms' }, { key: 'p95_ms', type: 'ms' }, { key: 'p99_ms', type: 'ms' },
        ],
        rows,
      },
      { id: 'outages', columns: OUTAGE_COLUMNS, rows: outages },
      ...(locations.length ? [{ id: 'locations', columns: LOCATION_COLUMNS, rows: locations }] : []),
    ],
    charts,
    notes: [
      'note_down', 'note_overall', 'note_no_data', 'note_latency', ...(locations.length ? ['note_locations'] : []),
      ...(req.excludeMaintenance ? ['note_maintenance_excluded'] : ['note_maintenance_counted']),
    ],
  };
}

const LOCATION_COLUMNS: Table['columns'] = [
  { key: 'system' }, { key: 'probe_name' }, { key: 'location' }, { key: 'required_locations', type: 'int' }, { key: 'availability_pct', type: 'pct' },
  { key: 'probe_down_min', type: 'min' }, { key: 'counted_min', type: 'min' }, { key: 'results', type: 'int' }, { key: 'failures', type: 'int' },
  { key: 'p50_ms', type: 'ms' }, { key: 'p95_ms', type: 'ms' }, { key: 'p99_ms', type: 'ms' },
];

const OUTAGE_COLUMNS: Table['columns'] = [
  { key: 'system' }, { key: 'start', type: 'time' }, { key: 'end', type: 'time' }, { key: 'duration_min', type: 'min' }, { key: 'ongoing', type: 'bool' },
  { key: 'incidents' }, { key: 'titles' }, { key: 'causes' }, { key: 'probes' }, { key: 'sources' }, { key: 'also_seen_by' },
];

function outageRow(system: string, start: number, end: number, episodes: Episode[], overlapping: { id: number; source: string }[]): Record<string, Cell> {
  const seen = episodes.filter((e) => !e.degraded && e.start < end && e.end > start);
  const uniq = (xs: string[]) => [...new Set(xs)].join('; ');
  return {
    system,
    start: iso(start),
    end: iso(end),
    duration_min: minutes(end - start),
    ongoing: seen.some((e) => e.open && e.end >= end),
    incidents: uniq(seen.map((e) => `#${e.incidentId}`)),
    titles: uniq(seen.map((e) => e.title)),
    causes: uniq(seen.map((e) => e.cause)),
    probes: uniq(seen.filter((e) => e.source === 'probe').map((e) => e.check)),
    sources: uniq([...seen.map((e) => e.source), ...overlapping.map((o) => o.source)]),
    also_seen_by: uniq(overlapping.filter((o) => !seen.some((e) => e.incidentId === o.id)).map((o) => `#${o.id} ${o.source}`)),
  };
}

// ---------------------------------------------------------------------------------------------------------
// incidents

/** The five sources of failure (REQUIREMENTS §2) and the signal sources that belong to each. */
export const SOURCE_GROUPS: Record<string, string> = {
  user: 'users', staff: 'staff', probe: 'probes', backup: 'probes', check: 'probes', alertmanager: 'probes', log: 'logs', soc: 'soc',
};
const SEVERITY_ORDER = ['critical', 'major', 'minor', 'warning', 'info'];

async function incidentsReport(ctx: ReportContext, req: ReportRequest, observedTo: number): Promise<Body> {
  const p = req.period;
  const ids = scopeSystems(ctx, req.system).map((s) => s.id);
  const r = await ctx.q.query<{
    id: string | number; system: string; source: string; severity: string; title: string; status: string;
    opened_at: Date; acknowledged_at: Date | null; resolved_at: Date | null; ack_due_at: Date | null; ack_breached_at: Date | null;
    pages: string | number; maint: boolean;
  }>(
    `SELECT i.id, i.system, i.source, i.severity, i.title, i.status, i.opened_at, i.acknowledged_at, i.resolved_at,
            e.ack_due_at, e.ack_breached_at, COALESCE(o.pages, 0) AS pages, COALESCE(i.labels->>'maintenance' = 'true', false) AS maint
       FROM incidents i
       LEFT JOIN LATERAL (SELECT ack_due_at, ack_breached_at FROM escalations
                           WHERE subject_kind = 'incident' AND subject_id = i.id ORDER BY id LIMIT 1) e ON true
       LEFT JOIN LATERAL (SELECT count(*) AS pages FROM outbox
                           WHERE subject_kind = 'incident' AND subject_id = i.id AND state = 'sent' AND message->>'kind' IN ('page', 'breach')) o ON true
      WHERE i.system = ANY($1::text[]) AND i.opened_at >= $2::timestamptz AND i.opened_at < $3::timestamptz
        AND i.check_name <> 'request-deadline'
      ORDER BY i.opened_at, i.id`,
    [ids, new Date(p.from).toISOString(), new Date(p.to).toISOString()],
  );
  const items = r.rows.map((x) => {
    const opened = ms(x.opened_at)!;
    const acked = ms(x.acknowledged_at);
    const resolved = ms(x.resolved_at);
    const due = ms(x.ack_due_at);
    const ackWithin = due === null ? null : acked !== null ? acked <= due : observedTo <= due ? null : false;
    return {
      id: Number(x.id), system: x.system, source: x.source, source_group: SOURCE_GROUPS[x.source] ?? x.source, severity: x.severity, title: x.title,
      status: x.status, opened_at: iso(opened), acknowledged_at: iso(acked), resolved_at: iso(resolved),
      tta_min: acked !== null ? minutes(acked - opened) : null, ttr_min: resolved !== null ? minutes(resolved - opened) : null,
      pages_sent: Number(x.pages), ack_deadline: iso(due), ack_within_deadline: ackWithin, maintenance: x.maint,
    };
  });
  const mean = (xs: number[]) => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 3) : null);
  const tta = items.map((i) => i.tta_min).filter((v): v is number => v !== null);
  const ttr = items.map((i) => i.ttr_min).filter((v): v is number => v !== null);
  const groups = ['users', 'staff', 'probes', 'logs', 'soc'];
  const bySystem = ids.map((sys) => {
    const mine = items.filter((i) => i.system === sys);
    const row: Record<string, Cell> = { system: sys, incidents: mine.length };
    for (const g of groups) row[`source_${g}`] = mine.filter((i) => i.source_group === g).length;
    for (const s of SEVERITY_ORDER) row[`severity_${s}`] = mine.filter((i) => i.severity === s).length;
    row.mtta_min = mean(mine.map((i) => i.tta_min).filter((v): v is number => v !== null));
    row.mttr_min = mean(mine.map((i) => i.ttr_min).filter((v): v is number => v !== null));
    row.pages_sent = mine.reduce((n, i) => n + i.pages_sent, 0);
    row.acked_in_time = mine.filter((i) => i.ack_within_deadline === true).length;
    row.acked_late = mine.filter((i) => i.ack_within_deadline === false).length;
    return row;
  }).filter((row) => req.system !== undefined || (row.incidents as number) > 0);
  return {
    calendar_facts: calendarFacts(ctx.calendar, p),
    summary: [
      { key: 'incidents', value: items.length, type: 'int' },
      { key: 'mtta_min', value: mean(tta), type: 'min' },
      { key: 'mttr_min', value: mean(ttr), type: 'min' },
      { key: 'pages_sent', value: items.reduce((n, i) => n + i.pages_sent, 0), type: 'int' },
      { key: 'acked_in_time', value: items.filter((i) => i.ack_within_deadline === true).length, type: 'int' },
      { key: 'acked_late', value: items.filter((i) => i.ack_within_deadline === false).length, type: 'int' },
    ],
    tables: [
      {
        id: 'incidents',
        columns: [
          { key: 'id', type: 'int' }, { key: 'system' }, { key: 'source' }, { key: 'source_group' }, { key: 'severity' }, { key: 'title' }, { key: 'status' },
          { key: 'opened_at', type: 'time' }, { key: 'acknowledged_at', type: 'time' }, { key: 'resolved_at', type: 'time' }, { key: 'tta_min', type: 'min' },
          { key: 'ttr_min', type: 'min' }, { key: 'pages_sent', type: 'int' }, { key: 'ack_deadline', type: 'time' }, { key: 'ack_within_deadline', type: 'bool' },
          { key: 'maintenance', type: 'bool' },
        ],
        rows: items,
      },
      {
        id: 'by_system',
        columns: [
          { key: 'system' }, { key: 'incidents', type: 'int' }, ...groups.map((g) => ({ key: `source_${g}`, type: 'int' as const })),
          ...SEVERITY_ORDER.map((s) => ({ key: `severity_${s}`, type: 'int' as const })), { key: 'mtta_min', type: 'min' }, { key: 'mttr_min', type: 'min' },
          { key: 'pages_sent', type: 'int' }, { key: 'acked_in_time', type: 'int' }, { key: 'acked_late', type: 'int' },
        ],
        rows: bySystem,
      },
    ],
    charts: [{ id: 'by-source', title: 'sources', bars: groups.map((g) => ({ label: g, value: items.length ? round((100 * items.filter((i) => i.source_group === g).length) / items.length, 1) : 0 })) }],
    notes: ['note_incidents'],
  };
}

// ---------------------------------------------------------------------------------------------------------
// requests

/** Working time between two instants: 09:00–18:00 of working days only (ms). */
export function workingMsBetween(cal: WorkingCalendar, from: number, to: number): number {
  if (to <= from) return 0;
  const a = toLocal(from).day;
  const b = toLocal(to).day;
  let sum = 0;
  for (let d = a; d <= b && d - a < 4000; d++) {
    if (!cal.isWorkingDay(d)) continue;
    const s = Math.max(from, fromLocal(d, cal.data.workStart));
    const e = Math.min(to, fromLocal(d, cal.data.workEnd));
    if (e > s) sum += e - s;
  }
  return sum;
}

async function requestsReport(ctx: ReportContext, req: ReportRequest, observedTo: number): Promise<Body> {
  const p = req.period;
  const ids = scopeSystems(ctx, req.system).map((s) => s.id);
  const r = await ctx.q.query<{
    id: string | number; number: string; kind: string; form: string; system: string; status: string; received_at: Date; d0: string | Date;
    clock_start_at: Date; due_at: Date; answered_at: Date | null; extended_to: number | null; reasons: string | null;
  }>(
    `SELECT r.id, r.number, r.kind, r.form, r.system, r.status, r.received_at, r.d0::text AS d0, r.clock_start_at, r.due_at, r.answered_at, r.extended_to,
            (SELECT string_agg(x.reason || ' +' || x.working_days || 'wd: ' || x.note, '; ' ORDER BY x.id) FROM request_extensions x WHERE x.request_id = r.id) AS reasons
       FROM requests r
      WHERE r.system = ANY($1::text[]) AND r.received_at >= $2::timestamptz AND r.received_at < $3::timestamptz
      ORDER BY r.received_at, r.id`,
    [ids, new Date(p.from).toISOString(), new Date(p.to).toISOString()],
  );
  let lastDay = dayNumber(p.lastDay);
  const items = r.rows.map((x) => {
    const due = ms(x.due_at)!;
    const answered = ms(x.answered_at);
    lastDay = Math.max(lastDay, toLocal(due).day);
    const open = answered === null;
    const workMs = answered !== null ? workingMsBetween(ctx.calendar, ms(x.clock_start_at)!, answered) : null;
    return {
      number: x.number, system: x.system, form: x.form, kind: x.kind, status: x.status,
      received_at: iso(ms(x.received_at)), d0: typeof x.d0 === 'string' ? x.d0.slice(0, 10) : dateOf(Math.floor(ms(x.d0)! / 86_400_000)),
      clock_start_at: iso(ms(x.clock_start_at)), due_at: iso(due), answered_at: iso(answered),
      on_time: open ? null : answered! <= due, overdue: open && observedTo > due,
      extended_to_wd: x.extended_to, extension: x.reasons ?? null,
      working_hours_to_answer: workMs === null ? null : round(workMs / 3_600_000, 3),
    };
  });
  const keyOf = (i: { system: string; form: string }) => `${i.system}\u0000${i.form}`;
  const groups = new Map<string, typeof items>();
  for (const i of items) {
    if (!groups.has(keyOf(i))) groups.set(keyOf(i), []);
    groups.get(keyOf(i))!.push(i);
  }
  const bySystem = [...groups.values()].map((g) => {
    const hrs = g.map((i) => i.working_hours_to_answer).filter((v): v is number => v !== null);
    return {
      system: g[0]!.system, form: g[0]!.form, received: g.length,
      answered_on_time: g.filter((i) => i.on_time === true).length, answered_late: g.filter((i) => i.on_time === false).length,
      open: g.filter((i) => i.answered_at === null).length, open_overdue: g.filter((i) => i.overdue).length,
      extended: g.filter((i) => i.extended_to_wd !== null).length,
      median_working_hours: round(quantile(hrs, 0.5), 3), p90_working_hours: round(quantile(hrs, 0.9), 3),
    };
  });
  const tot = (k: 'answered_on_time' | 'answered_late' | 'open_overdue' | 'extended') => bySystem.reduce((n, x) => n + x[k], 0);
  return {
    calendar_facts: calendarFacts(ctx.calendar, p, { fromDay: dayNumber(p.firstDay), toDay: lastDay }),
    summary: [
      { key: 'received', value: items.length, type: 'int' },
      { key: 'answered_on_time', value: tot('answered_on_time'), type: 'int' },
      { key: 'answered_late', value: tot('answered_late'), type: 'int' },
      { key: 'open_overdue', value: tot('open_overdue'), type: 'int' },
      { key: 'extended', value: tot('extended'), type: 'int' },
    ],
    tables: [
      {
        id: 'requests',
        columns: [
          { key: 'number' }, { key: 'system' }, { key: 'form' }, { key: 'kind' }, { key: 'status' }, { key: 'received_at', type: 'time' }, { key: 'd0' },
          { key: 'clock_start_at', type: 'time' }, { key: 'due_at', type: 'time' }, { key: 'answered_at', type: 'time' }, { key: 'on_time', type: 'bool' },
          { key: 'overdue', type: 'bool' }, { key: 'extended_to_wd', type: 'int' }, { key: 'extension' }, { key: 'working_hours_to_answer', type: 'hours' },
        ],
        rows: items,
      },
      {
        id: 'by_form',
        columns: [
          { key: 'system' }, { key: 'form' }, { key: 'received', type: 'int' }, { key: 'answered_on_time', type: 'int' }, { key: 'answered_late', type: 'int' },
          { key: 'open', type: 'int' }, { key: 'open_overdue', type: 'int' }, { key: 'extended', type: 'int' },
          { key: 'median_working_hours', type: 'hours' }, { key: 'p90_working_hours', type: 'hours' },
        ],
        rows: bySystem,
      },
    ],
    charts: [{ id: 'on-time', title: 'on_time_pct', bars: bySystem.map((x) => ({ label: `${x.system}/${x.form}`, value: x.answered_on_time + x.answered_late ? round((100 * x.answered_on_time) / (x.answered_on_time + x.answered_late), 1) : null })) }],
    notes: ['note_requests'],
  };
}

// ---------------------------------------------------------------------------------------------------------
// backups

async function backupsReport(ctx: ReportContext, req: ReportRequest): Promise<Body> {
  const p = req.period;
  const ids = new Set(scopeSystems(ctx, req.system).map((s) => s.id));
  const jobs = ctx.backups.filter((j) => req.system === undefined || ids.has(j.system));
  const r = await ctx.q.query<{ id: string | number; job: string; task: string; status: string; trigger: string; started_at: Date; duration_ms: number | null; reason_code: string | null; reason: string | null; restore_s: number | null }>(
    `SELECT id, job, task, status, trigger, started_at, duration_ms, reason_code, reason, (detail->>'restoreSeconds')::float8 AS restore_s
       FROM backup_runs WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz AND status <> 'running'
        AND ($3::text[] IS NULL OR job = ANY($3::text[]))
      ORDER BY started_at, id`,
    [new Date(p.from).toISOString(), new Date(p.to).toISOString(), req.system === undefined ? null : jobs.map((j) => j.name)],
  );
  const rto = new Map(jobs.map((j) => [j.name, j.rtoMs]));
  const drills = r.rows.filter((x) => x.task === 'drill').map((x) => {
    const objective = rto.get(x.job);
    const measured = x.restore_s === null ? null : x.restore_s * 1000;
    return {
      id: Number(x.id), job: x.job, started_at: iso(ms(x.started_at)), status: x.status,
      rto_measured_min: measured === null ? null : minutes(measured), rto_objective_min: objective === undefined ? null : minutes(objective),
      within_rto: measured === null || objective === undefined ? null : measured <= objective,
      reason: x.reason_code ? `${x.reason_code}: ${x.reason ?? ''}` : null,
    };
  });
  const names = [...new Set([...jobs.map((j) => j.name), ...r.rows.map((x) => x.job)])].sort();
  const byJob = names.map((job) => {
    const mine = r.rows.filter((x) => x.job === job);
    const n = (task: string, status?: string) => mine.filter((x) => x.task === task && (!status || x.status === status)).length;
    const md = drills.filter((d) => d.job === job);
    return {
      job, system: ctx.backups.find((j) => j.name === job)?.system ?? null,
      backups: n('backup'), backups_failed: n('backup', 'failed'), verifications: n('verify'), verifications_failed: n('verify', 'failed'),
      drills: n('drill'), drills_failed: n('drill', 'failed'), drills_over_rto: md.filter((d) => d.within_rto === false).length,
      rto_objective_min: rto.get(job) === undefined ? null : minutes(rto.get(job)!),
      rto_worst_min: md.reduce<number | null>((m, d) => (d.rto_measured_min === null ? m : Math.max(m ?? 0, d.rto_measured_min)), null),
    };
  });
  return {
    calendar_facts: calendarFacts(ctx.calendar, p),
    summary: [
      { key: 'backups', value: byJob.reduce((a, b) => a + b.backups, 0), type: 'int' },
      { key: 'backups_failed', value: byJob.reduce((a, b) => a + b.backups_failed, 0), type: 'int' },
      { key: 'verifications', value: byJob.reduce((a, b) => a + b.verifications, 0), type: 'int' },
      { key: 'drills', value: drills.length, type: 'int' },
      { key: 'drills_over_rto', value: drills.filter((d) => d.within_rto === false).length, type: 'int' },
    ],
    tables: [
      {
        id: 'jobs',
        columns: [
          { key: 'job' }, { key: 'system' }, { key: 'backups', type: 'int' }, { key: 'backups_failed', type: 'int' }, { key: 'verifications', type: 'int' },
          { key: 'verifications_failed', type: 'int' }, { key: 'drills', type: 'int' }, { key: 'drills_failed', type: 'int' }, { key: 'drills_over_rto', type: 'int' },
          { key: 'rto_objective_min', type: 'min' }, { key: 'rto_worst_min', type: 'min' },
        ],
        rows: byJob,
      },
      {
        id: 'drills',
        columns: [
          { key: 'id', type: 'int' }, { key: 'job' }, { key: 'started_at', type: 'time' }, { key: 'status' }, { key: 'rto_measured_min', type: 'min' },
          { key: 'rto_objective_min', type: 'min' }, { key: 'within_rto', type: 'bool' }, { key: 'reason' },
        ],
        rows: drills,
      },
    ],
    notes: ['note_backups'],
  };
}

// ---------------------------------------------------------------------------------------------------------
// feeds

const CADENCE_MONTHS: Record<string, number> = { monthly: 1, quarterly: 3, 'half-yearly': 6, yearly: 12 };

/** The cadence slots (calendar months, quarters, halves, years) that overlap the period. */
function slots(cadence: string, p: Period): { label: string; from: number; to: number }[] {
  const months = CADENCE_MONTHS[cadence];
  if (!months) return [];
  const out: { label: string; from: number; to: number }[] = [];
  let y = Number(p.firstDay.slice(0, 4));
  let m = Math.floor((Number(p.firstDay.slice(5, 7)) - 1) / months) * months; // 0-based first month of the slot
  for (let i = 0; i < 500; i++) {
    const from = fromLocal(dayNumber(`${y}-${String(m + 1).padStart(2, '0')}-01`), 0);
    if (from >= p.to) break;
    let ny = y;
    let nm = m + months;
    if (nm >= 12) {
      ny += 1;
      nm -= 12;
    }
    const to = fromLocal(dayNumber(`${ny}-${String(nm + 1).padStart(2, '0')}-01`), 0);
    const label = months === 1 ? `${y}-${String(m + 1).padStart(2, '0')}` : months === 3 ? `${y}-Q${m / 3 + 1}` : months === 6 ? `${y}-H${m / 6 + 1}` : `${y}`;
    out.push({ label, from, to });
    y = ny;
    m = nm;
  }
  return out;
}

export const isFeed = (x: ProbeInfo) => x.labels.feed !== undefined;

async function feedsReport(ctx: ReportContext, req: ReportRequest, observedTo: number): Promise<Body> {
  const p = req.period;
  const ids = scopeSystems(ctx, req.system).map((s) => s.id);
  const feeds = ctx.probes.filter((x) => isFeed(x) && ids.includes(x.system));
  const byName = new Map(feeds.map((f) => [f.name, f]));
  // Feeds judged a period later (sql.period) are read up to one cadence past the report's end.
  const reach = feeds.some((f) => f.period) ? p.to + (CADENCE_MONTHS[feeds.find((f) => f.period)!.period!] ?? 12) * 31 * 86_400_000 : p.to;
  const episodes = await loadEpisodes(ctx.q, ids, byName, p.from, reach, ctx.now, (row, probes) => row.source === 'probe' && probes.has(row.check_name));
  const counts = feeds.length
    ? await ctx.q.query<{ probe: string; day: Date; n: string | number; f: string | number }>(
        `SELECT probe, period_start AS day, count AS n, failures AS f FROM probe_rollups
          WHERE period = 'day' AND probe = ANY($1::text[]) AND period_start >= $2::timestamptz AND period_start < $3::timestamptz`,
        [feeds.map((f) => f.name), new Date(p.from).toISOString(), new Date(reach).toISOString()],
      )
    : { rows: [] };
  const rows: Record<string, Cell>[] = [];
  for (const f of feeds) {
    const cadence = f.labels.cadence ?? 'unknown';
    const ss = slots(cadence, p);
    if (!ss.length) {
      rows.push({ feed: f.labels.feed!, probe: f.name, system: f.system, cadence, max_age_days: f.maxValue ?? null, slot: null, slot_from: null, slot_to: null, results: 0, failures: 0, late_min: null, status: 'unknown_cadence' });
      continue;
    }
    for (const s of ss) {
      // A feed probe with `sql.period` judges the last finished period: slot s is met or missed by what the probe saw
      // during the slot after it (from s's end for as long again).
      const judged = f.period ? { from: s.to, to: s.to + (s.to - s.from) } : s;
      const a = f.period ? judged.from : Math.max(s.from, p.from);
      const b = f.period ? Math.min(judged.to, ctx.now) : Math.min(s.to, p.to, observedTo);
      const mine = counts.rows.filter((c) => c.probe === f.name && ms(c.day)! >= a && ms(c.day)! < b);
      const n = mine.reduce((x, c) => x + Number(c.n), 0);
      const fails = mine.reduce((x, c) => x + Number(c.f), 0);
      const late = union(clip(episodes.filter((e) => e.check === f.name).map((e) => [e.start, e.end] as const), a, b));
      const lateMs = late.reduce((x, [u, v]) => x + (v - u), 0);
      const status = b <= a ? 'future' : lateMs > 0 ? 'missed' : n > 0 ? 'met' : 'no_data';
      rows.push({
        feed: f.labels.feed!, probe: f.name, system: f.system, cadence, max_age_days: f.maxValue ?? null, slot: s.label,
        slot_from: iso(s.from), slot_to: iso(s.to), results: n, failures: fails, late_min: lateMs ? minutes(lateMs) : 0,
        status: f.enabled || n > 0 || lateMs > 0 ? status : 'not_configured',
      });
    }
  }
  const count = (st: string) => rows.filter((r) => r.status === st).length;
  return {
    calendar_facts: calendarFacts(ctx.calendar, p),
    summary: [
      { key: 'feeds', value: feeds.length, type: 'int' },
      { key: 'slots_met', value: count('met'), type: 'int' },
      { key: 'slots_missed', value: count('missed'), type: 'int' },
      { key: 'slots_no_data', value: count('no_data') + count('not_configured'), type: 'int' },
    ],
    tables: [
      {
        id: 'feeds',
        columns: [
          { key: 'feed' }, { key: 'probe' }, { key: 'system' }, { key: 'cadence' }, { key: 'max_age_days', type: 'int' }, { key: 'slot' },
          { key: 'slot_from', type: 'time' }, { key: 'slot_to', type: 'time' }, { key: 'results', type: 'int' }, { key: 'failures', type: 'int' },
          { key: 'late_min', type: 'min' }, { key: 'status' },
        ],
        rows,
      },
    ],
    notes: ['note_feeds', 'note_feeds_missing'],
  };
}

// ---------------------------------------------------------------------------------------------------------
// nqs-yearly

async function nqsYearlyReport(ctx: ReportContext, req: ReportRequest, observedTo: number): Promise<Body> {
  const system = req.system ?? ctx.nqs.system;
  const sub: ReportRequest = { ...req, system };
  const [av, inc, rq, bk, fd] = await Promise.all([
    availabilityReport(ctx, { ...sub, kind: 'availability' }, observedTo),
    incidentsReport(ctx, { ...sub, kind: 'incidents' }, observedTo),
    requestsReport(ctx, { ...sub, kind: 'requests' }, observedTo),
    backupsReport(ctx, { ...sub, kind: 'backups' }),
    feedsReport(ctx, { ...sub, kind: 'feeds' }, observedTo),
  ]);
  const year = Number(req.period.firstDay.slice(0, 4));
  const dueAt = nqsDueAt(year, ctx.nqs.due);
  const prefix = (k: string, b: Body) => b.summary.map((s) => ({ ...s, key: `${k}.${s.key}` }));
  const sections: TextSection[] = (['situation', 'problems', 'proposals'] as const).map((id) => ({ id, text: req.notes?.[id]?.trim() ?? '' }));
  return {
    calendar_facts: [...rq.calendar_facts, { key: 'nqs_due', value: formatLocalIso(dueAt) }],
    summary: [
      ...prefix('availability', av), ...prefix('incidents', inc), ...prefix('requests', rq), ...prefix('backups', bk), ...prefix('feeds', fd),
      { key: 'nqs_owner', value: ctx.nqs.owner }, { key: 'nqs_due', value: iso(dueAt), type: 'time' },
    ],
    tables: [
      av.tables[0]!,
      { ...av.tables[1]!, id: 'outages' },
      inc.tables[1]!,
      rq.tables[1]!,
      fd.tables[0]!,
      bk.tables[0]!,
    ],
    charts: av.charts,
    sections,
    notes: ['note_nqs', ...(av.notes ?? []), 'note_feeds_missing'],
  };
}

/** The yearly analysis is due at 18:00 Asia/Almaty of `due` (MM-DD) of that year. */
export function nqsDueAt(year: number, due: string): number {
  return fromLocal(dayNumber(`${year}-${due}`), 18 * 60);
}

export { parsePeriod };
