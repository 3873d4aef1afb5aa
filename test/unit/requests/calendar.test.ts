import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  checkZoneData, formatLocalIso, inactiveBlockAt, parseDueRule, warningTimes, type CalendarDayMode, type WorkingCalendar,
} from '../../../src/requests/calendar.ts';
import { loadCalendarFile } from '../../../src/requests/calendar-file.ts';
import { calendarDueCommand, parseInstant } from '../../../src/requests/calendar-cli.ts';

// Every expected deadline below was counted by hand on the calendar, not computed by the code under test.

const FILE = fileURLToPath(new URL('../../../config/calendars/kz.yaml', import.meta.url));
const missingYears: number[] = [];
const { calendar: cal, warnings: loadWarnings } = loadCalendarFile(FILE, { onMissingYear: (y) => missingYears.push(y) });

function due(received: string, rule: string, mode: CalendarDayMode = 'next-working-day', c: WorkingCalendar = cal) {
  const r = c.due(Date.parse(received), parseDueRule(rule)!, mode);
  return { d0: r.d0, due: formatLocalIso(r.dueAt), start: formatLocalIso(r.startAt), deemed: r.deemed, warnings: r.warnings };
}

describe('working calendar file', () => {
  it('loads with no shift-rule warnings, only the flagged uncertain entries', () => {
    assert.deepEqual(loadWarnings.filter((w) => !w.includes('is uncertain')), []);
    assert.ok(loadWarnings.some((w) => w.includes('2026-05-27') && w.includes('uncertain')));
    assert.deepEqual(cal.years, [2024, 2025, 2026, 2027]);
  });

  it('knows the days of Appendix A', () => {
    const off = ['2024-03-25', '2024-05-08', '2024-07-08', '2025-01-03', '2025-01-07', '2025-03-24', '2025-03-25',
      '2025-09-01', '2025-10-27', '2026-03-09', '2026-03-23', '2026-03-24', '2026-03-25', '2026-05-11', '2026-05-27', '2026-10-26'];
    for (const d of off) assert.equal(cal.isWorkingDay(d), false, `${d} is a day off`);
    const worked = ['2024-05-04', '2024-06-17', '2025-01-05', '2026-03-16', '2026-03-26', '2026-08-31'];
    for (const d of worked) assert.equal(cal.isWorkingDay(d), true, `${d} is worked`);
  });

  it('Node tz data says Asia/Almaty is +05:00 in 2025', () => {
    assert.equal(checkZoneData(), undefined);
  });
});

