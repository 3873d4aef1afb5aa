// The Kazakhstan working calendar and the deadline arithmetic of requests.
//
// Counting convention (REQUIREMENTS §3, issue 6), all in Asia/Almaty local time:
// - working hours 09:00–18:00. A request received on a working day before 18:00 has receipt day D0 = that day
//   (its receipt instant is the real one). One received at or after 18:00, or on a day off, is deemed received at
//   09:00 of the next working day, which is then D0.
// - "N working days": counting starts the day after D0; the deadline is 18:00 of the N-th working day.
// - "N calendar days" (mode 'next-working-day', the default): 18:00 of D0 + N; when that day is not a working day
//   the deadline moves to 18:00 of the next working day (Civil Code). Mode 'elapsed': deemed receipt + N × 24 h.
// - an extension (to 10 or 20 working days) counts from the original D0, never from the old deadline.
// - "no login for 60 calendar days": blocked from 00:00 local on (local date of last login) + 61.
// A day in a year the calendar file does not cover is judged by weekends only, and every computation that touched
// one carries a warning (and the calendar's onMissingYear hook fires): loud, never a silent guess.

export type DayKind =
  | 'holiday'
  | 'day_off'
  | 'shifted_day_off'
  | 'transferred_day_off'
  | 'transferred_working_day'
  | 'working_day';

export const DAY_KINDS: readonly DayKind[] = [
  'holiday', 'day_off', 'shifted_day_off', 'transferred_day_off', 'transferred_working_day', 'working_day',
];

const OFF_KINDS = new Set<DayKind>(['holiday', 'day_off', 'shifted_day_off', 'transferred_day_off']);

export interface CalendarEntry {
  date: string;
  kind: DayKind;
  source: string;
  name?: string;
  /** shifted_day_off: the weekend holiday it replaces. */
  from?: string;
  /** transfers: the other day of the pair. */
  pair?: string;
  uncertain?: boolean;
  note?: string;
}

export interface CalendarData {
  zone: 'Asia/Almaty';
  /** Minutes after local midnight. */
  workStart: number;
  workEnd: number;
  years: number[];
  entries: CalendarEntry[];
}

export type DueUnit = 'working' | 'calendar';
export interface DueRule {
  count: number;
  unit: DueUnit;
}
/** How "N calendar days" ends: 18:00 of D0+N moved to a working day, or the deemed receipt + N × 24 h. */
export type CalendarDayMode = 'next-working-day' | 'elapsed';

export interface ReceiptDay {
  /** Receipt day as a local date, YYYY-MM-DD. */
  d0: string;
  /** The receipt instant the clock starts from: the real one, or 09:00 of D0 when deemed. */
  startAt: number;
  deemed: boolean;
}

export interface DueResult extends ReceiptDay {
  dueAt: number;
  rule: DueRule;
  /** Non-empty when a year outside the calendar file was needed. */
  warnings: string[];
}

const DAY = 86_400_000;
const MIN = 60_000;
const MAX_SCAN_DAYS = 4000;
// Asia/Almaty moved from UTC+6 to UTC+5 at 2024-03-01 00:00 local (= 2024-02-29 18:00 UTC); fixed since then.
const ALMATY_SWITCH_UTC = Date.UTC(2024, 1, 29, 18, 0);
const ALMATY_SWITCH_LOCAL = Date.UTC(2024, 2, 1, 0, 0);

/** Offset of Asia/Almaty from UTC in minutes at an instant (valid from 2005, when DST ended). */
export function almatyOffsetMinutes(utcMs: number): number {
  return utcMs < ALMATY_SWITCH_UTC ? 360 : 300;
}

/** Days since 1970-01-01 of a local date; NaN when `date` is not a real YYYY-MM-DD date. */
export function dayNumber(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return NaN;
  return t / DAY;
}

