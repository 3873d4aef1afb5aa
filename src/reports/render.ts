import type { ReportFormat, ReportLang } from './config.ts';
import { t } from './i18n.ts';
import type { BarChart, Cell, Column, Report, Table } from './model.ts';

// Lay a Report out as CSV (RFC 4180), JSON or one self-contained HTML file (inline CSS and SVG, a print style
// sheet, no script). PDF is the HTML printed by headless Chromium (pdf.ts).

export const CONTENT_TYPES: Record<ReportFormat, string> = {
  csv: 'text/csv; charset=utf-8; header=present',
  json: 'application/json; charset=utf-8',
  html: 'text/html; charset=utf-8',
  pdf: 'application/pdf',
};

export function fileName(r: Report, format: ReportFormat): string {
  return `kuzet-${r.kind}-${r.period.label.replace(/\.\./g, '_')}${r.scope.system ? `-${r.scope.system}` : ''}.${format}`;
}

// ---------------------------------------------------------------------------------------------------- CSV

function csvField(v: Cell): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
  // A text cell that a spreadsheet would run as a formula is written as text.
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The report's main table, one row per system or item (for availability, then one per probe location), with the period, the kuzet version, the SHA-256 of
 * the data and the calendar facts on every row (a CSV has nowhere else to say them). CRLF line ends.
 */
export function renderCsv(r: Report, opts: { bom?: boolean; table?: string } = {}): string {
  const main: Table = (opts.table ? r.tables.find((x) => x.id === opts.table) : undefined) ?? r.tables[0]!;
  // The availability report's rows per location (probes probed from several places) follow the systems' rows in the
  // same file, with the columns they add; they are the rows whose `location` is set.
  const more = !opts.table && r.kind === 'availability' ? r.tables.find((x) => x.id === 'locations' && x.rows.length) : undefined;
  const table: Table = more
    ? { id: main.id, columns: [...main.columns, ...more.columns.filter((c) => !main.columns.some((m) => m.key === c.key))], rows: [...main.rows, ...more.rows] }
    : main;
  const extra = ['period', 'period_from', 'period_to', 'kuzet_version', 'data_sha256', 'calendar_facts'];
  const facts = r.calendar_facts.map((f) => `${f.key}: ${f.value}`).join('; ');
  const lines = [[...table.columns.map((c) => c.key), ...extra].map(csvField).join(',')];
  for (const row of table.rows) {
    const cells: Cell[] = [...table.columns.map((c) => row[c.key] ?? null), r.period.label, r.period.from, r.period.to, r.kuzet_version, r.data_sha256, facts];
    lines.push(cells.map(csvField).join(','));
  }
  return (opts.bom ? '\uFEFF' : '') + lines.join('\r\n') + '\r\n';
}

export function renderJson(r: Report): string {
  return JSON.stringify(r, null, 2) + '\n';
}

// --------------------------------------------------------------------------------------------------- HTML

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const LOCALES: Record<ReportLang, string> = { en: 'en-GB', ru: 'ru-RU', kk: 'kk-KZ' };

function fmt(v: Cell, type: Column['type'], lang: ReportLang): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return t(v ? 'yes' : 'no', lang);
  if (typeof v === 'number') {
    const digits = type === 'pct' ? 3 : type === 'min' || type === 'hours' || type === 'ms' ? 1 : type === 'int' ? 0 : 3;
    return new Intl.NumberFormat(LOCALES[lang], { maximumFractionDigits: digits, minimumFractionDigits: type === 'pct' ? 3 : 0 }).format(v);
  }
  if (type === 'time') return v.replace('T', ' ').replace(/:\d{2}(\.\d+)?(\+\d{2}:\d{2}|Z)$/, '');
  const label = t(v, lang);
  return label;
}

function tableHtml(tb: Table, lang: ReportLang): string {
  const cls = (c: Column) => (c.type === 'time' ? ' class="t"' : c.type && c.type !== 'text' && c.type !== 'bool' ? ' class="n"' : '');
  const head = tb.columns.map((c) => `<th scope="col"${cls(c)}>${esc(t(c.key, lang))}</th>`).join('');
  const body = tb.rows.length
    ? tb.rows
        .map((row) => `<tr>${tb.columns.map((c) => `<td${cls(c)}>${esc(fmt(row[c.key] ?? null, c.type, lang))}</td>`).join('')}</tr>`)
        .join('\n')
    : `<tr><td colspan="${tb.columns.length}">${esc(t('none', lang))}</td></tr>`;
  return `<section class="table" id="t-${esc(tb.id)}"><h2>${esc(t(`table.${tb.id}`, lang))}</h2><div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div></section>`;
}

