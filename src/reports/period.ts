import { dateOf, dayNumber, fromLocal } from '../requests/calendar.ts';

// A report's period: whole local days in Asia/Almaty. "2026-11" (a month), "2026-Q4" (a quarter), "2026"
// (a year) or "2026-11-01..2026-11-15" (both days included). Bounds are instants: local midnight of the
// first day and local midnight after the last.

export interface Period {
  /** As written: "2026-11", "2026-Q4", "2026", "2026-11-01..2026-11-15". */
  label: string;
  kind: 'month' | 'quarter' | 'year' | 'range';
  /** First and last local day, YYYY-MM-DD. */
  firstDay: string;
  lastDay: string;
  /** Local midnight of the first day, local midnight after the last (ms). */
  from: number;
  to: number;
  /** Number of local days. */
  days: number;
}

/** Bad input from a caller: names the field and what was expected (HTTP 400, CLI exit 2). */
export class ReportInputError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

const EXPECTED = 'expected a month "2026-11", a quarter "2026-Q4", a year "2026" or days "2026-11-01..2026-11-15"';
const MAX_DAYS = 3 * 366 + 1;

const pad = (n: number) => String(n).padStart(2, '0');
const yearOk = (y: number) => y >= 2000 && y <= 2100;

function make(label: string, kind: Period['kind'], first: number, lastIncl: number): Period {
  return { label, kind, firstDay: dateOf(first), lastDay: dateOf(lastIncl), from: fromLocal(first, 0), to: fromLocal(lastIncl + 1, 0), days: lastIncl - first + 1 };
}

export function parsePeriod(text: unknown): Period {
  if (typeof text !== 'string' || text.trim() === '') throw new ReportInputError('period', `${EXPECTED}; it is missing`);
  const t = text.trim();
  const bad = (why = EXPECTED) => new ReportInputError('period', `${why}, got ${JSON.stringify(t.slice(0, 60))}`);
  let m = /^(\d{4})$/.exec(t);
  if (m) {
    const y = Number(m[1]);
    if (!yearOk(y)) throw bad('expected a year between 2000 and 2100');
    return make(t, 'year', dayNumber(`${y}-01-01`), dayNumber(`${y}-12-31`));
  }
  m = /^(\d{4})-[Qq]([1-4])$/.exec(t);
  if (m) {
    const y = Number(m[1]);
    const q = Number(m[2]);
    if (!yearOk(y)) throw bad('expected a year between 2000 and 2100');
    const first = dayNumber(`${y}-${pad(q * 3 - 2)}-01`);
    const next = q === 4 ? dayNumber(`${y + 1}-01-01`) : dayNumber(`${y}-${pad(q * 3 + 1)}-01`);
    return make(`${y}-Q${q}`, 'quarter', first, next - 1);
  }
  m = /^(\d{4})-(\d{2})$/.exec(t);
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]);
    if (!yearOk(y)) throw bad('expected a year between 2000 and 2100');
    if (mo < 1 || mo > 12) throw bad('expected a month 01 to 12');
    const first = dayNumber(`${y}-${pad(mo)}-01`);
    const next = mo === 12 ? dayNumber(`${y + 1}-01-01`) : dayNumber(`${y}-${pad(mo + 1)}-01`);
    return make(t, 'month', first, next - 1);
  }
  m = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(t);
  if (m) {
    const a = dayNumber(m[1]!);
    const b = dayNumber(m[2]!);
    if (Number.isNaN(a)) throw bad(`${m[1]} is not a date`);
    if (Number.isNaN(b)) throw bad(`${m[2]} is not a date`);
    if (!yearOk(Number(m[1]!.slice(0, 4))) || !yearOk(Number(m[2]!.slice(0, 4)))) throw bad('expected years between 2000 and 2100');
    if (b < a) throw bad('the last day is before the first');
    if (b - a + 1 > MAX_DAYS) throw bad(`at most ${MAX_DAYS} days`);
    return make(t, 'range', a, b);
  }
  throw bad();
}

/** The month before the one that contains `at` (local): what the delivery on the 1st reports. */
export function previousMonth(at: number): Period {
  const local = new Date(at + 5 * 3_600_000);
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth(); // 0-based: the previous month's 1-based number
  return m === 0 ? parsePeriod(`${y - 1}-12`) : parsePeriod(`${y}-${pad(m)}`);
}

/** Local days of a period as day numbers. */
export function daysOf(p: Period): number[] {
  const first = dayNumber(p.firstDay);
  return Array.from({ length: p.days }, (_, i) => first + i);
}
