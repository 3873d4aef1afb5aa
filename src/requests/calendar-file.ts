import { readFileSync } from 'node:fs';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import { KuzetError } from '../errors.ts';
import {
  DAY_KINDS, dayNumber, weekdayOf, WorkingCalendar, type CalendarData, type CalendarEntry, type DayKind,
} from './calendar.ts';

// Loads config/calendars/kz.yaml. Every structural problem is an error naming file:line:column; a file with errors
// is refused whole (on reload the old calendar stays). Problems of judgement (a weekend holiday with no shifted day
// off, a missing current or next year) are warnings: the file is the truth, but the administrator must hear of them.

export interface CalendarLoad {
  calendar: WorkingCalendar;
  warnings: string[];
}

export interface CalendarLoadOptions {
  /** Now, to warn when the current or next year is missing. */
  now?: number;
  onMissingYear?: (year: number) => void;
}

const ENTRY_KEYS = new Set(['date', 'kind', 'source', 'name', 'from', 'pair', 'uncertain', 'note']);
const TOP_KEYS = new Set(['zone', 'working_hours', 'years', 'days']);

export function loadCalendarFile(path: string, opts: CalendarLoadOptions = {}): CalendarLoad {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KuzetError('KZ_ERR_CONFIG', `${path}: cannot read the calendar file: ${(err as Error).message}`, 400);
  }
  return parseCalendar(text, path, opts);
}

