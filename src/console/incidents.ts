import type { Role } from '../access/tokens.ts';
import type { IncidentLocations } from '../cluster/quorum.ts';
import type { Runbook } from '../notify/runbooks.ts';
import { SEVERITIES } from '../signals/signal.ts';
import { esc, when } from './layout.ts';
import type { EscalationRow, ListedIncident, TimelineRow } from './queries.ts';
import type { PublicIncident } from '../incidents/rows.ts';
import { codeWord, duration, severityWord, t, type Key, type Lang } from './text.ts';

// The incident list and the incident page (the one every message links to).

export const SOURCES = ['probe', 'log', 'soc', 'alertmanager', 'staff', 'user', 'backup'] as const;
export const PERIODS = { '1d': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000, '90d': 90 * 86_400_000 } as const;

export interface SystemName { id: string; name: string; name_ru?: string; name_kk?: string; kind?: string }
export const sysName = (systems: readonly SystemName[], id: string, lang: Lang): string => {
  const s = systems.find((x) => x.id === id);
  if (!s) return id;
  return (lang === 'kk' ? s.name_kk : lang === 'ru' ? s.name_ru : s.name) ?? s.name ?? id;
};

const stateKey = (s: string) => `s_${s}` as Key;
const csrfField = (csrf: string) => `<input type="hidden" name="_csrf" value="${esc(csrf)}">`;

export function timeLeft(lang: Lang, due: number, now: number): string {
  return due >= now ? `${duration(lang, due - now)} ${t(lang, 'left')}` : `${t(lang, 'overdue')} ${duration(lang, now - due)}`;
}

function select(id: string, label: string, options: Array<[string, string]>, value: string | undefined): string {
  return `<div><label for="${id}">${esc(label)}</label><select id="${id}" name="${id}">${options
    .map(([v, l]) => `<option value="${esc(v)}"${v === (value ?? '') ? ' selected' : ''}>${esc(l)}</option>`).join('')}</select></div>`;
}

export function renderList(o: {
  lang: Lang; items: ListedIncident[]; next: string | null; now: number; systems: readonly SystemName[];
  filter: Record<string, string | undefined>;
}): string {
  const { lang, now } = o;
  const anyOpt: [string, string] = ['', t(lang, 'any')];
  const form = `<form method="get" action="/incidents" class="filters" aria-label="${esc(t(lang, 'filter'))}">
<input type="hidden" name="lang" value="${lang}">
${select('system', t(lang, 'system'), [anyOpt, ...o.systems.map((s) => [s.id, sysName(o.systems, s.id, lang)] as [string, string])], o.filter.system)}
${select('severity', t(lang, 'severity'), [anyOpt, ...SEVERITIES.map((s) => [s, s] as [string, string])], o.filter.severity)}
${select('source', t(lang, 'source'), [anyOpt, ...SOURCES.map((s) => [s, s] as [string, string])], o.filter.source)}
${select('status', t(lang, 'status'), [anyOpt, ...(['unresolved', 'open', 'acknowledged', 'resolved'] as const).map((s) => [s, t(lang, stateKey(s))] as [string, string])], o.filter.status)}
${select('period', t(lang, 'period'), [anyOpt, ...(Object.keys(PERIODS) as Array<keyof typeof PERIODS>).map((p) => [p, t(lang, `p_${p}` as Key)] as [string, string])], o.filter.period)}
<div><button type="submit">${t(lang, 'filter')}</button></div>
</form>`;
  const rows = o.items.map((i) => {
    const opened = Date.parse(i.opened_at!);
    const next = i.nextStep ? `${t(lang, 'step')} ${i.nextStep.step + 1} · ${esc(when(i.nextStep.at))} (${esc(timeLeft(lang, i.nextStep.at, now))})` : '';
    return `<tr class="incident-row" data-id="${i.id}" data-status="${esc(i.status)}">
<td><a href="/incidents/${i.id}">#${i.id}</a></td>
<td>${esc(i.title)}</td>
<td>${esc(sysName(o.systems, i.system, lang))}</td>
<td class="sev-${esc(i.severity)}">${esc(severityWord(lang, i.severity))}</td>
<td>${esc(t(lang, stateKey(i.status)))}${i.flapping ? ` · ${t(lang, 'flapping')}` : ''}</td>
<td>${esc(i.source)}</td>
<td>${esc(duration(lang, (i.resolved_at ? Date.parse(i.resolved_at) : now) - opened))}</td>
<td>${esc(i.acknowledged_by ?? '')}</td>
<td>${next}</td></tr>`;
  }).join('\n');
  const q = new URLSearchParams(Object.entries(o.filter).filter(([, v]) => v) as Array<[string, string]>);
  if (o.next) q.set('after', o.next);
  return `${form}
<div class="scroll"><table><caption class="sr">${t(lang, 'incidents')}</caption><thead><tr>
<th scope="col">#</th><th scope="col">${t(lang, 'title')}</th><th scope="col">${t(lang, 'system')}</th><th scope="col">${t(lang, 'severity')}</th>
<th scope="col">${t(lang, 'status')}</th><th scope="col">${t(lang, 'source')}</th><th scope="col">${t(lang, 'age')}</th>
<th scope="col">${t(lang, 'ackedBy')}</th><th scope="col">${t(lang, 'nextStep')}</th></tr></thead>
<tbody>${rows || `<tr><td colspan="9">${t(lang, 'none')}</td></tr>`}</tbody></table></div>
${o.next ? `<p><a rel="next" href="/incidents?${esc(q.toString())}">${t(lang, 'more')} →</a></p>` : ''}`;
}