export function dateOf(day: number): string {
  return new Date(day * DAY).toISOString().slice(0, 10);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekdayOf(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

const WEEKDAY = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export const weekdayName = (day: number): string => WEEKDAY[weekdayOf(day)]!;

/** Local day number and minutes after midnight of an instant. */
export function toLocal(utcMs: number): { day: number; minutes: number } {
  const local = utcMs + almatyOffsetMinutes(utcMs) * MIN;
  const day = Math.floor(local / DAY);
  return { day, minutes: Math.floor((local - day * DAY) / MIN) };
}

/** The instant of a local wall time (the repeated hour of 29 Feb 2024 resolves to its first, +06:00, occurrence). */
export function fromLocal(day: number, minutes: number): number {
  const local = day * DAY + minutes * MIN;
  return local - (local >= ALMATY_SWITCH_LOCAL ? 300 : 360) * MIN;
}

/** "2026-03-30T18:00:00+05:00" */
export function formatLocalIso(utcMs: number): string {
  const off = almatyOffsetMinutes(utcMs);
  const { day, minutes } = toLocal(utcMs);
  const sec = Math.floor(((utcMs % MIN) + MIN) % MIN / 1000);
  return `${dateOf(day)}T${hhmm(minutes)}:${String(sec).padStart(2, '0')}+${String(off / 60).padStart(2, '0')}:00`;
}

/** "2026-03-30 18:00 Mon" */
export function formatLocalShort(utcMs: number): string {
  const { day, minutes } = toLocal(utcMs);
  return `${dateOf(day)} ${hhmm(minutes)} ${weekdayName(day)}`;
}

export function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** Parse "3 working days", "10 working days", "3 calendar days" (also "1 working day"). */
export function parseDueRule(text: string): DueRule | undefined {
  const m = /^\s*(\d{1,3})\s+(working|calendar)\s+days?\s*$/i.exec(text);
  if (!m) return undefined;
  const count = Number(m[1]);
  if (count < 1 || count > 366) return undefined;
  return { count, unit: m[2]!.toLowerCase() as DueUnit };
}

export const formatDueRule = (r: DueRule): string => `${r.count} ${r.unit} day${r.count === 1 ? '' : 's'}`;

/**
 * Node's bundled tz data must know that Asia/Almaty is UTC+5 (tzdata 2024a+). kuzet's own arithmetic does not use
 * it, but anything formatting with Intl would be an hour off. Returns a problem to report loudly, or undefined.
 */
export function checkZoneData(): string | undefined {
  try {
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Almaty', timeZoneName: 'longOffset' });
    const part = fmt.formatToParts(new Date(Date.UTC(2025, 5, 1, 12))).find((p) => p.type === 'timeZoneName');
    if (part?.value !== 'GMT+05:00') {
      return `this Node's time-zone data gives Asia/Almaty ${part?.value ?? 'no offset'} for 2025-06-01, not GMT+05:00: update Node (tzdata 2024a or later)`;
    }
    return undefined;
  } catch (err) {
    return `this Node has no time-zone data for Asia/Almaty: ${(err as Error).message}`;
  }
}

export class WorkingCalendar {
  readonly data: CalendarData;
  readonly #byDay = new Map<number, CalendarEntry>();
  readonly #years: Set<number>;
  readonly #onMissingYear: (year: number) => void;

  constructor(data: CalendarData, opts: { onMissingYear?: (year: number) => void } = {}) {
    this.data = data;
    this.#years = new Set(data.years);
    this.#onMissingYear = opts.onMissingYear ?? (() => {});
    for (const e of data.entries) this.#byDay.set(dayNumber(e.date), e);
  }

  get years(): number[] {
    return [...this.#years].sort((a, b) => a - b);
  }

  /**
   * When a person can be told: `at` itself inside working hours of a working day, else the start of the next
   * working day (work start, e.g. 09:00 Almaty).
   */
  nextWorkingMoment(at: number): number {
    const { day, minutes } = toLocal(at);
    if (this.isWorkingDay(day) && minutes >= this.data.workStart && minutes < this.data.workEnd) return at;
    const next = this.isWorkingDay(day) && minutes < this.data.workStart ? day : this.nextWorkingDay(day);
    return fromLocal(next, this.data.workStart);
  }

  covers(year: number): boolean {
    return this.#years.has(year);
  }

  entry(date: string): CalendarEntry | undefined {
    return this.#byDay.get(dayNumber(date));
  }

  /** Whether a local date is a working day; `missing` collects years the file does not cover. */
  isWorkingDay(date: string | number, missing?: Set<number>): boolean {
    const day = typeof date === 'number' ? date : dayNumber(date);
    const year = new Date(day * DAY).getUTCFullYear();
    if (!this.#years.has(year)) {
      if (missing && !missing.has(year)) {
        missing.add(year);
        this.#onMissingYear(year);
      }
      const wd = weekdayOf(day);
      return wd !== 0 && wd !== 6;
    }
    const e = this.#byDay.get(day);
    if (e) return !OFF_KINDS.has(e.kind);
    const wd = weekdayOf(day);
    return wd !== 0 && wd !== 6;
  }

  /** The first working day strictly after `day`. */
  nextWorkingDay(day: number, missing?: Set<number>): number {
    for (let d = day + 1, i = 0; i < MAX_SCAN_DAYS; d++, i++) if (this.isWorkingDay(d, missing)) return d;
    throw new Error(`no working day within ${MAX_SCAN_DAYS} days after ${dateOf(day)}`);
  }

  /** D0 and the instant the clock starts, per the counting convention. */
  receipt(receivedAt: number, missing = new Set<number>()): ReceiptDay {
    const { day, minutes } = toLocal(receivedAt);
    if (this.isWorkingDay(day, missing) && minutes < this.data.workEnd) {
      return { d0: dateOf(day), startAt: receivedAt, deemed: false };
    }
    const next = this.nextWorkingDay(day, missing);
    return { d0: dateOf(next), startAt: fromLocal(next, this.data.workStart), deemed: true };
  }

  /** 18:00 of the n-th working day after D0. */
  workingDaysAfter(d0: string, n: number, missing = new Set<number>()): number {
    let day = dayNumber(d0);
    for (let i = 0; i < n; i++) day = this.nextWorkingDay(day, missing);
    return fromLocal(day, this.data.workEnd);
  }

  /** The deadline of `rule` for a request received at `receivedAt`. */
  due(receivedAt: number, rule: DueRule, mode: CalendarDayMode = 'next-working-day'): DueResult {
    const missing = new Set<number>();
    const r = this.receipt(receivedAt, missing);
    let dueAt: number;
    if (rule.unit === 'working') {
      dueAt = this.workingDaysAfter(r.d0, rule.count, missing);
    } else if (mode === 'elapsed') {
      dueAt = r.startAt + rule.count * DAY;
    } else {
      let day = dayNumber(r.d0) + rule.count;
      if (!this.isWorkingDay(day, missing)) day = this.nextWorkingDay(day, missing);
      dueAt = fromLocal(day, this.data.workEnd);
    }
    return { ...r, dueAt, rule, warnings: missingWarnings(missing) };
  }

  /** An extension to `workingDays` working days, counted from the original D0. */
  extendedDue(d0: string, workingDays: number): { dueAt: number; warnings: string[] } {
    const missing = new Set<number>();
    const dueAt = this.workingDaysAfter(d0, workingDays, missing);
    return { dueAt, warnings: missingWarnings(missing) };
  }
}

function missingWarnings(missing: Set<number>): string[] {
  return [...missing].sort().map((y) =>
    `WARNING: the working calendar has no data for ${y}: its holidays and transfers are unknown, only weekends were skipped. Add ${y} to the calendar file.`);
}

/** 00:00 local on (local date of the last login) + 61: from then on the account must be blocked (002 §23). */
export function inactiveBlockAt(lastLoginAt: number, days = 60): number {
  return fromLocal(toLocal(lastLoginAt).day + days + 1, 0);
}

/**
 * The same rule as SQL for a probe of kind `sql` (PostgreSQL): rows are accounts that must already be blocked.
 * `last_login` is a timestamptz column of the checked system.
 */
export const INACTIVE_ACCOUNTS_SQL_CONDITION =
  "(last_login AT TIME ZONE 'Asia/Almaty')::date + 61 <= (now() AT TIME ZONE 'Asia/Almaty')::date";

/** Warning instants at fractions of the wall-clock span from the clock start to the deadline. */
export function warningTimes(startAt: number, dueAt: number, fractions: readonly number[]): number[] {
  return fractions.map((f) => Math.round(startAt + (dueAt - startAt) * f));
}