describe('N working days', () => {
  it('receipt at 17:59 counts that day as D0; at 18:01 it is deemed received on the next working day (Nauryz 2026)', () => {
    // Fri 20 Mar 2026; Sat 21–Mon 23 Nauryz, Tue 24 and Wed 25 shifted; working: Thu 26, Fri 27, Mon 30, Tue 31.
    assert.deepEqual(due('2026-03-20T17:59:00+05:00', '3 working days'),
      { d0: '2026-03-20', due: '2026-03-30T18:00:00+05:00', start: '2026-03-20T17:59:00+05:00', deemed: false, warnings: [] });
    assert.deepEqual(due('2026-03-20T18:01:00+05:00', '3 working days'),
      { d0: '2026-03-26', due: '2026-03-31T18:00:00+05:00', start: '2026-03-26T09:00:00+05:00', deemed: true, warnings: [] });
    assert.equal(due('2026-03-20T18:00:00+05:00', '3 working days').d0, '2026-03-26', '18:00 itself is after hours');
  });

  it('a receipt before 09:00 on a working day keeps that day as D0', () => {
    assert.deepEqual(due('2026-03-19T06:30:00+05:00', '1 working day').due, '2026-03-20T18:00:00+05:00');
  });

  it('Nauryz 2024 with Saturday 23 March shifted to Monday 25', () => {
    assert.equal(due('2024-03-20T12:00:00+05:00', '3 working days').due, '2024-03-28T18:00:00+05:00');
  });

  it('New Year 2025: Friday 3 Jan transferred off, Sunday 5 Jan worked, 7 Jan Christmas, across the year boundary', () => {
    // D0 Tue 31 Dec 2024; 1, 2 Jan holidays, 3 Jan off, Sun 5 Jan (1), Mon 6 (2), Tue 7 off, Wed 8 (3).
    assert.equal(due('2024-12-31T10:00:00+05:00', '3 working days').due, '2025-01-08T18:00:00+05:00');
    // Received on the worked Sunday itself: D0 is that Sunday.
    assert.equal(due('2025-01-05T11:00:00+05:00', '1 working day').due, '2025-01-06T18:00:00+05:00');
  });

  it('New Year 2026 across the year boundary', () => {
    // D0 Wed 31 Dec 2025; 1–2 Jan holidays, 3–4 weekend, Mon 5 (1), Tue 6 (2), Wed 7 Christmas, Thu 8 (3).
    assert.equal(due('2025-12-31T12:00:00+05:00', '3 working days').due, '2026-01-08T18:00:00+05:00');
    // Received on 1 Jan (a holiday): deemed 09:00 Mon 5 Jan.
    assert.deepEqual(due('2026-01-01T10:00:00+05:00', '3 working days').start, '2026-01-05T09:00:00+05:00');
  });

  it('May holidays 2024 with the transferred working Saturday 4 May and Wednesday 8 May off', () => {
    // D0 Tue 30 Apr; 1 May holiday, Thu 2 (1), Fri 3 (2), Sat 4 worked (3).
    assert.equal(due('2024-04-30T12:00:00+05:00', '3 working days').due, '2024-05-04T18:00:00+05:00');
    // Received on the worked Saturday: D0 = Sat 4 May; Mon 6 (1), 7–9 off, Fri 10 (2), Mon 13 (3).
    assert.deepEqual(due('2024-05-04T10:00:00+05:00', '3 working days').d0, '2024-05-04');
    assert.equal(due('2024-05-04T10:00:00+05:00', '3 working days').due, '2024-05-13T18:00:00+05:00');
    // After hours on that Saturday: D0 Mon 6 May; Fri 10 (1), Mon 13 (2), Tue 14 (3).
    assert.equal(due('2024-05-04T18:30:00+05:00', '3 working days').due, '2024-05-14T18:00:00+05:00');
  });

  it('May holidays 2026: Victory Day on Saturday 9 May gives Monday 11 May', () => {
    // D0 Wed 6 May; Thu 7 holiday, Fri 8 (1), Sat/Sun, Mon 11 shifted, Tue 12 (2), Wed 13 (3).
    assert.equal(due('2026-05-06T09:00:00+05:00', '3 working days').due, '2026-05-13T18:00:00+05:00');
  });

  it('a holiday on a Saturday moves the day off (Capital Day 2024); Kurban Ait on a Sunday does not', () => {
    // D0 Fri 5 Jul 2024; 6 Sat holiday, 7 Sun, Mon 8 shifted, Tue 9 (1), 10 (2), Thu 11 (3).
    assert.equal(due('2024-07-05T12:00:00+05:00', '3 working days').due, '2024-07-11T18:00:00+05:00');
    // D0 Fri 14 Jun 2024; Sun 16 Kurban Ait not shifted: Mon 17 (1), 18 (2), Wed 19 (3).
    assert.equal(due('2024-06-14T12:00:00+05:00', '3 working days').due, '2024-06-19T18:00:00+05:00');
  });

  it('uses +06:00 before 1 March 2024 and +05:00 after', () => {
    // 17:00 +06 on Wed 28 Feb 2024: D0 that day; Thu 29 (1), Fri 1 Mar (2), Mon 4 (3) at 18:00 +05.
    const r = cal.due(Date.parse('2024-02-28T11:00:00Z'), parseDueRule('3 working days')!);
    assert.equal(r.d0, '2024-02-28');
    assert.equal(new Date(r.dueAt).toISOString(), '2024-03-04T13:00:00.000Z');
    // 18:30 +06 (12:30 UTC) is after hours.
    assert.equal(cal.due(Date.parse('2024-02-28T12:30:00Z'), parseDueRule('1 working day')!).d0, '2024-02-29');
  });

  it('a year missing from the file is counted on weekends only and warned about loudly', () => {
    missingYears.length = 0;
    // D0 Thu 30 Dec 2027; Fri 31 (1), 2028: Mon 3 Jan (2), Tue 4 (3) — 2028 holidays unknown.
    const r = due('2027-12-30T12:00:00+05:00', '3 working days');
    assert.equal(r.due, '2028-01-04T18:00:00+05:00');
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /WARNING: .*no data for 2028/);
    assert.deepEqual(missingYears, [2028]);
    assert.deepEqual(due('2027-12-01T12:00:00+05:00', '3 working days').warnings, []);
  });
});

describe('N calendar days', () => {
  it('ends at 18:00 of D0 + N, moved to the next working day when that is a day off', () => {
    // D0 Thu 19 Mar 2026 + 3 = Sun 22 Mar (Nauryz); next working day Thu 26 Mar.
    assert.equal(due('2026-03-19T10:00:00+05:00', '3 calendar days').due, '2026-03-26T18:00:00+05:00');
    // D0 Mon 2 Feb 2026 + 3 = Thu 5 Feb, a working day.
    assert.equal(due('2026-02-02T10:00:00+05:00', '3 calendar days').due, '2026-02-05T18:00:00+05:00');
  });

  it('in elapsed mode is the (deemed) receipt + N x 24 h', () => {
    assert.equal(due('2026-03-19T10:00:00+05:00', '3 calendar days', 'elapsed').due, '2026-03-22T10:00:00+05:00');
    // Received Sat 7 Dec 2024: deemed Mon 9 Dec 09:00, + 72 h.
    assert.equal(due('2024-12-07T13:00:00+05:00', '3 calendar days', 'elapsed').due, '2024-12-12T09:00:00+05:00');
    assert.equal(due('2024-12-07T13:00:00+05:00', '3 calendar days').due, '2024-12-12T18:00:00+05:00');
  });
});