const NOTE_KEYS = ['note', 'text', 'summary', 'reason', 'policy', 'step', 'from', 'to', 'severity', 'breach', 'by'];

function eventText(lang: Lang, detail: Record<string, unknown>): string {
  // Only known, harmless keys: a detail never shows a link or a token. Severities in the page's language.
  const value = (k: string, v: string) => (k === 'severity' || k === 'from' || k === 'to' ? severityWord(lang, v) : v);
  return NOTE_KEYS.filter((k) => detail[k] !== undefined && detail[k] !== null && typeof detail[k] !== 'object')
    .map((k) => `${codeWord(lang, 'dk', k)}: ${value(k, String(detail[k]))}`).join(' · ');
}

export function notificationState(n: NonNullable<TimelineRow['notification']>): Key {
  if (n.state === 'sent') return 'st_sent';
  if (n.state === 'dead') return 'st_dead';
  if (n.state === 'failed_over') return 'st_failed_over';
  if (n.state === 'cancelled') return 'st_cancelled';
  return n.error ? 'st_failed' : 'st_pending';
}

function timelineRow(lang: Lang, r: TimelineRow): string {
  if (r.signal) {
    const s = r.signal;
    const reps = s.repeats > 1 ? ` <span class="repeats">×${s.repeats} (${t(lang, 'repeats')}, → ${esc(when(s.last))})</span>` : '';
    return `<tr class="tl-signal"><td>${esc(when(r.at))}</td><td>${t(lang, 'signal')}: <span data-status="${esc(s.status)}">${esc(codeWord(lang, 'sig', s.status))}</span> · <span class="sev-${esc(s.severity)}">${esc(severityWord(lang, s.severity))}</span>${reps}<br>${esc(s.summary)}</td><td>${esc(s.source)}</td></tr>`;
  }
  if (r.notification) {
    const n = r.notification;
    const st = notificationState(n);
    return `<tr class="tl-notification" data-state="${st}"><td>${esc(when(r.at))}</td><td>${t(lang, 'notification')} (${esc(n.messageKind)}) · ${esc(t(lang, 'channel'))}: ${esc(n.channel)} · <strong>${esc(t(lang, st))}</strong>${n.attempts > 1 ? ` · ${t(lang, 'attempts')}: ${n.attempts}` : ''}${n.error && st !== 'st_sent' ? `<br><span class="muted">${esc(n.error.slice(0, 300))}</span>` : ''}</td><td class="person">${esc(n.person)}</td></tr>`;
  }
  const e = r.event!;
  const detail = eventText(lang, e.detail);
  return `<tr class="tl-event" data-kind="${esc(e.kind)}"><td>${esc(when(r.at))}</td><td>${esc(codeWord(lang, 'ev', e.kind))}${detail ? `<br>${esc(detail)}` : ''}</td><td>${esc(e.actor)}</td></tr>`;
}

