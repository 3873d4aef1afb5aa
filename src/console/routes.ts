import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEntry } from '../access/audit.ts';
import { allows, type Principal, type Role, type TokenVerifier } from '../access/tokens.ts';
import { parseDuration, type Clock } from '../clock.ts';
import { incidentLocations } from '../cluster/quorum.ts';
import { KuzetError } from '../errors.ts';
import { consumeAckToken, verifyAckToken } from '../escalation/ack-link.ts';
import type { EscalationConfig } from '../escalation/config.ts';
import { subjectLabels } from '../escalation/match.ts';
import { createSilence } from '../escalation/silences.ts';
import type { IncidentEngine } from '../incidents/engine.ts';
import type { Runbook } from '../notify/runbooks.ts';
import { chooseRunbook } from '../notify/runbooks.ts';
import type { Store } from '../store/store.ts';
import { PERIODS, renderIncident, renderList, SOURCES, sysName, type SystemName } from './incidents.ts';
import { esc, langOf, page, parseCookies, sendPage, when } from './layout.ts';
import { ackLinkRecipient, addPublicNote, getIncidentRow, incidentEscalations, incidentTimeline, linkedRequests, listForConsole, nextSteps, publicNotesOf } from './queries.ts';
import { registerLive } from './live.ts';
import { randomId, sameToken, SESSION_COOKIE, SESSION_TTL_MS, sessionCookie, Sessions, type Session } from './sessions.ts';
import { severityWord, t, type Key, type Lang } from './text.ts';
import { SEVERITIES } from '../signals/signal.ts';

// The console: sign-in with a token, the incident list and the incident page, and the acknowledge-link pages.
// Every form is a plain POST carrying the session's CSRF token; every action runs as the signed-in token's name
// (the server's audit hook records it) and answers with a redirect back to the page.

export interface ConsoleDeps {
  store: Store;
  clock: Clock;
  verifier: TokenVerifier;
  engine: Pick<IncidentEngine, 'acknowledge' | 'resolve' | 'note'>;
  systems: () => readonly SystemName[];
  escalation: () => EscalationConfig;
  runbooks: () => readonly Runbook[];
  /** https public address: cookies get Secure. */
  secure: () => boolean;
  audit?: (e: AuditEntry) => void;
  /** How often a live page's stream compares versions (ms). */
  liveEveryMs?: number;
  /** More console pages registered in the same scope (queue, silences, …). */
  extra?: (scope: FastifyInstance, h: ConsoleHelpers) => void | Promise<void>;
}

export interface ConsoleHelpers {
  /** A preHandler: a signed-in session with at least this role; GETs without one go to /login?next=…. */
  need: (role: Role) => (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  frame: (req: FastifyRequest, reply: FastifyReply, title: string) => { lang: Lang; here: string; title: string; user?: { name: string; role: string; csrf: string } };
  fail: (req: FastifyRequest, reply: FastifyReply, status: number, message: string) => FastifyReply;
  actor: (req: FastifyRequest) => string;
  back: (req: FastifyRequest, reply: FastifyReply, to: string) => FastifyReply;
  form: (req: FastifyRequest) => Record<string, string>;
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: Session;
  }
}

const LOGIN_CSRF = 'kuzet_login_csrf';
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Only a local path: never another host (an open redirect through ?next=). */
export function safeNext(v: unknown): string {
  return typeof v === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(v) && v.length < 500 ? v : '/incidents';
}

