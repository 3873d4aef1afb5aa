import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BackupService } from '../backups/index.ts';
import type { RequestsConfig } from '../requests/config.ts';
import type { RequestService } from '../requests/service.ts';
import { registerAdminPages } from './admin.ts';
import { sysName } from './incidents.ts';
import { esc, HTML_HEADERS, langOf, page, parseCookies, sendPage, when } from './layout.ts';
import { requestStatus, signRequestStatus, verifyRequestStatus, type RequestStatusView } from './request-status.ts';
import { registerConsoleRoutes, type ConsoleDeps } from './routes.ts';
import { randomId, sameToken } from './sessions.ts';
import { renderStatus, StatusCache, statusData } from './status.ts';
import { t, weekday, type Key, type Lang } from './text.ts';

// The console's entry point: the signed-in pages (routes.ts, admin.ts), the public status page and the users'
// request status page.

export interface ConsoleAppDeps extends Omit<ConsoleDeps, 'secure' | 'extra'> {
  publicUrl: () => string;
  requests: RequestService;
  requestsConfig: () => RequestsConfig;
  backups: BackupService;
  /** The probes' maintenance windows, as configured. */
  maintenance: () => ReadonlyArray<Record<string, unknown>>;
  /** Signs users' status links (the acknowledge-link secret); unset: no links, lookup by number and e-mail only. */
  statusSecret: () => string | undefined;
  /** The working calendar (the requests queue shows time left in working hours). */
  calendar?: () => { isWorkingDay(day: number): boolean };
  /** Seconds the public status page is kept rendered. */
  statusTtlMs?: number;
}

/** The signed status link mailed to a user. */
export function requestStatusUrl(base: string, secret: string | undefined, number: string): string | undefined {
  if (!secret || !base) return undefined;
  return `${base.replace(/\/+$/, '')}/request-status?t=${encodeURIComponent(signRequestStatus(secret, number))}`;
}

const RS_CSRF = 'kuzet_rs_csrf';
const STATUS_HEADERS = { ...HTML_HEADERS, 'cache-control': 'public, max-age=5, stale-while-revalidate=30', vary: 'Cookie' };

export async function registerConsole(app: FastifyInstance, d: ConsoleAppDeps) {
  const secure = () => d.publicUrl().startsWith('https://');
  const status = new StatusCache(d.clock, async (lang) => {
    const data = await statusData(d.store, d.systems(), d.maintenance(), d.clock.now());
    return renderStatus(lang, data, d.systems());
  }, d.statusTtlMs ?? 5_000);

  return registerConsoleRoutes(app, {
    ...d,
    secure,
    extra: async (scope, h) => {
      // Public: no cookie is read or written except the language, so shared caches may keep it for a few seconds.
      scope.get('/status', async (req, reply) => {
        const q = (req.query as Record<string, unknown>).lang;
        const lang: Lang = q === 'kk' || q === 'en' || q === 'ru' ? q : langOf(req);
        const p = await status.get(lang);
        reply.headers(STATUS_HEADERS).header('etag', p.etag);
        if (req.headers['if-none-match'] === p.etag) return reply.code(304).send();
        return reply.code(200).send(p.body);
      });

      const rsPage = (req: FastifyRequest, reply: FastifyReply, code: number, body: string) => {
        const lang = langOf(req, reply);
        return sendPage(reply, code, page({ lang, here: req.url, title: t(lang, 'requestStatus'), publicPage: true }, body));
      };
      const lookupForm = (req: FastifyRequest, reply: FastifyReply, code: number, error?: string) => {
        const lang = langOf(req, reply);
        const token = randomId();
        reply.header('set-cookie', `${RS_CSRF}=${token}; Path=/request-status; HttpOnly; SameSite=Strict; Max-Age=3600${secure() ? '; Secure' : ''}`);
        return rsPage(req, reply, code, `${error ? `<div class="errors" role="alert"><p id="error-message">${esc(error)}</p></div>` : ''}
<form method="post" action="/request-status?lang=${lang}">
<input type="hidden" name="_csrf" value="${token}">
<label for="number">${t(lang, 'requestNumber')}</label>
<input id="number" name="number" required maxlength="30" placeholder="R-2026-000123" autocomplete="off">
<label for="email">${t(lang, 'email')}</label>
<input id="email" name="email" type="email" required maxlength="254" autocomplete="email">
<button type="submit">${t(lang, 'find')}</button>
</form>`);
      };
      const show = (req: FastifyRequest, reply: FastifyReply, v: RequestStatusView) => {
        const lang = langOf(req, reply);
        const local = new Date(v.dueAt + 5 * 3_600_000);
        return rsPage(req, reply, 200, `<dl class="card" id="request">
<dt>${t(lang, 'number')}</dt><dd id="request-number">${esc(v.number)}</dd>
<dt>${t(lang, 'system')}</dt><dd>${esc(sysName(d.systems(), v.system, lang))}</dd>
<dt>${t(lang, 'status')}</dt><dd id="request-status">${t(lang, `rq_${v.status}` as Key)}</dd>
<dt>${t(lang, 'received')}</dt><dd>${esc(when(v.receivedAt))}</dd>
<dt>${t(lang, 'due')}</dt><dd id="request-due">${esc(when(v.dueAt))}, ${weekday(lang, local.getUTCDay())} (${t(lang, 'zone')})${v.extended ? ` · ${t(lang, 'extended')}` : ''}</dd>
<dt>${t(lang, 'rule')}</dt><dd id="request-rule">${esc(v.rule)}</dd>
<dt>${t(lang, 'answer')}</dt><dd id="request-answer">${v.answer ? `${v.decision ? `<strong>${t(lang, v.decision as Key)}</strong><br>` : ''}${esc(v.answer)}` : t(lang, 'noAnswerYet')}</dd>
</dl>`);
      };
      scope.get('/request-status', async (req, reply) => {
        const tok = (req.query as Record<string, unknown>).t;
        if (typeof tok !== 'string') return lookupForm(req, reply, 200);
        const secret = d.statusSecret();
        const number = secret ? verifyRequestStatus(secret, tok) : null;
        const v = number ? await requestStatus(d.store, number) : null;
        if (!v) return lookupForm(req, reply, 404, t(langOf(req), 'link_forged'));
        return show(req, reply, v);
      });
      scope.post('/request-status', async (req, reply) => {
        const f = h.form(req);
        if (!sameToken(f._csrf, parseCookies(req)[RS_CSRF])) return lookupForm(req, reply, 403, t(langOf(req), 'csrf'));
        const number = String(f.number ?? '').trim().toUpperCase();
        const email = String(f.email ?? '').trim();
        if (!/^R-\d{4}-\d{6,12}$/.test(number)) return lookupForm(req, reply, 400, `${t(langOf(req), 'requestNumber')}: ${t(langOf(req), 'invalidField')}`);
        if (!email || email.length > 254 || !email.includes('@')) return lookupForm(req, reply, 400, `${t(langOf(req), 'email')}: ${t(langOf(req), 'invalidField')}`);
        const v = await requestStatus(d.store, number, email);
        if (!v) return lookupForm(req, reply, 404, t(langOf(req), 'requestNotFound'));
        return show(req, reply, v);
      });

      await registerAdminPages(scope, h, d);
    },
  });
}