/** Each location's view of a probe confirmed from several places: status, since when, which instance, why, live or not. */
export function renderLocations(lang: Lang, loc: IncidentLocations | null): string {
  if (!loc) return '';
  const fill = (key: Key, v: Record<string, string | number>) => t(lang, key).replace(/\{(\w)\}/g, (_, k: string) => String(v[k] ?? ''));
  const head = [loc.required !== null ? fill('locNeeded', { k: loc.required, n: loc.of }) : '', fill('locDownCount', { d: loc.down })].filter(Boolean).join(' · ');
  const items = loc.views.map((v) => `<li class="card" data-location="${esc(v.location)}" data-status="${v.status}" data-live="${v.live}">
<strong>${esc(v.location)}</strong> · <span class="loc-status">${t(lang, v.status === 'down' ? 'locDown' : 'locUp')}</span> · <span class="loc-since">${esc(fill('locSince', { t: when(v.since) }))}</span>
· <span class="loc-live">${t(lang, v.live ? 'locLive' : 'locGone')}</span>${v.instance ? `<br>${t(lang, 'locInstance')}: <span class="loc-instance">${esc(v.instance)}</span>` : ''}${v.reason ? `<br>${t(lang, 'reason')}: <span class="loc-reason">${esc(v.reason)}</span>` : ''}</li>`).join('\n');
  return `<section id="locations" data-view="${loc.view}"><h2>${t(lang, 'locations')}</h2><p id="locations-needed">${esc(head)}</p>${loc.view === 'at_firing' ? `<p class="muted">${t(lang, 'locAtFiring')}</p>` : ''}<ul class="locations">${items}</ul></section>`;
}