/** A bar chart as inline SVG: one bar per day (or item); availability charts start their axis near the lowest bar. */
export function chartSvg(c: BarChart, lang: ReportLang): string {
  const vals = c.bars.map((b) => b.value).filter((v): v is number => v !== null);
  const lo = c.min === 0 && vals.length ? Math.max(0, Math.min(99, Math.floor(Math.min(...vals)) - (Math.min(...vals) >= 99 ? 0 : 1))) : 0;
  const W = 720;
  const H = 160;
  const pad = { l: 40, r: 8, t: 8, b: 28 };
  const n = Math.max(1, c.bars.length);
  const bw = (W - pad.l - pad.r) / n;
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - (Math.max(lo, Math.min(100, v)) - lo) / (100 - lo || 1));
  const bars = c.bars
    .map((b, i) => {
      if (b.value === null) return '';
      const x = pad.l + i * bw;
      const top = y(b.value);
      const cls = b.value >= 100 ? 'ok' : 'bad';
      return `<rect class="${cls}" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(0.5, bw - 1).toFixed(1)}" height="${(H - pad.b - top).toFixed(1)}"><title>${esc(`${b.label}: ${fmt(b.value, 'pct', lang)} %${b.note ? ` (${b.note})` : ''}`)}</title></rect>`;
    })
    .join('');
  const every = Math.max(1, Math.ceil(n / 12));
  const labels = c.bars
    .map((b, i) => (i % every === 0 ? `<text x="${(pad.l + i * bw + bw / 2).toFixed(1)}" y="${H - 10}" text-anchor="middle">${esc(b.label.length === 10 ? b.label.slice(5) : b.label)}</text>` : ''))
    .join('');
  const title = c.title.startsWith('daily') || c.id.startsWith('daily') ? `${c.title} — ${t('daily', lang)}` : t(c.title, lang);
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg">
<line x1="${pad.l}" y1="${y(100)}" x2="${W - pad.r}" y2="${y(100)}" class="axis"/><line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" class="axis"/>
<text x="${pad.l - 4}" y="${y(100) + 4}" text-anchor="end">100</text><text x="${pad.l - 4}" y="${H - pad.b}" text-anchor="end">${lo}</text>
${bars}${labels}</svg></figure>`;
}

const CSS = `
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;color:#1a1a1a;margin:0 auto;padding:16px;max-width:1200px}
h1{font-size:1.5em;margin:0 0 .4em}h2{font-size:1.15em;margin:1.4em 0 .5em;border-bottom:1px solid #ccc;padding-bottom:.2em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}dl.meta dt{color:#555}dl.meta dd{margin:0;overflow-wrap:anywhere}
.sum{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px}.sum div{border:1px solid #ddd;border-radius:6px;padding:8px}
.sum b{display:block;font-size:1.35em}.sum span{color:#555;font-size:.9em}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;min-width:100%;font-size:.9em}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n,th.n{text-align:right;white-space:nowrap}td.t{white-space:nowrap}tbody tr:nth-child(even){background:#fafafa}
figure{margin:.5em 0 1em}figcaption{font-weight:600;margin-bottom:.2em}svg text{font-size:10px;fill:#444}svg .axis{stroke:#999;stroke-width:1}
svg rect.ok{fill:#2e7d32}svg rect.bad{fill:#c62828}.facts li,.notes li{margin:.2em 0}.text{white-space:pre-wrap;border:1px dashed #bbb;padding:8px;min-height:3em}
.empty{color:#777;font-style:italic}code{font-size:.85em;overflow-wrap:anywhere}
@media (max-width:600px){body{padding:8px;font-size:13px}dl.meta{grid-template-columns:1fr}h1{font-size:1.25em}}
@media print{@page{size:A4 landscape;margin:12mm}body{max-width:none;padding:0;font-size:10.5px}.scroll{overflow:visible}
table{page-break-inside:auto}tr,figure,.sum div{page-break-inside:avoid}thead{display:table-header-group}h2{page-break-after:avoid}
svg rect.ok{fill:#555}svg rect.bad{fill:#000}a{color:inherit;text-decoration:none}}
`;

export function renderHtml(r: Report, lang: ReportLang): string {
  const title = t(`title.${r.kind}`, lang);
  const meta: [string, string][] = [
    ['period', `${r.period.label} (${r.period.first_day} – ${r.period.last_day})`],
    ['observed_to', fmt(r.period.observed_to.replace('Z', '+00:00'), 'time', lang) + ' UTC'],
    ['scope', (r.scope.system ?? t('all_systems', lang)) + (r.scope.exclude_maintenance ? `; ${t('maintenance_excluded', lang)}` : '')],
    ['generated_at', r.generated_at],
    ['kuzet_version', r.kuzet_version],
    ['data_sha256', r.data_sha256],
  ];
  const sum = r.summary.map((s) => `<div><b>${esc(fmt(s.value, s.type, lang))}</b><span>${esc(t(s.key, lang))}</span></div>`).join('');
  const sections = r.sections
    .map((s) => `<section id="s-${esc(s.id)}"><h2>${esc(t(`section.${s.id}`, lang))}</h2>${s.text ? `<div class="text">${esc(s.text)}</div>` : `<div class="text empty">${esc(t('to_be_written', lang))}</div>`}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kuzet ${esc(r.kuzet_version)}">
<title>${esc(title)} — ${esc(r.period.label)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(title)}</h1>
<dl class="meta">${meta.map(([k, v]) => `<dt>${esc(t(k, lang))}</dt><dd>${k === 'data_sha256' ? `<code>${esc(v)}</code>` : esc(v)}</dd>`).join('')}</dl></header>
<section><h2>${esc(t('summary', lang))}</h2><div class="sum">${sum}</div></section>
${sections}
${r.charts.length ? `<section class="charts">${r.charts.map((c) => chartSvg(c, lang)).join('\n')}</section>` : ''}
${r.tables.map((tb) => tableHtml(tb, lang)).join('\n')}
<section class="facts"><h2>${esc(t('calendar_facts', lang))}</h2><ul>${r.calendar_facts.map((f) => `<li>${esc(t(f.key, lang))}: ${esc(f.value)}</li>`).join('')}</ul></section>
<section class="notes"><h2>${esc(t('notes', lang))}</h2><ul>${r.notes.map((n) => `<li>${esc(t(n, lang))}</li>`).join('')}</ul></section>
</body>
</html>
`;
}
