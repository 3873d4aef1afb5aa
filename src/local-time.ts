import { almatyOffsetMinutes, dateOf, dayNumber, fromLocal, hhmm, toLocal } from './requests/calendar.ts';

// Times for people: kuzet's people read Asia/Almaty. The CLI prints local wall time with the zone; the API keeps
// ISO 8601 with an offset; a bare date where a time is expected means local midnight.

export const LOCAL_ZONE = 'Asia/Almaty';

/** "2026-03-02 09:00:00 +05:00 Asia/Almaty" (an invalid or missing time prints as "-"). */
export function localTime(t: number | string | null | undefined): string {
  if (t === null || t === undefined || t === '') return '-';
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return String(t);
  const { day, minutes } = toLocal(ms);
  const sec = String(Math.floor((((ms % 60_000) + 60_000) % 60_000) / 1000)).padStart(2, '0');
  const off = almatyOffsetMinutes(ms);
  return `${dateOf(day)} ${hhmm(minutes)}:${sec} +${String(off / 60).padStart(2, '0')}:00 ${LOCAL_ZONE}`;
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * A date or an instant as a person types it: "2026-12-01" is 00:00 Asia/Almaty that day; an ISO 8601 time must carry
 * its zone ("Z" or "+05:00"). Returns NaN for anything else.
 */
export function parseDateOrInstant(text: string): number {
  const s = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) {
    const day = dayNumber(s);
    const t = Number.isNaN(day) ? NaN : fromLocal(day, 0);
    return t >= FIRST_STORABLE && t <= LAST_STORABLE ? t : NaN;
  }
  if (!ISO_WITH_ZONE.test(s) || !onCalendar(s)) return NaN;
  const t = Date.parse(s.replace(' ', 'T'));
  // Only instants PostgreSQL can store and compare: years 0001 to 9999.
  return t >= FIRST_STORABLE && t <= LAST_STORABLE ? t : NaN;
}

const FIRST_STORABLE = -62_135_596_800_000; // 0001-01-01T00:00:00Z
const LAST_STORABLE = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

export const DATE_OR_INSTANT_HINT = 'a date (2026-12-01, midnight Asia/Almaty) or an ISO 8601 time with its offset (2026-12-01T09:00:00+05:00)';

/** "2026-02-30T…" parses in JavaScript (as 2 March): refuse a day its month does not have. */
function onCalendar(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(2000, mo, 0)).getUTCDate() - (mo === 2 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 1 : 0);
}