export async function registerConsoleRoutes(app: FastifyInstance, d: ConsoleDeps): Promise<{ sessions: Sessions }> {
  const sessions = new Sessions(d.store, d.clock);
  await app.register(async (scope) => {
    // Pages, not API: they stay out of the OpenAPI document.
    scope.addHook('onRoute', (opts) => {
      opts.schema = { ...(opts.schema ?? {}), hide: true };
    });
    if (scope.hasContentTypeParser('application/x-www-form-urlencoded')) scope.removeContentTypeParser('application/x-www-form-urlencoded');
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
      const form: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(String(body))) if (!(k in form)) form[k] = v;
      done(null, form);
    });
    const form = (req: FastifyRequest) => (req.body && typeof req.body === 'object' ? (req.body as Record<string, string>) : {});
    const here = (req: FastifyRequest) => req.url;
    const frame: ConsoleHelpers['frame'] = (req, reply, title) => {
      const s = req.consoleSession;
      return { lang: langOf(req, reply), here: here(req), title, user: s ? { name: s.principal.name, role: s.principal.role, csrf: s.csrf } : undefined };
    };
    const fail: ConsoleHelpers['fail'] = (req, reply, status, message) => {
      const f = frame(req, reply, t(langOf(req), status === 404 ? 'notFound' : 'error'));
      return sendPage(reply, status, page(f, `<div class="errors" role="alert"><p id="error-message">${esc(message)}</p></div>
<p><a href="${esc(req.method === 'GET' ? '/incidents' : safeNext(new URL(req.url, 'http://x').pathname))}">${t(f.lang, 'back')}</a></p>`));
    };
    const actor = (req: FastifyRequest) => `token:${req.consoleSession?.principal.name ?? 'anonymous'}`;
    const back: ConsoleHelpers['back'] = (req, reply, to) => reply.code(303).header('location', `${to}${to.includes('?') ? '&' : '?'}lang=${langOf(req)}`).send();

    const need: ConsoleHelpers['need'] = (role) => async (req, reply) => {
      const s = await sessions.get(parseCookies(req)[SESSION_COOKIE]);
      if (!s) {
        if (req.method === 'GET') return reply.code(303).header('location', `/login?next=${encodeURIComponent(req.url)}`).send();
        return fail(req, reply, 401, t(langOf(req), 'csrf'));
      }
      req.consoleSession = s;
      req.principal = s.principal; // the server's audit hook records mutating calls as this person
      if (MUTATING.has(req.method) && !sameToken(form(req)._csrf, s.csrf)) return fail(req, reply, 403, t(langOf(req), 'csrf'));
      if (!allows(s.principal.role, role)) return fail(req, reply, 403, `${t(langOf(req), 'forbidden')} (${s.principal.role} → ${role})`);
    };
    const h: ConsoleHelpers = { need, frame, fail, actor, back, form };
    registerLive(scope, { store: d.store, clock: d.clock, need: need('viewer'), everyMs: d.liveEveryMs });

    // Errors thrown by the engine (unknown incident, already resolved) are pages too.
    scope.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      if (err instanceof KuzetError && err.statusCode < 500) return fail(req, reply, err.statusCode, err.message);
      if (err.statusCode && err.statusCode < 500) return fail(req, reply, err.statusCode, err.message);
      throw err;
    });

    // ---- sign-in ----
    const loginPage = (req: FastifyRequest, reply: FastifyReply, status: number, error?: string) => {
      const lang = langOf(req, reply);
      const token = randomId();
      const q = req.query as Record<string, unknown>;
      const next = safeNext(q.next ?? form(req).next);
      reply.header('set-cookie', `${LOGIN_CSRF}=${token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600${d.secure() ? '; Secure' : ''}`);
      return sendPage(reply, status, page({ lang, here: req.url, title: t(lang, 'signIn') }, `${error ? `<div class="errors" role="alert"><p>${esc(error)}</p></div>` : ''}
<form method="post" action="/login?lang=${lang}">
<input type="hidden" name="_csrf" value="${token}">
<input type="hidden" name="next" value="${esc(next)}">
<label for="token">${t(lang, 'token')}</label>
<input id="token" name="token" type="password" autocomplete="current-password" required maxlength="256" aria-describedby="token-hint">
<div class="hint" id="token-hint">${t(lang, 'tokenHint')}</div>
<button type="submit">${t(lang, 'signIn')}</button>
</form>`));
    };
    scope.get('/login', async (req, reply) => loginPage(req, reply, 200));
    scope.post('/login', async (req, reply) => {
      const f = form(req);
      const lang = langOf(req);
      if (!sameToken(f._csrf, parseCookies(req)[LOGIN_CSRF])) return loginPage(req, reply, 403, t(lang, 'csrf'));
      const p: Principal | null = typeof f.token === 'string' && f.token ? await d.verifier.verify(f.token.trim()) : null;
      if (!p) return loginPage(req, reply, 401, t(lang, 'badToken'));
      req.principal = p;
      const s = await sessions.create(p, req.ip);
      return reply.code(303).headers({
        'set-cookie': [sessionCookie(s.id, Math.floor(SESSION_TTL_MS / 1000), d.secure()), `${LOGIN_CSRF}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0`],
        location: safeNext(f.next),
        'cache-control': 'no-store',
      }).send();
    });
    scope.post('/logout', { preHandler: need('viewer') }, async (req, reply) => {
      await sessions.destroy(parseCookies(req)[SESSION_COOKIE]);
      return reply.code(303).headers({ 'set-cookie': sessionCookie('', 0, d.secure()), location: '/login' }).send();
    });
    scope.get('/', async (_req, reply) => reply.code(303).header('location', '/incidents').send());

    // ---- incidents ----
    scope.get('/incidents', { preHandler: need('viewer') }, async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      const pick = <T extends string>(v: string | undefined, allowed: readonly T[]) => (v && (allowed as readonly string[]).includes(v) ? (v as T) : undefined);
      const systems = d.systems();
      const filter = {
        system: pick(q.system, systems.map((s) => s.id)),
        severity: pick(q.severity, SEVERITIES),
        source: pick(q.source, SOURCES),
        status: pick(q.status, ['open', 'acknowledged', 'resolved', 'unresolved'] as const),
        period: pick(q.period, Object.keys(PERIODS) as Array<keyof typeof PERIODS>),
      };
      const now = d.clock.now();
      const list = await listForConsole(d.store, {
        ...filter,
        since: filter.period ? now - PERIODS[filter.period] : undefined,
        after: typeof q.after === 'string' ? q.after : undefined,
      });
      const f = { ...frame(req, reply, t(langOf(req), 'incidents')), live: '/live' };
      return sendPage(reply, 200, page(f, renderList({ lang: f.lang, items: list.items, next: list.next, now, systems, filter })));
    });

    const idOf = (req: FastifyRequest): number | null => {
      const v = (req.params as { id?: string }).id ?? '';
      return /^\d{1,15}$/.test(v) && Number(v) > 0 ? Number(v) : null;
    };
    scope.get('/incidents/:id', { preHandler: need('viewer') }, async (req, reply) => {
      const id = idOf(req);
      const lang = langOf(req, reply);
      const inc = id === null ? null : await getIncidentRow(d.store, id);
      if (!inc || id === null) return fail(req, reply, 404, `${t(lang, 'incident')} #${(req.params as { id: string }).id}: ${t(lang, 'notFound')}`);
      const [timeline, escalations, steps, requests, publicNotes, locations] = await Promise.all([
        incidentTimeline(d.store, id), incidentEscalations(d.store, id), nextSteps(d.store, inc.status === 'open' ? [id] : []), linkedRequests(d.store, id), publicNotesOf(d.store, id),
        incidentLocations(d.store, { id, source: inc.source, check: inc.check }, d.clock.now()),
      ]);
      const runbook = chooseRunbook(d.runbooks(), subjectLabels({ ...inc, labels: inc.labels }));
      const f = { ...frame(req, reply, `${t(lang, 'incident')} #${id}: ${sysName(d.systems(), inc.system, lang)}`), live: `/live?incident=${id}` };
      const flash = (req.query as Record<string, string>).done;
      return sendPage(reply, 200, page(f, renderIncident({
        lang, inc, now: d.clock.now(), systems: d.systems(), timeline, escalations, nextStep: steps.get(id) ?? null, requests, runbook, publicNotes,
        csrf: req.consoleSession!.csrf, flash: flash ? t(lang, 'done') : undefined, locations,
        may: (role) => allows(req.consoleSession!.principal.role, role),
      })));
    });

    const incidentAction = (path: string, role: Role, run: (id: number, req: FastifyRequest) => Promise<string | void>) =>
      scope.post(`/incidents/:id/${path}`, { preHandler: need(role) }, async (req, reply) => {
        const id = idOf(req);
        if (id === null) return fail(req, reply, 404, `${t(langOf(req), 'incident')}: ${t(langOf(req), 'notFound')}`);
        const problem = await run(id, req);
        if (problem) return fail(req, reply, 400, problem);
        return back(req, reply, `/incidents/${id}?done=${path}`);
      });
    const text = (v: unknown, max: number) => (typeof v === 'string' ? v.trim().slice(0, max) : '');
    incidentAction('ack', 'oncall', async (id, req) => void (await d.engine.acknowledge(id, actor(req), text(form(req).note, 4000) || undefined)));
    incidentAction('resolve', 'oncall', async (id, req) => void (await d.engine.resolve(id, actor(req), text(form(req).note, 4000) || undefined)));
    incidentAction('note', 'reporter', async (id, req) => {
      const body = text(form(req).text, 20_000);
      if (!body) return `text: ${t(langOf(req), 'invalidField')}`;
      await d.engine.note(id, actor(req), body);
    });
    incidentAction('silence', 'oncall', async (id, req) => {
      const f = form(req);
      const ms = ['1h', '4h', '24h', '7d'].includes(f.for ?? '') ? parseDuration(f.for!)! : null;
      const reason = text(f.reason, 1000);
      if (!ms) return `for: ${t(langOf(req), 'invalidField')}`;
      if (!reason) return `reason: ${t(langOf(req), 'invalidField')}`;
      const inc = await getIncidentRow(d.store, id);
      if (!inc) throw new KuzetError('KZ_ERR_NOT_FOUND', `incident ${id} not found`, 404);
      const now = d.clock.now();
      const s = await createSilence(d.store, { matchers: { system: inc.system, check: inc.check }, endsAt: now + ms, author: actor(req), reason }, now);
      await d.engine.note(id, actor(req), `silence #${s.id} until ${new Date(now + ms).toISOString()}: ${reason}`);
    });
    incidentAction('public-note', 'reporter', async (id, req) => {
      const body = text(form(req).text, 2000);
      if (!body) return `text: ${t(langOf(req), 'invalidField')}`;
      const inc = await getIncidentRow(d.store, id);
      if (!inc) throw new KuzetError('KZ_ERR_NOT_FOUND', `incident ${id} not found`, 404);
      await addPublicNote(d.store, id, inc.system, body, req.consoleSession!.principal.name, d.clock.now());
    });

    // ---- acknowledge links: pages, not JSON ----
    const REFUSAL: Record<string, [number, Key]> = { malformed: [400, 'link_malformed'], forged: [403, 'link_forged'], expired: [410, 'link_expired'], used: [409, 'link_used'] };
    const ackPage = (req: FastifyRequest, reply: FastifyReply, status: number, body: string) => {
      const lang = langOf(req, reply);
      return sendPage(reply, status, page({ lang, here: req.url, title: t(lang, 'ackTitle'), publicPage: true }, body));
    };
    const ackRefused = (req: FastifyRequest, reply: FastifyReply, reason: string) => {
      const [status, key] = REFUSAL[reason] ?? [400, 'link_malformed'];
      return ackPage(req, reply, status, `<div class="errors" role="alert"><p id="error-message">${t(langOf(req), key)}</p></div>`);
    };
    const tokenOf = (req: FastifyRequest) => String((req.params as { token?: string }).token ?? '').slice(0, 300);
    scope.get('/ack/:token', async (req, reply) => {
      const lang = langOf(req, reply);
      const secret = d.escalation().ack_links?.secret;
      if (!secret) return ackPage(req, reply, 404, `<div class="errors" role="alert"><p>${t(lang, 'link_disabled')}</p></div>`);
      const token = tokenOf(req);
      const v = verifyAckToken(secret, token, d.clock.now());
      if (!v.ok) return ackRefused(req, reply, v.reason);
      const inc = await getIncidentRow(d.store, v.claims.incidentId);
      if (!inc) return ackPage(req, reply, 404, `<div class="errors" role="alert"><p>${t(lang, 'notFound')}</p></div>`);
      const person = await ackLinkRecipient(d.store, inc.id, v.claims.outboxId);
      return ackPage(req, reply, 200, `<dl class="card">
<dt>${t(lang, 'incident')}</dt><dd>#${inc.id} · ${esc(inc.title)}</dd>
<dt>${t(lang, 'system')}</dt><dd>${esc(sysName(d.systems(), inc.system, lang))}</dd>
<dt>${t(lang, 'severity')}</dt><dd class="sev-${esc(inc.severity)}">${esc(severityWord(lang, inc.severity))}</dd>
<dt>${t(lang, 'status')}</dt><dd id="incident-status">${t(lang, `s_${inc.status}` as Key)}</dd>
<dt>${t(lang, 'opened')}</dt><dd>${esc(when(inc.opened_at))}</dd>
${person ? `<dt>${t(lang, 'ackAs')}</dt><dd id="ack-person">${esc(person)}</dd>` : ''}
</dl>
${inc.status === 'open' ? `<form method="post" action="/ack/${esc(encodeURIComponent(token))}?lang=${lang}"><button type="submit" id="ack-confirm">${t(lang, 'ackConfirm')}</button></form>` : ''}
<p><a href="/incidents/${inc.id}">${t(lang, 'openIncident')}</a></p>`);
    });
    scope.post('/ack/:token', async (req, reply) => {
      const lang = langOf(req, reply);
      const secret = d.escalation().ack_links?.secret;
      if (!secret) return ackPage(req, reply, 404, `<div class="errors" role="alert"><p>${t(lang, 'link_disabled')}</p></div>`);
      const token = tokenOf(req);
      const now = d.clock.now();
      const pre = verifyAckToken(secret, token, now);
      const person = pre.ok ? await ackLinkRecipient(d.store, pre.claims.incidentId, pre.claims.outboxId) : null;
      const who = person ?? 'ack-link';
      const v = await d.store.tx((q) => consumeAckToken(q, secret, token, now, who));
      if (!v.ok) return ackRefused(req, reply, v.reason);
      try {
        await d.engine.acknowledge(v.claims.incidentId, who, 'acknowledged from a notification link');
      } catch (err) {
        if (err instanceof KuzetError && err.statusCode < 500) return ackPage(req, reply, err.statusCode, `<div class="errors" role="alert"><p id="error-message">${esc(err.message)}</p></div><p><a href="/incidents/${v.claims.incidentId}">${t(lang, 'openIncident')}</a></p>`);
        throw err;
      }
      d.audit?.({ actor: who, action: 'incident.acknowledge', target: `incident:${v.claims.incidentId}`, remote: req.ip, outcome: 'ok', detail: { via: 'console ack link' } });
      return ackPage(req, reply, 200, `<div class="ok" role="status"><p id="ack-done">${t(lang, 'ackDone')}</p><p>${t(lang, 'incident')} #${v.claims.incidentId}${person ? ` · ${esc(person)}` : ''}</p></div>
<p><a href="/incidents/${v.claims.incidentId}">${t(lang, 'openIncident')}</a></p>`);
    });

    await d.extra?.(scope, h);
  });
  return { sessions };
}
