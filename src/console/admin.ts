import type { FastifyInstance } from 'fastify';
import { listOutbox, retryDeadLetter } from '../escalation/outbox.ts';
import { onCallNow } from '../escalation/rotation.ts';
import { createSilence, expireSilence, listSilences } from '../escalation/silences.ts';
import { esc, page, sendPage, when } from './layout.ts';
import { historyBars, statusData } from './status.ts';
import { notificationState, sysName, timeLeft } from './incidents.ts';
import type { ConsoleAppDeps } from './index.ts';
import type { ConsoleHelpers } from './routes.ts';
import { t, type Key } from './text.ts';
import { parseDuration } from '../clock.ts';
import { KuzetError } from '../errors.ts';
import { fromLocal, toLocal } from '../requests/calendar.ts';
import { EXTENSIONS, type RequestForm } from '../requests/forms.ts';
import { duration } from './text.ts';

// The console's simple tables: on call, silences, the requests queue, dead letters, backups, systems, reports.

/** Working time between two instants: 09:00–18:00 Astana on the calendar's working days. */
export function workingMsBetween(isWorkingDay: (day: number) => boolean, from: number, to: number): number {
  if (to <= from) return 0;
  const a = toLocal(from);
  const b = toLocal(to);
  let ms = 0;
  for (let day = a.day; day <= b.day && day - a.day < 400; day++) {
    if (!isWorkingDay(day)) continue;
    const start = Math.max(fromLocal(day, 9 * 60), from);
    const end = Math.min(fromLocal(day, 18 * 60), to);
    if (end > start) ms += end - start;
  }
  return ms;
}

const REPORT_KINDS = ['availability', 'incidents', 'requests', 'backups', 'feeds', 'nqs-yearly'] as const;
const csrf = (c: string) => `<input type="hidden" name="_csrf" value="${esc(c)}">`;
const table = (head: string[], rows: string[], id = '') =>
  `<div class="scroll"><table${id ? ` id="${id}"` : ''}><thead><tr>${head.map((x) => `<th scope="col">${esc(x)}</th>`).join('')}</tr></thead><tbody>${rows.join('\n') || `<tr><td colspan="${head.length}">—</td></tr>`}</tbody></table></div>`;

