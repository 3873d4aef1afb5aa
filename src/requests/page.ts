import { createHash } from 'node:crypto';
import { allowedExtensions } from './attachments.ts';
import type { RequestsConfig, SystemEntry } from './config.ts';
import { formFields, requiredFields, type Field, type Lang, type RequestForm } from './forms.ts';
import { FIELD_LABELS, PAGE_TEXT } from './messages.ts';

// The public report page: server-rendered HTML, one plain <form>, no script at all, Russian and Kazakh. Every value
// that came from a user passes through `esc`; the Content-Security-Policy forbids scripts outright.

export const PAGE_PATH = '/report';

export function esc(v: unknown): string {
  return String(v ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const CSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1b1d21}
main{max-width:40rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.5rem;margin:0 0 .5rem}
label{display:block;font-weight:600;margin-top:1rem}
input,select,textarea{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;border:1px solid #8a8f98;border-radius:4px;background:#fff}
textarea{min-height:8rem}
button{margin-top:1.5rem;padding:.6rem 1.4rem;font:inherit;font-weight:600;border:0;border-radius:4px;background:#0b5cad;color:#fff;cursor:pointer}
.req{color:#a40000;font-weight:400;font-size:.85rem}
.hint{color:#555;font-size:.85rem}
.errors{border:2px solid #a40000;background:#fff1f1;padding:.5rem 1rem;border-radius:4px}
.field-error{color:#a40000;font-size:.9rem}
.ok{border:2px solid #1d7a32;background:#effaf1;padding:.5rem 1rem;border-radius:4px}
.lang{float:right}
.pd{color:#555;font-size:.8rem;margin-top:1.5rem}`;

export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'; ` +
  `form-action 'self'; base-uri 'none'; frame-ancestors 'none'; img-src 'self'`;

export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

function layout(lang: Lang, title: string, body: string, switchHref: string): string {
  return `<!doctype html>
<html lang="${lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main>
<a class="lang" href="${esc(switchHref)}" hreflang="${lang === 'ru' ? 'kk' : 'ru'}">${PAGE_TEXT.otherLang[lang]}</a>
<h1>${esc(title)}</h1>
${body}
</main></body></html>
`;
}

const systemName = (s: SystemEntry, lang: Lang) => (lang === 'kk' ? s.name_kk : s.name_ru);
const other = (lang: Lang): Lang => (lang === 'ru' ? 'kk' : 'ru');

/** Step one: pick the system (a GET form, so it works without script). */
export function renderChooser(lang: Lang, systems: readonly SystemEntry[], errors: string[] = []): string {
  const options = systems.map((s) => `<option value="${esc(s.id)}">${esc(systemName(s, lang))}</option>`).join('\n');
  return layout(lang, PAGE_TEXT.title[lang], `<p>${PAGE_TEXT.intro[lang]}</p>
${errorList(lang, errors)}<form method="get" action="${PAGE_PATH}">
<input type="hidden" name="lang" value="${lang}">
<label for="system">${PAGE_TEXT.chooseSystem[lang]}</label>
<select id="system" name="system" required>${options}</select>
<button type="submit">${PAGE_TEXT.next[lang]}</button>
</form>`, `${PAGE_PATH}?lang=${other(lang)}`);
}

const INPUT: Partial<Record<Field, string>> = {
  email: 'type="email" autocomplete="email" maxlength="254"',
  phone: 'type="tel" autocomplete="tel" maxlength="32" placeholder="+7 7XX XXX XX XX"',
  iin: 'type="text" inputmode="numeric" pattern="[0-9]{12}" maxlength="12" autocomplete="off"',
  full_name: 'type="text" autocomplete="name" maxlength="200"',
  login: 'type="text" autocomplete="username" maxlength="100"',
  position: 'type="text" autocomplete="organization-title" maxlength="200"',
  contact: 'type="text" maxlength="300"',
  subject: 'type="text" maxlength="200"',
};

/** Step two: the form of the chosen system, refilled with what the user sent when it comes back with errors. */
export function renderForm(opts: {
  lang: Lang; system: SystemEntry; config: RequestsConfig; values?: Record<string, string>; errors?: Array<{ field: string; message: string }>; general?: string[];
}): string {
  const { lang, system, config } = opts;
  const form: RequestForm = system.form;
  const required = requiredFields(form, 'web');
  const values = opts.values ?? {};
  const errors = opts.errors ?? [];
  const fieldErr = (f: string) => errors.filter((e) => e.field === f).map((e) => `<div class="field-error" id="${f}-error">${esc(e.message)}</div>`).join('');
  const rows = formFields(form).map((f) => {
    const label = `<label for="${f}">${esc(FIELD_LABELS[f][lang])}${required.has(f) ? ` <span class="req">(${PAGE_TEXT.required[lang]})</span>` : ''}</label>`;
    const req = required.has(f) ? ' required' : '';
    const invalid = errors.some((e) => e.field === f) ? ` aria-invalid="true" aria-describedby="${f}-error"` : '';
    const control = f === 'body'
      ? `<textarea id="body" name="body" maxlength="5000"${req}${invalid}>${esc(values.body)}</textarea>`
      : `<input id="${f}" name="${f}" ${INPUT[f] ?? 'type="text"'} value="${esc(values[f])}"${req}${invalid}>`;
    return `${label}\n${control}${fieldErr(f)}`;
  }).join('\n');
  const maxMb = Math.floor(config.attachments.max_bytes / 1048576);
  const exts = allowedExtensions(config.attachments.types);
  const file = config.attachments.max_files > 0
    ? `<label for="attachment">${FIELD_LABELS.attachments[lang]}</label>
<input id="attachment" name="attachment" type="file" accept="${esc(exts.replaceAll(' ', ''))}"${config.attachments.max_files > 1 ? ' multiple' : ''}>
<div class="hint">${esc(PAGE_TEXT.attachmentHint[lang].replace('{max}', String(maxMb)).replace('{types}', exts))}</div>${fieldErr('attachments')}`
    : '';
  const all = [...(opts.general ?? []), ...errors.map((e) => e.message)];
  const summary = all.length
    ? `<div class="errors" role="alert"><strong>${PAGE_TEXT.errorsTitle[lang]}</strong><ul>${all.map((m) => `<li>${esc(m)}</li>`).join('')}</ul></div>`
    : '';
  return layout(lang, `${PAGE_TEXT.title[lang]}: ${systemName(system, lang)}`, `${summary}
<form method="post" action="${PAGE_PATH}?lang=${lang}&amp;system=${esc(encodeURIComponent(system.id))}" enctype="multipart/form-data" accept-charset="utf-8">
<input type="hidden" name="lang" value="${lang}">
<input type="hidden" name="system" value="${esc(system.id)}">
${rows}
${file}
<button type="submit">${PAGE_TEXT.submit[lang]}</button>
</form>
<p class="pd">${PAGE_TEXT.personalData[lang]}</p>`, `${PAGE_PATH}?lang=${other(lang)}&system=${encodeURIComponent(system.id)}`);
}

export function renderAccepted(lang: Lang, number: string, dueLocal: string, system: SystemEntry): string {
  return layout(lang, PAGE_TEXT.accepted[lang], `<div class="ok" role="status">
<p>${esc(systemName(system, lang))}</p>
<p>${PAGE_TEXT.number[lang]}: <strong id="request-number">${esc(number)}</strong></p>
<p>${PAGE_TEXT.due[lang]}: <strong id="request-due">${esc(dueLocal)}</strong> (${PAGE_TEXT.zone[lang]})</p>
</div>`, `${PAGE_PATH}?lang=${other(lang)}`);
}

/** A page for a refusal that is not about a field (too large, too many, rate limited). */
export function renderProblem(lang: Lang, message: string, back: string): string {
  return layout(lang, PAGE_TEXT.errorsTitle[lang], `<div class="errors" role="alert"><p>${esc(message)}</p></div>
<p><a href="${esc(back)}">${PAGE_TEXT.back[lang]}</a></p>`, `${PAGE_PATH}?lang=${other(lang)}`);
}

function errorList(lang: Lang, errors: string[]): string {
  return errors.length ? `<div class="errors" role="alert"><strong>${PAGE_TEXT.errorsTitle[lang]}</strong><ul>${errors.map((e) => `<li>${esc(e)}</li>`).join('')}</ul></div>\n` : '';
}