export function renderIncident(o: {
  lang: Lang; inc: PublicIncident; now: number; systems: readonly SystemName[]; timeline: TimelineRow[]; escalations: EscalationRow[];
  nextStep: { at: number; step: number } | null; requests: Array<{ number: string; kind: string; status: string; dueAt: number }>;
  runbook: Runbook | null; publicNotes: Array<{ text: string; author: string; at: number }>; csrf: string; flash?: string;
  locations?: IncidentLocations | null;
  /** Whether the signed-in person's role may do what a form asks (forms it may not are not shown). */
  may?: (role: Role) => boolean;
}): string {
  const { lang, inc, now } = o;
  const opened = Date.parse(inc.opened_at!);
  const summary = `<dl class="card" id="summary">
<dt>${t(lang, 'status')}</dt><dd id="incident-status" data-status="${esc(inc.status)}">${esc(t(lang, stateKey(inc.status)))}${inc.flapping ? ` · ${t(lang, 'flapping')}` : ''}</dd>
<dt>${t(lang, 'system')}</dt><dd>${esc(sysName(o.systems, inc.system, lang))}</dd>
<dt>${t(lang, 'severity')}</dt><dd class="sev-${esc(inc.severity)}">${esc(severityWord(lang, inc.severity))}</dd>
<dt>${t(lang, 'source')} / ${t(lang, 'check')}</dt><dd>${esc(inc.source)} / ${esc(inc.check)}</dd>
<dt>${t(lang, 'opened')}</dt><dd>${esc(when(opened))} (${esc(duration(lang, now - opened))})</dd>
${inc.acknowledged_by ? `<dt>${t(lang, 'ackedBy')}</dt><dd id="acked-by">${esc(inc.acknowledged_by)} · ${esc(when(inc.acknowledged_at))}</dd>` : ''}
${inc.resolved_by ? `<dt>${t(lang, 'resolvedBy')}</dt><dd>${esc(inc.resolved_by)} · ${esc(when(inc.resolved_at))}</dd>` : ''}
${inc.reopen_count ? `<dt>${t(lang, 'reopened')}</dt><dd>${inc.reopen_count}</dd>` : ''}
<dt>${t(lang, 'signals')}</dt><dd>${inc.signal_count}</dd>
<dt>${t(lang, 'labels')}</dt><dd>${Object.entries(inc.labels).map(([k, v]) => `${esc(k)}=${esc(v)}`).join(', ')}</dd>
</dl>`;
  const dl = o.escalations.map((e) => `<tr><td>${esc(e.policy)}</td><td>${esc(e.state)}</td>
<td>${e.ackDue ? `${esc(when(e.ackDue))}${e.ackBreached ? ` · <strong>${t(lang, 'breached')}</strong>` : e.state === 'active' ? ` · ${esc(timeLeft(lang, e.ackDue, now))}` : ''}` : ''}</td>
<td>${e.resolveDue ? `${esc(when(e.resolveDue))}${e.resolveBreached ? ` · <strong>${t(lang, 'breached')}</strong>` : inc.status !== 'resolved' ? ` · ${esc(timeLeft(lang, e.resolveDue, now))}` : ''}` : ''}</td></tr>`).join('');
  const deadlines = `<h2>${t(lang, 'deadlines')}</h2>${o.nextStep ? `<p id="next-step">${t(lang, 'nextStep')}: ${t(lang, 'step')} ${o.nextStep.step + 1} · ${esc(when(o.nextStep.at))} (${esc(timeLeft(lang, o.nextStep.at, now))})</p>` : ''}
${dl ? `<div class="scroll"><table id="deadlines"><thead><tr><th scope="col">${t(lang, 'policy')}</th><th scope="col">${t(lang, 'state')}</th><th scope="col">${t(lang, 'ackDue')}</th><th scope="col">${t(lang, 'resolveDue')}</th></tr></thead><tbody>${dl}</tbody></table></div>` : `<p>${t(lang, 'none')}</p>`}`;
  const timeline = `<h2>${t(lang, 'timeline')}</h2><div class="scroll"><table id="timeline"><thead><tr><th scope="col">${t(lang, 'when')}</th><th scope="col">${t(lang, 'what')}</th><th scope="col">${t(lang, 'who')}</th></tr></thead>
<tbody>${o.timeline.map((r) => timelineRow(lang, r)).join('\n')}</tbody></table></div>`;
  const reqs = `<h2>${t(lang, 'userRequests')} (${o.requests.length})</h2>${o.requests.length ? `<ul>${o.requests.map((r) => `<li>${esc(r.number)} · ${esc(r.kind)} · ${esc(t(lang, `rq_${r.status}` as Key))} · ${t(lang, 'due')} ${esc(when(r.dueAt))}</li>`).join('')}</ul>` : `<p>${t(lang, 'none')}</p>`}`;
  const steps = o.runbook ? [...o.runbook.body.matchAll(/^\s*\d+\.\s+(.+)$/gm)].map((m) => m[1]!.trim()) : [];
  const runbook = `<h2>${t(lang, 'runbook')}</h2>${o.runbook ? `<div class="card" id="runbook"><strong>${esc(o.runbook.title)}</strong> <span class="muted">(${esc(o.runbook.name)})</span><ol>${steps.map((s) => `<li>${esc(s)}</li>`).join('')}</ol></div>` : `<p>${t(lang, 'noRunbook')}</p>`}`;
  const notes = o.publicNotes.length ? `<h2>${t(lang, 'publicNotes')}</h2><ul>${o.publicNotes.map((n) => `<li>${esc(when(n.at))} · ${esc(n.author)}: ${esc(n.text)}</li>`).join('')}</ul>` : '';
  const act = (path: string) => `/incidents/${inc.id}/${path}?lang=${lang}`;
  const may = o.may ?? (() => true);
  const open = inc.status !== 'resolved' && may('oncall');
  const forms = [inc.status === 'open' && may('oncall'), open, may('reporter')];
  const actions = !forms.some(Boolean) ? '' : `<h2>${t(lang, 'actions')}</h2><div class="grid">
${inc.status === 'open' && may('oncall') ? `<form method="post" action="${act('ack')}" class="card">${csrfField(o.csrf)}<label for="ack-note">${t(lang, 'noteOptional')}</label><input id="ack-note" name="note" maxlength="4000"><button type="submit" id="ack-button">${t(lang, 'acknowledge')}</button></form>` : ''}
${open ? `<form method="post" action="${act('resolve')}" class="card">${csrfField(o.csrf)}<label for="resolve-note">${t(lang, 'noteOptional')}</label><input id="resolve-note" name="note" maxlength="4000"><button type="submit" id="resolve-button">${t(lang, 'resolve')}</button></form>` : ''}
${may('reporter') ? `<form method="post" action="${act('note')}" class="card">${csrfField(o.csrf)}<label for="note-text">${t(lang, 'note')}</label><textarea id="note-text" name="text" required maxlength="20000"></textarea><button type="submit">${t(lang, 'addNote')}</button></form>` : ''}
${open ? `<form method="post" action="${act('silence')}" class="card">${csrfField(o.csrf)}<label for="silence-for">${t(lang, 'silenceFor')}</label><select id="silence-for" name="for"><option value="1h">${t(lang, 'h1')}</option><option value="4h">${t(lang, 'h4')}</option><option value="24h">${t(lang, 'h24')}</option><option value="7d">${t(lang, 'd7')}</option></select><label for="silence-reason">${t(lang, 'reason')}</label><input id="silence-reason" name="reason" required maxlength="1000"><button type="submit">${t(lang, 'silence')}</button></form>` : ''}
${may('reporter') ? `<form method="post" action="${act('public-note')}" class="card">${csrfField(o.csrf)}<label for="public-note">${t(lang, 'publicNote')}</label><textarea id="public-note" name="text" required maxlength="2000" aria-describedby="public-note-hint"></textarea><div class="hint" id="public-note-hint">${t(lang, 'publicNoteHint')}</div><button type="submit">${t(lang, 'publish')}</button></form>` : ''}
</div>`;
  const flash = o.flash ? `<div class="ok" role="status">${esc(o.flash)}</div>` : '';
  return `${flash}<p class="muted">${esc(inc.title)}</p>${summary}${renderLocations(lang, o.locations ?? null)}${actions}${deadlines}${timeline}${reqs}${runbook}${notes}`;
}