export async function registerAdminPages(scope: FastifyInstance, h: ConsoleHelpers, d: ConsoleAppDeps): Promise<void> {
  const { need, frame, back, form, actor } = h;

  scope.get('/oncall', { preHandler: need('viewer') }, async (req, reply) => {
    const f = frame(req, reply, t(h.frame(req, reply, '').lang, 'oncall'));
    const now = d.clock.now();
    const list = onCallNow(d.escalation().rotations, now);
    const rows = list.map((o) => `<tr><td>${esc(o.rotation)}</td><td><strong>${esc(o.person ?? '—')}</strong>${o.override ? ' (override)' : ''}</td><td>${esc(o.layer ?? '')}</td><td>${esc(when(o.until))}</td>
<td>${o.layers.filter((l) => !l.covering || l.end > now).map((l) => `${esc(l.layer)}: ${esc(l.person)} ${esc(when(l.start))} → ${esc(when(l.end))}`).join('<br>')}</td></tr>`);
    return sendPage(reply, 200, page(f, table([t(f.lang, 'rotation'), t(f.lang, 'onCallNow'), t(f.lang, 'layer'), t(f.lang, 'until'), t(f.lang, 'nextHandoffs')], rows, 'oncall')));
  });

  scope.get('/silences', { preHandler: need('viewer') }, async (req, reply) => {
    const f = frame(req, reply, t(frame(req, reply, '').lang, 'silences'));
    const list = await listSilences(d.store, false, d.clock.now());
    const rows = list.map((s) => `<tr><td>${s.id}</td><td>${esc(Object.entries(s.matchers).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(', '))}</td>
<td>${esc(when(s.startsAt))}</td><td>${esc(when(s.endsAt))}</td><td>${esc(s.author)}</td><td>${esc(s.reason)}</td>
<td><form method="post" action="/silences/${s.id}/expire?lang=${f.lang}">${csrf(f.user!.csrf)}<button type="submit" aria-label="${t(f.lang, 'expire')} #${s.id}">${t(f.lang, 'expire')}</button></form></td></tr>`);
    const systems = d.systems();
    return sendPage(reply, 200, page(f, `${table(['#', t(f.lang, 'matchers'), t(f.lang, 'starts'), t(f.lang, 'ends'), t(f.lang, 'author'), t(f.lang, 'reason'), ''], rows, 'silences')}
<h2>${t(f.lang, 'newSilence')}</h2>
<form method="post" action="/silences?lang=${f.lang}" class="card">${csrf(f.user!.csrf)}
<label for="s-system">${t(f.lang, 'system')}</label><select id="s-system" name="system" required>${systems.map((s) => `<option value="${esc(s.id)}">${esc(sysName(systems, s.id, f.lang))}</option>`).join('')}</select>
<label for="s-check">${t(f.lang, 'check')}</label><input id="s-check" name="check" maxlength="256">
<label for="s-for">${t(f.lang, 'until')}</label><select id="s-for" name="for"><option value="1h">${t(f.lang, 'h1')}</option><option value="4h">${t(f.lang, 'h4')}</option><option value="24h">${t(f.lang, 'h24')}</option><option value="7d">${t(f.lang, 'd7')}</option></select>
<label for="s-reason">${t(f.lang, 'reason')}</label><input id="s-reason" name="reason" required maxlength="1000">
<button type="submit">${t(f.lang, 'create')}</button></form>`));
  });
  scope.post('/silences', { preHandler: need('oncall') }, async (req, reply) => {
    const b = form(req);
    const lang = frame(req, reply, '').lang;
    const ms = ['1h', '4h', '24h', '7d'].includes(b.for ?? '') ? parseDuration(b.for!)! : null;
    if (!d.systems().some((s) => s.id === b.system)) return h.fail(req, reply, 400, `system: ${t(lang, 'invalidField')}`);
    if (!ms) return h.fail(req, reply, 400, `for: ${t(lang, 'invalidField')}`);
    if (!b.reason?.trim()) return h.fail(req, reply, 400, `reason: ${t(lang, 'invalidField')}`);
    const now = d.clock.now();
    const matchers: Record<string, string> = { system: b.system! };
    if (b.check?.trim()) matchers.check = b.check.trim().slice(0, 256);
    await createSilence(d.store, { matchers, endsAt: now + ms, author: actor(req), reason: b.reason.trim().slice(0, 1000) }, now);
    return back(req, reply, '/silences');
  });
  scope.post('/silences/:id/expire', { preHandler: need('oncall') }, async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    if (!Number.isInteger(id) || id < 1) throw new KuzetError('KZ_ERR_NOT_FOUND', 'silence not found', 404);
    await expireSilence(d.store, id, d.clock.now());
    return back(req, reply, '/silences');
  });

  scope.get('/requests', { preHandler: need('viewer') }, async (req, reply) => {
    const f = frame(req, reply, t(frame(req, reply, '').lang, 'requests'));
    const now = d.clock.now();
    // Ordered by the legal deadline; no personal data in the queue.
    const r = await d.store.query<{ id: number; number: string; kind: string; form: string; system: string; status: string; due_at: Date | string; extended_to: number | null }>(
      `SELECT id, number, kind, form, system, status, due_at, extended_to FROM requests WHERE status NOT IN ('answered', 'closed') ORDER BY due_at, id LIMIT 200`);
    const systems = d.systems();
    const c = csrf(f.user!.csrf);
    const calendar = d.calendar?.();
    const cal = calendar ? (day: number) => calendar.isWorkingDay(day) : null;
    const rows = r.rows.map((x) => {
      const id = Number(x.id);
      const due = new Date(x.due_at).getTime();
      const acts = [
        x.status === 'received' ? `<form method="post" action="/requests/${id}/acknowledge?lang=${f.lang}">${c}<button type="submit">${t(f.lang, 'acknowledge')}</button></form>` : '',
        x.status !== 'received' ? `<form method="post" action="/requests/${id}/answer?lang=${f.lang}">${c}<label for="answer-${id}">${t(f.lang, 'answer')}</label><textarea id="answer-${id}" name="answer" required maxlength="10000"></textarea>${x.kind === 'access' ? `<label for="decision-${id}">${t(f.lang, 'decision')}</label><select id="decision-${id}" name="decision"><option value="granted">${t(f.lang, 'granted')}</option><option value="refused">${t(f.lang, 'refused')}</option></select>` : ''}<button type="submit">${t(f.lang, 'sendAnswer')}</button></form>` : '',
        x.extended_to === null && EXTENSIONS[x.form as RequestForm] ? `<form method="post" action="/requests/${id}/extend?lang=${f.lang}">${c}<label for="reason-${id}">${t(f.lang, 'extendReason')}</label><select id="reason-${id}" name="reason"><option value="defect_fix">${t(f.lang, 'r_defect_fix')}</option><option value="platform_functioning">${t(f.lang, 'r_platform_functioning')}</option></select><label for="note-${id}">${t(f.lang, 'note')}</label><input id="note-${id}" name="note" required maxlength="2000"><button type="submit">${t(f.lang, 'extend')}</button></form>` : '',
      ].join('');
      return `<tr class="request-row" data-number="${esc(x.number)}"><td>${esc(x.number)}</td><td>${esc(sysName(systems, x.system, f.lang))}</td><td>${esc(x.kind)} / ${esc(x.form)}</td><td>${t(f.lang, `rq_${x.status}` as Key)}</td>
<td>${esc(when(due))}<br>${esc(timeLeft(f.lang, due, now))}${cal && due > now ? `<br><span class="working-left">${esc(duration(f.lang, workingMsBetween(cal, now, due)))} ${t(f.lang, 'workingLeft')}</span>` : ''}</td><td>${acts}</td></tr>`;
    });
    return sendPage(reply, 200, page(f, table([t(f.lang, 'number'), t(f.lang, 'system'), t(f.lang, 'kind'), t(f.lang, 'status'), t(f.lang, 'due'), t(f.lang, 'actions')], rows, 'requests')));
  });
  for (const action of ['acknowledge', 'answer'] as const) {
    scope.post(`/requests/:id/${action}`, { preHandler: need('reporter') }, async (req, reply) => {
      const id = Number((req.params as { id: string }).id);
      const b = form(req);
      if (action === 'answer' && !b.answer?.trim()) return h.fail(req, reply, 400, `answer: ${t(frame(req, reply, '').lang, 'invalidField')}`);
      const decision = b.decision === 'granted' || b.decision === 'refused' ? b.decision : undefined;
      await d.requests.transition(id, action, actor(req), action === 'answer' ? { answer: b.answer!.trim().slice(0, 10_000), decision } : {});
      return back(req, reply, '/requests');
    });
  }
  scope.post('/requests/:id/extend', { preHandler: need('reporter') }, async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    const b = form(req);
    const lang = frame(req, reply, '').lang;
    if (b.reason !== 'defect_fix' && b.reason !== 'platform_functioning') return h.fail(req, reply, 400, `reason: ${t(lang, 'invalidField')}`);
    if (!b.note?.trim()) return h.fail(req, reply, 400, `note: ${t(lang, 'invalidField')}`);
    await d.requests.extend(id, actor(req), b.reason, b.note.trim().slice(0, 2000));
    return back(req, reply, '/requests');
  });

  scope.get('/dead-letters', { preHandler: need('viewer') }, async (req, reply) => {
    const f = frame(req, reply, t(frame(req, reply, '').lang, 'deadLetters'));
    const list = await listOutbox(d.store, { state: 'dead', limit: 200 });
    const rows = list.map((n) => `<tr><td>${n.id}</td><td>${n.subjectKind === 'incident' ? `<a href="/incidents/${n.subjectId}">#${n.subjectId}</a>` : `${esc(n.subjectKind)} ${n.subjectId}`}</td>
<td>${esc(n.recipient.person ?? n.recipient.name ?? '—')}</td><td>${esc(n.channel)}</td><td>${t(f.lang, notificationState({ ...n, person: '', error: n.lastError, messageKind: '' }))}</td><td>${n.attempts}</td><td>${esc((n.lastError ?? '').slice(0, 300))}</td><td>${esc(when(n.createdAt))}</td>
<td><form method="post" action="/dead-letters/${n.id}/retry?lang=${f.lang}">${csrf(f.user!.csrf)}<button type="submit">${t(f.lang, 'retry')}</button></form></td></tr>`);
    return sendPage(reply, 200, page(f, table(['#', t(f.lang, 'incident'), t(f.lang, 'person'), t(f.lang, 'channel'), t(f.lang, 'state'), t(f.lang, 'attempts'), t(f.lang, 'lastError'), t(f.lang, 'when'), ''], rows, 'dead-letters')));
  });
  scope.post('/dead-letters/:id/retry', { preHandler: need('admin') }, async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    if (!Number.isInteger(id) || id < 1 || !(await retryDeadLetter(d.store, id, d.clock.now()))) throw new KuzetError('KZ_ERR_NOT_FOUND', `dead letter ${(req.params as { id: string }).id} not found`, 404);
    return back(req, reply, '/dead-letters');
  });

  scope.get('/backups', { preHandler: need('viewer') }, async (req, reply) => {
    const f = frame(req, reply, t(frame(req, reply, '').lang, 'backups'));
    const jobs = await d.backups.status();
    const run = (r: { startedAt?: number; status?: string } | null) => (r ? `${esc(when(r.startedAt ?? null))} · ${esc(r.status ?? '')}` : '—');
    const rows = jobs.map((j) => `<tr><td>${esc(j.name)}</td><td>${esc(sysName(d.systems(), j.system, f.lang))}</td><td>${run(j.lastBackup as never)}</td><td>${run(j.lastVerify as never)}</td><td>${run(j.lastDrill as never)}</td><td>${j.firing.length ? `<strong class="down">${esc(j.firing.map((x) => x.stage).join(', '))}</strong>` : 'ok'}</td></tr>`);
    return sendPage(reply, 200, page(f, table([t(f.lang, 'job'), t(f.lang, 'system'), t(f.lang, 'backups'), 'verify', 'drill', t(f.lang, 'state')], rows, 'backups')));
  });

  scope.get('/systems', { preHandler: need('viewer') }, async (req, reply) => {
    const f = frame(req, reply, t(frame(req, reply, '').lang, 'systems'));
    const now = d.clock.now();
    const [r, data] = await Promise.all([
      d.store.query<{ system: string; n: number }>(`SELECT system, count(*)::int AS n FROM incidents WHERE status <> 'resolved' GROUP BY system`),
      statusData(d.store, d.systems(), d.maintenance(), now, true),
    ]);
    const open = new Map(r.rows.map((x) => [x.system, Number(x.n)]));
    const rows = data.systems.map((s) => `<tr class="system-row" data-system="${esc(s.id)}" data-state="${s.state}"><td><a href="/incidents?system=${encodeURIComponent(s.id)}&amp;status=unresolved">${esc(sysName(d.systems(), s.id, f.lang))}</a></td>
<td class="${s.state}">${t(f.lang, s.state)}</td><td>${open.get(s.id) ?? 0}</td><td class="hist">${historyBars(f.lang, s.days, now)}</td></tr>`);
    return sendPage(reply, 200, page(f, `${table([t(f.lang, 'system'), t(f.lang, 'state'), t(f.lang, 'openIncidents'), t(f.lang, 'availability')], rows, 'systems')}<p><a href="/status?lang=${f.lang}">${t(f.lang, 'statusPage')}: /status</a></p>`));
  });

  scope.get('/reports', { preHandler: need('viewer') }, async (req, reply) => {
    const f = frame(req, reply, t(frame(req, reply, '').lang, 'reports'));
    const now = new Date(d.clock.now());
    const period = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    const rows = REPORT_KINDS.map((k) => `<tr><td>${k}</td><td>${(['html', 'csv', 'pdf'] as const).map((fmt) => `<a href="/api/v1/reports/${k}?period=${period}&amp;format=${fmt}&amp;lang=${f.lang}" download>${fmt.toUpperCase()}</a>`).join(' · ')}</td></tr>`);
    return sendPage(reply, 200, page(f, table([t(f.lang, 'reports'), t(f.lang, 'download')], rows, 'reports')));
  });
}