describe('extensions', () => {
  it('count 10 and 20 working days from the original D0', () => {
    const r = cal.due(Date.parse('2026-03-20T17:59:00+05:00'), parseDueRule('3 working days')!);
    // From D0 Fri 20 Mar: 26, 27, 30, 31 Mar, 1, 2, 3, 6, 7, 8 Apr (10).
    assert.equal(formatLocalIso(cal.extendedDue(r.d0, 10).dueAt), '2026-04-08T18:00:00+05:00');
    // … 9, 10, 13, 14, 15, 16, 17, 20, 21, 22 Apr (20).
    assert.equal(formatLocalIso(cal.extendedDue(r.d0, 20).dueAt), '2026-04-22T18:00:00+05:00');
  });

  it('across the May 2026 holidays and Kurban Ait', () => {
    // D0 Thu 30 Apr: 1 May off; 4,5,6 (3); 7 off; 8 (4); 11 off; 12..15 (8); 18..22 (13); 25, 26 (15);
    // 27 Kurban Ait; 28, 29 (17); 1, 2, 3 Jun (20).
    assert.equal(formatLocalIso(cal.extendedDue('2026-04-30', 20).dueAt), '2026-06-03T18:00:00+05:00');
  });
});

describe('inactive accounts and warnings', () => {
  it('blocks from 00:00 local on the last-login date + 61', () => {
    // 23:30 local on 10 Jan 2026 -> 00:00 local 12 Mar 2026.
    assert.equal(formatLocalIso(inactiveBlockAt(Date.parse('2026-01-10T18:30:00Z'))), '2026-03-12T00:00:00+05:00');
    // 00:30 local on 11 Jan (19:30 UTC on the 10th) -> 13 Mar.
    assert.equal(formatLocalIso(inactiveBlockAt(Date.parse('2026-01-10T19:30:00Z'))), '2026-03-13T00:00:00+05:00');
  });

  it('places warnings at fractions of the span', () => {
    assert.deepEqual(warningTimes(0, 1000, [0.5, 0.75]), [500, 750]);
  });

  it('parses rules and refuses nonsense', () => {
    assert.deepEqual(parseDueRule('3 working days'), { count: 3, unit: 'working' });
    assert.deepEqual(parseDueRule('1 Calendar day'), { count: 1, unit: 'calendar' });
    for (const bad of ['', '3 days', '0 working days', 'three working days', '3 working days later', '1000 working days']) {
      assert.equal(parseDueRule(bad), undefined, bad);
    }
  });
});

describe('kuzet calendar due', () => {
  it('prints D0, the due time and the days off it skipped', async () => {
    const out = await calendarDueCommand({ from: '2026-03-20 18:01', rule: '3 working days', calendar: cal, extendTo: 10 });
    assert.equal(out.exitCode, 0);
    assert.match(out.text, /D0 = 2026-03-26 Thu, deemed received 2026-03-26 09:00 Thu/);
    assert.match(out.text, /due +2026-03-31 18:00 Tue \(2026-03-31T18:00:00\+05:00, 2026-03-31T13:00:00.000Z\)/);
    assert.match(out.text, /extended to +10 working days from D0: 2026-04-09 18:00 Thu/);
    assert.match(out.text, /days off +2026-03-21 Sat holiday .*2026-03-25 Wed shifted_day_off .*2026-03-29 Sun\n/, 'why D0 moved');
  });

  it('reads the file and lists skipped holidays', async () => {
    const out = await calendarDueCommand({ from: '2026-03-20T17:59:00+05:00', rule: '3 working days', calendarFile: FILE });
    assert.equal(out.exitCode, 0);
    assert.match(out.text, /days off +2026-03-21 Sat holiday Nauryz \(Saturday\), 2026-03-22 Sun holiday .*2026-03-25 Wed shifted_day_off/);
  });

  it('refuses a bad time, a bad rule and a missing file with a non-zero exit', async () => {
    const a = await calendarDueCommand({ from: '2026-02-30 10:00', rule: '3 working days', calendar: cal });
    assert.equal(a.exitCode, 2);
    assert.match(a.text, /--from "2026-02-30 10:00" is not a time/);
    const b = await calendarDueCommand({ from: '2026-02-03 10:00', rule: 'soon', calendar: cal });
    assert.equal(b.exitCode, 2);
    assert.match(b.text, /--rule "soon" is not a rule/);
    const c = await calendarDueCommand({ from: '2026-02-03 10:00', rule: '3 working days', calendarFile: '/nonexistent/kz.yaml' });
    assert.equal(c.exitCode, 1);
    assert.match(c.text, /cannot read the calendar file/);
  });

  it('parses instants with and without a zone', () => {
    assert.equal(parseInstant('2026-03-20 17:59'), Date.parse('2026-03-20T12:59:00Z'));
    assert.equal(parseInstant('2026-03-20T17:59:00Z'), Date.parse('2026-03-20T17:59:00Z'));
    assert.equal(parseInstant('2026-03-20T17:59'), Date.parse('2026-03-20T12:59:00Z'));
    assert.equal(parseInstant('yesterday'), undefined);
    assert.equal(parseInstant('2026-13-01'), undefined);
  });
});
