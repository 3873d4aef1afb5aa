import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { esc } from '../requests/page.ts';
import { isLang, LANGS, t, type Lang } from './text.ts';

// The console's page frame, in the style of the public report page: one stylesheet (its hash in the CSP), no
// script, a language switch on every page, tables that scroll sideways on a 390 px phone.

export { esc };

const CSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1b1d21}
main{max-width:72rem;margin:0 auto;padding:1rem}
header{background:#0b2f57;color:#fff;padding:.5rem 1rem}
header a,header button{color:#fff}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
.top{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem;align-items:center}
h1{font-size:1.4rem;margin:.5rem 0}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
label{display:block;font-weight:600;margin-top:.75rem}
input,select,textarea{box-sizing:border-box;width:100%;max-width:32rem;padding:.45rem;font:inherit;border:1px solid #8a8f98;border-radius:4px;background:#fff}
textarea{min-height:4rem}
button{margin-top:.75rem;padding:.5rem 1.1rem;font:inherit;font-weight:600;border:0;border-radius:4px;background:#0b5cad;color:#fff;cursor:pointer}
button.link{background:none;border:0;padding:0;margin:0;text-decoration:underline;font-weight:400}
a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #f0a000;outline-offset:1px}
.scroll{overflow-x:auto;margin-top:.75rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #d5d8dd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef0f3}
.filters{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:flex-end}
.filters div{flex:1 1 9rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
.card{background:#fff;border:1px solid #d5d8dd;border-radius:6px;padding:.75rem 1rem}
.sev-critical,.down{color:#a40000;font-weight:700}
.sev-major,.degraded{color:#9a4b00;font-weight:700}
.operational{color:#1d7a32;font-weight:700}
.muted,.hint{color:#555;font-size:.9rem}
.errors{border:2px solid #a40000;background:#fff1f1;padding:.5rem 1rem;border-radius:4px}
.ok{border:2px solid #1d7a32;background:#effaf1;padding:.5rem 1rem;border-radius:4px}
.bars{display:flex;gap:1px;height:2rem;margin:.25rem 0}
.bars span{flex:1 1 0;min-width:2px;background:#2e9d4a}
.bars span.d{background:#e08a00}.bars span.x{background:#c0262d}.bars span.n{background:#c9ccd1}
.hist{min-width:12rem}
.legend{display:flex;justify-content:space-between;font-size:.8rem;color:#555}
.lang a{margin-left:.5rem}
.sr{position:absolute;left:-9999px}
.skip:focus{left:.5rem;top:.5rem;background:#fff;color:#0b2f57;padding:.25rem .5rem;z-index:1}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
ol li{margin:.25rem 0}
ul.locations{list-style:none;padding:0;margin:0;display:grid;gap:.4rem}ul.locations li{overflow-wrap:anywhere}
#locations li[data-status=down] .loc-status{color:#a11;font-weight:600}
@media (max-width:40rem){main{padding:.5rem}dl{grid-template-columns:1fr}dd{margin-bottom:.4rem}}`;

export const CONSOLE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'; ` +
  `script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; img-src 'self'`;

export const HTML_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface Frame {
  lang: Lang;
  title: string;
  /** The signed-in person's name and the CSRF token for the sign-out form; absent on public pages. */
  user?: { name: string; role: string; csrf: string };
  /** The current path and query, for the language links. */
  here: string;
  /** Public pages show no console navigation. */
  publicPage?: boolean;
  /** Server-sent events that tell the page it changed (used only where script runs). */
  live?: string;
}

/** The same address with ?lang= replaced. */
export function withLang(here: string, lang: Lang): string {
  const u = new URL(here, 'http://x');
  u.searchParams.set('lang', lang);
  return u.pathname + u.search;
}

export function page(f: Frame, body: string): string {
  const langs = LANGS.map((l) => l === f.lang
    ? `<strong lang="${l}">${t(l, 'langName')}</strong>`
    : `<a href="${esc(withLang(f.here, l))}" hreflang="${l}" lang="${l}">${t(l, 'langName')}</a>`).join(' ');
  const nav = f.user && !f.publicPage
    ? `<nav aria-label="${esc(t(f.lang, 'console'))}"><ul>
<li><a href="/incidents">${t(f.lang, 'incidents')}</a></li>
<li><a href="/oncall">${t(f.lang, 'oncall')}</a></li>
<li><a href="/silences">${t(f.lang, 'silences')}</a></li>
<li><a href="/requests">${t(f.lang, 'requests')}</a></li>
<li><a href="/dead-letters">${t(f.lang, 'deadLetters')}</a></li>
<li><a href="/backups">${t(f.lang, 'backups')}</a></li>
<li><a href="/systems">${t(f.lang, 'systems')}</a></li>
<li><a href="/reports">${t(f.lang, 'reports')}</a></li>
<li><a href="/status">${t(f.lang, 'statusPage')}</a></li>
</ul></nav>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${esc(f.user.csrf)}">
<span>${t(f.lang, 'signedAs')} <strong id="who">${esc(f.user.name)}</strong> (${esc(f.user.role)})</span>
<button type="submit" class="link">${t(f.lang, 'signOut')}</button></form>`
    : '';
  return `<!doctype html>
<html lang="${f.lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(f.title)} · kuzet</title><style>${CSS}</style>${f.live ? '<script src="/console.js" defer></script>' : ''}</head>
<body><a class="sr skip" href="#main">${t(f.lang, 'skip')}</a><header><div class="top"><strong>kuzet</strong><span class="lang">${langs}</span></div>${nav}</header>
<main id="main"${f.live ? ` data-live="${esc(f.live)}" data-live-text="${esc(t(f.lang, 'liveChanged'))}"` : ''}>
<h1>${esc(f.title)}</h1>
${body}
</main></body></html>
`;
}

export function parseCookies(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  const h = req.headers.cookie;
  if (!h || h.length > 8192) return out;
  for (const part of h.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (k && !(k in out)) {
      try {
        out[k] = decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        // a malformed value is ignored
      }
    }
  }
  return out;
}

export const LANG_COOKIE = 'kuzet_lang';

/** ?lang= wins (and is remembered in a cookie), then the cookie, then Russian. */
export function langOf(req: FastifyRequest, reply?: FastifyReply): Lang {
  const q = (req.query as Record<string, unknown> | undefined)?.lang;
  if (isLang(q)) {
    reply?.header('set-cookie', `${LANG_COOKIE}=${q}; Path=/; Max-Age=31536000; SameSite=Lax`);
    return q;
  }
  const c = parseCookies(req)[LANG_COOKIE];
  return isLang(c) ? c : 'ru';
}

const FMT = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Almaty', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
const DAY_FMT = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Almaty', year: 'numeric', month: '2-digit', day: '2-digit' });

/** An instant as Astana local time, "2026-03-02 09:00". */
export const when = (t: number | string | Date | null | undefined): string => (t === null || t === undefined ? '' : FMT.format(new Date(t)));
export const dayOf = (t: number): string => DAY_FMT.format(new Date(t));

export function sendPage(reply: FastifyReply, status: number, html: string, cache = 'no-store'): FastifyReply {
  return reply.code(status).headers({ ...HTML_HEADERS, 'cache-control': cache }).send(html);
}
