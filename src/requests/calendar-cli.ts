import { KuzetError } from '../errors.ts';
import {
  dateOf, dayNumber, formatDueRule, formatLocalIso, formatLocalShort, fromLocal, parseDueRule, toLocal, weekdayName,
  type CalendarDayMode, type WorkingCalendar,
} from './calendar.ts';
import { loadCalendarFile } from './calendar-file.ts';

// `kuzet calendar due --from T --rule "3 working days"`: the text to print and the exit code. The lead wires it
// into commander; nothing here prints or exits.

export interface CalendarDueArgs {
  /** ISO instant with a zone ("2026-03-20T17:59:00+05:00", "…Z"), or a local Almaty time "2026-03-20 17:59". */
  from: string;
  rule: string;
  /** Either a loaded calendar or the file to load. */
  calendar?: WorkingCalendar;
  calendarFile?: string;
  mode?: CalendarDayMode;
  /** Also show an extension to this many working days from the same D0. */
  extendTo?: number;
}

export interface CommandOutput {
  text: string;
  exitCode: number;
}

/** Parse an instant: with a zone it is absolute, without one it is Asia/Almaty wall time. */
export function parseInstant(text: string): number | undefined {
  const t = text.trim();
  const local = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(t);
  if (local) {
    const day = dayNumber(local[1]!);
    const h = Number(local[2] ?? 0);
    const m = Number(local[3] ?? 0);
    const s = Number(local[4] ?? 0);
    if (Number.isNaN(day) || h > 23 || m > 59 || s > 59) return undefined;
    return fromLocal(day, h * 60 + m) + s * 1000;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) return undefined;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over to March: refuse dates that do not exist.
  return Number.isNaN(dayNumber(t.slice(0, 10))) ? undefined : ms;
}

export async function calendarDueCommand(args: CalendarDueArgs): Promise<CommandOutput> {
  const from = parseInstant(args.from);
  if (from === undefined) {
    return { text: `kuzet calendar due: --from ${JSON.stringify(args.from)} is not a time; use 2026-03-20T17:59:00+05:00 or "2026-03-20 17:59" (Almaty)\n`, exitCode: 2 };
  }
  const rule = parseDueRule(args.rule);
  if (!rule) {
    return { text: `kuzet calendar due: --rule ${JSON.stringify(args.rule)} is not a rule; use "3 working days" or "3 calendar days"\n`, exitCode: 2 };
  }
  let calendar = args.calendar;
  const lines: string[] = [];
  if (!calendar) {
    try {
      const loaded = loadCalendarFile(args.calendarFile ?? 'config/calendars/kz.yaml');
      calendar = loaded.calendar;
    } catch (err) {
      const msg = err instanceof KuzetError ? err.message : String(err);
      return { text: `kuzet calendar due: ${msg}\n`, exitCode: 1 };
    }
  }
  const mode = args.mode ?? 'next-working-day';
  const r = calendar.due(from, rule, mode);
  lines.push(`received     ${formatLocalShort(from)} (${formatLocalIso(from)})`);
  lines.push(`receipt day  D0 = ${r.d0} ${weekdayName(dayNumber(r.d0))}${r.deemed ? `, deemed received ${formatLocalShort(r.startAt)}` : ''}`);
  lines.push(`rule         ${formatDueRule(rule)}${rule.unit === 'calendar' ? ` (${mode})` : ''}`);
  lines.push(`due          ${formatLocalShort(r.dueAt)} (${formatLocalIso(r.dueAt)}, ${new Date(r.dueAt).toISOString()})`);
  // From the receipt itself when it was deemed later, so the reader sees why D0 moved.
  const skipped = daysOff(calendar, r.deemed ? toLocal(from).day : dayNumber(r.d0) + 1, toLocal(r.dueAt).day);
  if (skipped.length) lines.push(`days off     ${skipped.join(', ')}`);
  const warnings = [...r.warnings];
  if (args.extendTo !== undefined) {
    const ext = calendar.extendedDue(r.d0, args.extendTo);
    lines.push(`extended to  ${args.extendTo} working days from D0: ${formatLocalShort(ext.dueAt)} (${formatLocalIso(ext.dueAt)})`);
    for (const w of ext.warnings) if (!warnings.includes(w)) warnings.push(w);
  }
  lines.push(...warnings);
  return { text: lines.join('\n') + '\n', exitCode: 0 };
}

/** "2026-03-21 Sat holiday Nauryz (Saturday)" for each non-working day in [from, to]. */
function daysOff(calendar: WorkingCalendar, from: number, to: number): string[] {
  const out: string[] = [];
  const missing = new Set<number>();
  for (let d = from; d <= to && out.length < 60; d++) {
    if (calendar.isWorkingDay(d, missing)) continue;
    const e = calendar.entry(dateOf(d));
    out.push(`${dateOf(d)} ${weekdayName(d)}${e ? ` ${e.kind}${e.name ? ` ${e.name}` : ''}` : ''}`);
  }
  return out;
}
