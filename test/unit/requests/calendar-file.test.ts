import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KuzetError } from '../../../src/errors.ts';
import { parseCalendar } from '../../../src/requests/calendar-file.ts';

const HEAD = `zone: Asia/Almaty
working_hours: { start: "09:00", end: "18:00" }
years: [2026]
days:
`;

function errorsOf(text: string): string[] {
  try {
    parseCalendar(text, 'kz.yaml');
  } catch (err) {
    assert.ok(err instanceof KuzetError);
    assert.equal(err.code, 'KZ_ERR_CONFIG');
    return err.details as string[];
  }
  assert.fail('expected the calendar to be refused');
}

describe('calendar file validation', () => {
  it('names file:line:column for a bad kind, a bad date and an unknown key', () => {
    const errs = errorsOf(HEAD + `  - { date: 2026-01-01, kind: holday, source: law }
  - { date: 2026-02-30, kind: holiday, source: law }
  - { date: 2026-01-02, kind: holiday, name: New Year, bad, source: law }
`);
    assert.deepEqual(errs, [
      'kz.yaml:5:31: kind must be one of holiday, day_off, shifted_day_off, transferred_day_off, transferred_working_day, working_day',
      'kz.yaml:6:13: date must be a real date YYYY-MM-DD',
      'kz.yaml:7:56: unknown key "bad" (quote values that contain commas)',
    ]);
  });

  it('refuses YAML syntax errors and duplicate keys with a position', () => {
    const [first] = errorsOf('zone: Asia/Almaty\nzone: UTC\n');
    assert.match(first!, /^kz\.yaml:2:1: /);
    const [syntax] = errorsOf(HEAD + '  - { date: 2026-01-01, kind: holiday\n');
    assert.match(syntax!, /^kz\.yaml:\d+:\d+: /);
  });

  it('refuses a duplicate date, a date outside years and inconsistent transfers', () => {
    const errs = errorsOf(HEAD + `  - { date: 2026-01-01, kind: holiday, source: law }
  - { date: 2026-01-01, kind: day_off, source: law }
  - { date: 2027-01-01, kind: holiday, source: law }
`);
    assert.deepEqual(errs, [
      'kz.yaml:6:13: 2026-01-01 is listed twice (first at kz.yaml:5:13)',
      'kz.yaml:7:13: 2027-01-01 is in 2027, which is not listed in years',
    ]);
    const t = errorsOf(HEAD + `  - { date: 2026-02-04, kind: transferred_working_day, pair: 2026-02-06, source: order }
  - { date: 2026-02-07, kind: transferred_day_off, pair: 2026-02-04, source: order }
  - { date: 2026-02-09, kind: shifted_day_off, from: 2026-02-10, source: law }
  - { date: 2026-02-14, kind: working_day, source: x }
`);
    assert.deepEqual(t, [
      'kz.yaml:5:13: a transferred_working_day must be a Saturday or Sunday',
      'kz.yaml:5:62: 2026-02-06 is not listed as a transferred_day_off',
      'kz.yaml:6:13: a transferred_day_off must be a weekday',
      'kz.yaml:7:54: 2026-02-10 is not listed as a holiday',
      'kz.yaml:8:13: a weekend day that is worked is a transferred_working_day',
    ]);
  });

  it('refuses a wrong zone and bad working hours', () => {
    const errs = errorsOf(`zone: Europe/Moscow\nworking_hours: { start: "18:00", end: "9:00" }\nyears: [2026]\ndays: []\n`);
    assert.deepEqual(errs, ['kz.yaml:1:7: zone must be "Asia/Almaty"', 'kz.yaml:2:39: end must be "HH:MM"']);
  });

  it('warns when a weekend holiday has no shifted day off, and when the current or next year is missing', () => {
    const { warnings, calendar } = parseCalendar(HEAD + `  - { date: 2026-03-21, kind: holiday, source: law }
  - { date: 2026-03-22, kind: holiday, source: law }
  - { date: 2026-03-23, kind: holiday, source: law }
  - { date: 2026-03-24, kind: shifted_day_off, from: 2026-03-21, source: law }
`, 'kz.yaml', { now: Date.parse('2026-11-24T08:00:00Z') });
    assert.deepEqual(warnings, [
      'kz.yaml:6:13: holiday 2026-03-22 falls on a weekend but no shifted_day_off names it (art. 5 gives 2026-03-25); add it or note why not',
      "WARNING: kz.yaml: the working calendar has no data for 2027: deadlines reaching 2027 skip weekends only. Add 2027's holidays and transfers.",
    ]);
    assert.equal(calendar.isWorkingDay('2026-03-25'), true, 'the file is the truth; the warning does not invent a day off');
  });

  it('warns when a shifted day off is on the wrong day', () => {
    const { warnings } = parseCalendar(HEAD + `  - { date: 2026-05-09, kind: holiday, source: law }
  - { date: 2026-05-12, kind: shifted_day_off, from: 2026-05-09, source: law }
`, 'kz.yaml');
    assert.deepEqual(warnings, ['kz.yaml:6:13: shifted_day_off 2026-05-12 for 2026-05-09: the shift rule gives 2026-05-11']);
  });
});