export function parseCalendar(text: string, file: string, opts: CalendarLoadOptions = {}): CalendarLoad {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const errors: string[] = [];
  const warnings: string[] = [];
  const at = (offset: number | undefined): string => {
    const p = lc.linePos(offset ?? 0);
    return `${file}:${p.line}:${p.col}`;
  };
  for (const e of doc.errors) errors.push(`${at(e.pos[0])}: ${e.message.split('\n')[0]}`);
  if (errors.length) fail(errors);

  const where = (path: (string | number)[]): string => at(rangeOf(doc, path));
  const whereKey = (path: (string | number)[]): string => at(keyRangeOf(doc, path) ?? rangeOf(doc, path));
  const root = doc.toJS() as unknown;
  if (!isObject(root)) fail([`${at(0)}: the calendar must be a mapping with zone, working_hours, years and days`]);
  const top = root as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!TOP_KEYS.has(k)) errors.push(`${whereKey([k])}: unknown key "${k}"`);

  if (top.zone !== 'Asia/Almaty') errors.push(`${where(['zone'])}: zone must be "Asia/Almaty"`);

  const hours = top.working_hours;
  let workStart = 540;
  let workEnd = 1080;
  if (!isObject(hours)) {
    errors.push(`${where(['working_hours'])}: working_hours must be a mapping {start: "09:00", end: "18:00"}`);
  } else {
    const s = clock(hours.start);
    const e = clock(hours.end);
    if (s === undefined) errors.push(`${where(['working_hours', 'start'])}: start must be "HH:MM"`);
    if (e === undefined) errors.push(`${where(['working_hours', 'end'])}: end must be "HH:MM"`);
    if (s !== undefined && e !== undefined && s >= e) errors.push(`${where(['working_hours', 'end'])}: end must be after start`);
    workStart = s ?? workStart;
    workEnd = e ?? workEnd;
  }

  const years: number[] = [];
  if (!Array.isArray(top.years) || top.years.length === 0) {
    errors.push(`${where(['years'])}: years must be a non-empty list of the years this file covers`);
  } else {
    top.years.forEach((y, i) => {
      if (!Number.isInteger(y) || (y as number) < 2000 || (y as number) > 2200) errors.push(`${where(['years', i])}: ${JSON.stringify(y)} is not a year`);
      else if (years.includes(y as number)) errors.push(`${where(['years', i])}: year ${y} listed twice`);
      else years.push(y as number);
    });
  }

  const entries: CalendarEntry[] = [];
  const seen = new Map<string, number>();
  if (!Array.isArray(top.days)) {
    errors.push(`${where(['days'])}: days must be a list of {date, kind, source}`);
  } else {
    top.days.forEach((raw, i) => {
      const w = (key?: string) => where(key ? ['days', i, key] : ['days', i]);
      if (!isObject(raw)) return void errors.push(`${w()}: each day must be a mapping {date, kind, source}`);
      for (const k of Object.keys(raw)) if (!ENTRY_KEYS.has(k)) errors.push(`${whereKey(['days', i, k])}: unknown key "${k}" (quote values that contain commas)`);
      const date = raw.date;
      if (typeof date !== 'string' || Number.isNaN(dayNumber(date))) return void errors.push(`${w('date')}: date must be a real date YYYY-MM-DD`);
      if (!DAY_KINDS.includes(raw.kind as DayKind)) return void errors.push(`${w('kind')}: kind must be one of ${DAY_KINDS.join(', ')}`);
      if (typeof raw.source !== 'string' || !raw.source.trim()) errors.push(`${w('source')}: every day needs a source (the act that makes it so)`);
      for (const k of ['name', 'note'] as const) if (raw[k] !== undefined && typeof raw[k] !== 'string') errors.push(`${w(k)}: ${k} must be text`);
      if (raw.uncertain !== undefined && typeof raw.uncertain !== 'boolean') errors.push(`${w('uncertain')}: uncertain must be true or false`);
      const prev = seen.get(date);
      if (prev !== undefined) errors.push(`${w('date')}: ${date} is listed twice (first at ${where(['days', prev, 'date'])})`);
      seen.set(date, i);
      if (years.length && !years.includes(Number(date.slice(0, 4)))) errors.push(`${w('date')}: ${date} is in ${date.slice(0, 4)}, which is not listed in years`);
      const entry: CalendarEntry = { date, kind: raw.kind as DayKind, source: String(raw.source ?? '') };
      for (const k of ['name', 'note', 'from', 'pair'] as const) if (typeof raw[k] === 'string') entry[k] = raw[k];
      if (raw.uncertain === true) entry.uncertain = true;
      entries.push(entry);
    });
  }
  if (errors.length) fail(errors);

  const index = new Map(entries.map((e, i) => [e.date, { e, i }]));
  const wd = (d: string) => weekdayOf(dayNumber(d));
  const weekend = (d: string) => wd(d) === 0 || wd(d) === 6;
  entries.forEach((e, i) => {
    const w = (key: string) => where(['days', i, key]);
    const ref = (key: 'from' | 'pair', kind: DayKind) => {
      const v = e[key];
      if (v === undefined) return void errors.push(`${w('kind')}: a ${e.kind} needs "${key}:" (the date of its ${kind})`);
      const other = index.get(v);
      if (!other || other.e.kind !== kind) errors.push(`${w(key)}: ${v} is not listed as a ${kind}`);
      return other;
    };
    if (e.kind === 'transferred_working_day') {
      if (!weekend(e.date)) errors.push(`${w('date')}: a transferred_working_day must be a Saturday or Sunday`);
      const o = ref('pair', 'transferred_day_off');
      if (o && o.e.pair !== e.date) errors.push(`${w('pair')}: ${o.e.date} does not name ${e.date} as its pair`);
    } else if (e.kind === 'transferred_day_off') {
      if (weekend(e.date)) errors.push(`${w('date')}: a transferred_day_off must be a weekday`);
      ref('pair', 'transferred_working_day');
    } else if (e.kind === 'shifted_day_off') {
      if (weekend(e.date)) errors.push(`${w('date')}: a shifted_day_off must be a weekday`);
      const o = ref('from', 'holiday');
      if (o && !weekend(o.e.date)) errors.push(`${w('from')}: ${o.e.date} is not on a weekend, so nothing shifts from it`);
    } else if (e.kind === 'working_day' && weekend(e.date)) {
      errors.push(`${w('date')}: a weekend day that is worked is a transferred_working_day`);
    }
    if (e.kind !== 'shifted_day_off' && e.from !== undefined) errors.push(`${w('from')}: only a shifted_day_off has "from"`);
    if (!e.kind.startsWith('transferred_') && e.pair !== undefined) errors.push(`${w('pair')}: only transfers have "pair"`);
  });
  if (errors.length) fail(errors);

  const data: CalendarData = { zone: 'Asia/Almaty', workStart, workEnd, years, entries };
  const calendar = new WorkingCalendar(data, { onMissingYear: opts.onMissingYear });
  warnings.push(...checkShiftRule(calendar, entries, (i) => where(['days', i, 'date'])));
  if (opts.now !== undefined) {
    const year = new Date(opts.now).getUTCFullYear();
    for (const y of [year, year + 1]) {
      if (!years.includes(y)) warnings.push(`WARNING: ${file}: the working calendar has no data for ${y}: deadlines reaching ${y} skip weekends only. Add ${y}'s holidays and transfers.`);
    }
  }
  for (const e of entries) if (e.uncertain) warnings.push(`${where(['days', index.get(e.date)!.i, 'date'])}: ${e.date} (${e.kind}) is uncertain: ${e.note ?? 're-check it'}`);
  return { calendar, warnings };
}

