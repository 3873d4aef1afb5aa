import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import { parseDuration, type Clock } from '../clock.ts';
import type { Queryable } from '../store/store.ts';
import type { SystemName } from './incidents.ts';
import { sysName } from './incidents.ts';
import { dayOf, esc, page, when } from './layout.ts';
import { t, type Lang } from './text.ts';

// The public status page: no sign-in, no personal data, no raw alert text. A system's state comes from the
// severity of its open incidents (critical: down; major or minor: degraded); the words shown are the public notes
// staff wrote, maintenance comes from the probes' maintenance windows, and the 90-day bars from incidents per day.
// The rendered page is kept for a few seconds per language: the store is asked at most once per period.

export type SystemState = 'operational' | 'degraded' | 'down';
const RANK: Record<string, number> = { critical: 2, major: 1, minor: 1 };
const STATE: SystemState[] = ['operational', 'degraded', 'down'];
const DAY = 86_400_000;
const ZONE_OFFSET = 5 * 3_600_000; // Astana: UTC+5 all year

export interface MaintenanceInfo { name: string; systems: string[]; start: number; end: number }

/** Windows active now or starting within `horizon`. */
export function upcomingMaintenance(windows: ReadonlyArray<Record<string, unknown>>, now: number, horizon = 14 * DAY): MaintenanceInfo[] {
  const out: MaintenanceInfo[] = [];
  for (const w of windows) {
    const systems = Array.isArray(w.systems) ? (w.systems as string[]) : [];
    const name = String(w.name ?? '');
    if (typeof w.start === 'string' && typeof w.end === 'string') {
      const s = Date.parse(w.start);
      const e = Date.parse(w.end);
      if (e > now && s < now + horizon) out.push({ name, systems, start: s, end: e });
      continue;
    }
    if (typeof w.cron !== 'string') continue;
    const dur = parseDuration(String(w.duration ?? '0s')) ?? 0;
    try {
      const it = CronExpressionParser.parse(w.cron, { currentDate: new Date(now - dur), tz: String(w.timezone ?? 'UTC') });
      for (let i = 0; i < 20; i++) {
        const s = it.next().getTime();
        if (s >= now + horizon) break;
        if (s + dur > now) {
          out.push({ name, systems, start: s, end: s + dur });
          break;
        }
      }
    } catch {
      // an invalid expression was refused by check-config; nothing to announce
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

export interface StatusData {
  systems: Array<{ id: string; state: SystemState; days: number[] }>;
  notes: Array<{ system: string; text: string; at: number; resolved: boolean }>;
  maintenance: MaintenanceInfo[];
  at: number;
}

export async function statusData(q: Queryable, systems: readonly SystemName[], windows: ReadonlyArray<Record<string, unknown>>, now: number, includeInternal = false): Promise<StatusData> {
  const today = Math.floor((now + ZONE_OFFSET) / DAY);
  const from = (today - 89) * DAY - ZONE_OFFSET;
  const [open, hist, notes] = await Promise.all([
    q.query<{ system: string; severity: string }>(`SELECT DISTINCT system, severity FROM incidents WHERE status <> 'resolved' AND severity IN ('critical', 'major', 'minor') AND coalesce(labels->>'maintenance', '') <> 'true'`),
    q.query<{ system: string; severity: string; opened_at: Date | string; resolved_at: Date | string | null }>(
      `SELECT system, severity, opened_at, resolved_at FROM incidents
        WHERE severity IN ('critical', 'major', 'minor') AND coalesce(labels->>'maintenance', '') <> 'true'
          AND (status <> 'resolved' OR resolved_at >= $1) LIMIT 100000`, [new Date(from).toISOString()]),
    q.query<{ system: string; text: string; created_at: Date | string; status: string }>(
      `SELECT n.system, n.text, n.created_at, i.status FROM public_notes n JOIN incidents i ON i.id = n.incident_id
        WHERE n.created_at >= $1 AND (i.status <> 'resolved' OR i.resolved_at >= $2) ORDER BY n.created_at DESC LIMIT 50`,
      [new Date(now - 30 * DAY).toISOString(), new Date(now - 3 * DAY).toISOString()]),
  ]);
  const visible = systems.filter((s) => includeInternal || s.kind !== 'internal');
  const days = new Map(visible.map((s) => [s.id, new Array<number>(90).fill(0)]));
  for (const r of hist.rows) {
    const bars = days.get(r.system);
    if (!bars) continue;
    const a = Math.floor((new Date(r.opened_at).getTime() + ZONE_OFFSET) / DAY) - (today - 89);
    const b = Math.floor(((r.resolved_at ? new Date(r.resolved_at).getTime() : now) + ZONE_OFFSET) / DAY) - (today - 89);
    for (let i = Math.max(0, a); i <= Math.min(89, b); i++) bars[i] = Math.max(bars[i]!, RANK[r.severity] ?? 0);
  }
  const state = new Map<string, number>();
  for (const r of open.rows) state.set(r.system, Math.max(state.get(r.system) ?? 0, RANK[r.severity] ?? 0));
  return {
    systems: visible.map((s) => ({ id: s.id, state: STATE[state.get(s.id) ?? 0]!, days: days.get(s.id)! })),
    notes: notes.rows.filter((n) => visible.some((s) => s.id === n.system)).map((n) => ({ system: n.system, text: n.text, at: new Date(n.created_at).getTime(), resolved: n.status === 'resolved' })),
    maintenance: upcomingMaintenance(windows, now),
    at: now,
  };
}

/** 90 bars, oldest first: green, amber (degraded) or red (down) for the worst state of each Astana day. */
export function historyBars(lang: Lang, days: number[], at: number): string {
  const cls = ['', ' class="d"', ' class="x"'];
  const first = Math.floor((at + ZONE_OFFSET) / DAY) - 89;
  return `<div class="bars" role="img" aria-label="${esc(`${t(lang, 'history')}: ${days.filter((x) => x === 2).length} × ${t(lang, 'down')}, ${days.filter((x) => x === 1).length} × ${t(lang, 'degraded')}`)}">${days
    .map((v, i) => `<span${cls[v]} title="${dayOf((first + i) * DAY - ZONE_OFFSET)}"></span>`).join('')}</div>
<div class="legend"><span>${t(lang, 'daysAgo90')}</span><span>${t(lang, 'today')}</span></div>`;
}

export function renderStatus(lang: Lang, d: StatusData, systems: readonly SystemName[]): string {
  const name = (id: string) => sysName(systems, id, lang);
  const rows = d.systems.map((s) => `<section class="card system" data-system="${esc(s.id)}" data-state="${s.state}">
<h2>${esc(name(s.id))}</h2>
<p class="${s.state}">${t(lang, s.state)}</p>
${historyBars(lang, s.days, d.at)}
</section>`).join('\n');
  const notes = d.notes.length ? `<h2>${t(lang, 'publicNotes')}</h2><ul id="notes">${d.notes.map((n) => `<li><strong>${esc(name(n.system))}</strong> · ${esc(when(n.at))}: ${esc(n.text)}</li>`).join('')}</ul>` : '';
  const maint = `<h2>${t(lang, 'maintenance')}</h2>${d.maintenance.length ? `<ul id="maintenance">${d.maintenance.map((m) => `<li>${esc(when(m.start))} – ${esc(when(m.end))}${m.start <= d.at ? ` (${t(lang, 'maintenanceNow')})` : ''}: ${esc(m.systems.map(name).join(', ') || '—')}</li>`).join('')}</ul>` : `<p>${t(lang, 'noMaintenance')}</p>`}`;
  return page({ lang, here: '/status', title: t(lang, 'statusTitle'), publicPage: true }, `${notes}${maint}
<h2>${t(lang, 'history')}</h2>
<div class="grid">${rows}</div>
<p class="muted">${t(lang, 'updated')}: ${esc(when(d.at))} (${t(lang, 'zone')}) · <a href="/report?lang=${lang === 'kk' ? 'kk' : 'ru'}">${t(lang, 'reportProblem')}</a></p>`);
}

export interface RenderedPage { body: Buffer; etag: string }

/** The rendered page per language (bytes and their ETag), kept for `ttlMs`; concurrent misses share one render. */
export class StatusCache {
  #pages = new Map<Lang, { at: number; page: Promise<RenderedPage> }>();
  constructor(private readonly clock: Clock, private readonly render: (lang: Lang) => Promise<string>, private readonly ttlMs = 5_000) {}
  get(lang: Lang): Promise<RenderedPage> {
    const now = this.clock.now();
    const hit = this.#pages.get(lang);
    if (hit && now - hit.at < this.ttlMs) return hit.page;
    const page = this.render(lang).then((html) => {
      const body = Buffer.from(html);
      return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    });
    this.#pages.set(lang, { at: now, page });
    page.catch(() => this.#pages.delete(lang));
    return page;
  }
}