/**
 * Art. 5: a holiday on a Saturday or Sunday gives a day off on the next working day after the holiday block. The file
 * lists those days; this recomputes them and reports any difference (a warning: the government may decide otherwise).
 */
function checkShiftRule(cal: WorkingCalendar, entries: CalendarEntry[], where: (i: number) => string): string[] {
  const out: string[] = [];
  const holidays = entries.filter((e) => e.kind === 'holiday').sort((a, b) => a.date.localeCompare(b.date));
  const taken = new Set<number>();
  const expected = new Map<string, string>(); // holiday date -> expected shifted date
  for (const h of holidays) {
    const day = dayNumber(h.date);
    const wd = weekdayOf(day);
    if (wd !== 0 && wd !== 6) continue;
    let d = day + 1;
    for (let i = 0; i < 60; i++, d++) {
      const e = cal.entry(new Date(d * 86_400_000).toISOString().slice(0, 10));
      const w = weekdayOf(d);
      const off = e ? e.kind !== 'working_day' && e.kind !== 'transferred_working_day' && e.kind !== 'shifted_day_off' : w === 0 || w === 6;
      if (!off && !taken.has(d)) break;
    }
    taken.add(d);
    expected.set(h.date, new Date(d * 86_400_000).toISOString().slice(0, 10));
  }
  const shifted = new Map(entries.map((e, i) => [e, i] as const).filter(([e]) => e.kind === 'shifted_day_off').map(([e, i]) => [e.from!, { e, i }]));
  for (const [holiday, day] of expected) {
    const s = shifted.get(holiday);
    const hi = entries.findIndex((e) => e.date === holiday);
    if (!s) out.push(`${where(hi)}: holiday ${holiday} falls on a weekend but no shifted_day_off names it (art. 5 gives ${day}); add it or note why not`);
    else if (s.e.date !== day) out.push(`${where(s.i)}: shifted_day_off ${s.e.date} for ${holiday}: the shift rule gives ${day}`);
  }
  return out;
}

function rangeOf(doc: Document, path: (string | number)[]): number | undefined {
  // The deepest node of `path` that exists: a missing key points at its parent mapping.
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && Array.isArray(node.range)) return node.range[0];
  }
  const root = doc.contents as { range?: [number, number, number] } | null;
  return root?.range?.[0] ?? 0;
}

function keyRangeOf(doc: Document, path: (string | number)[]): number | undefined {
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  for (const pair of parent.items) {
    const key = pair.key as { value?: unknown; range?: [number, number, number] } | null;
    if (key && key.value === last && key.range) return key.range[0];
  }
  return undefined;
}

function clock(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(errors: string[]): never {
  throw new KuzetError('KZ_ERR_CONFIG', `the working calendar is invalid:\n  ${errors.join('\n  ')}`, 400, errors);
}
