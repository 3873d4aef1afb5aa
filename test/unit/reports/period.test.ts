import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subtract, union } from '../../../src/reports/intervals.ts';
import { parsePeriod, previousMonth } from '../../../src/reports/period.ts';

describe('report periods (Asia/Almaty) and intervals', () => {
  it('a month, a quarter, a year and a range of days, bounded by local midnights', () => {
    assert.deepEqual(
      [parsePeriod('2026-11').from, parsePeriod('2026-11').to, parsePeriod('2026-11').days].map((x) => (typeof x === 'number' && x > 1e9 ? new Date(x).toISOString() : x)),
      ['2026-10-31T19:00:00.000Z', '2026-11-30T19:00:00.000Z', 30],
    );
    const q = parsePeriod('2026-q4');
    assert.deepEqual([q.label, q.firstDay, q.lastDay, q.days], ['2026-Q4', '2026-10-01', '2026-12-31', 92]);
    assert.equal(parsePeriod('2024').days, 366);
    // 2024-03-01 00:00 local moved Almaty from UTC+6 to UTC+5: February 2024 starts at 18:00Z, ends at 19:00Z.
    const feb = parsePeriod('2024-02');
    assert.deepEqual([new Date(feb.from).toISOString(), new Date(feb.to).toISOString()], ['2024-01-31T18:00:00.000Z', '2024-02-29T19:00:00.000Z']);
    const r = parsePeriod('2026-11-01..2026-11-15');
    assert.deepEqual([r.kind, r.days], ['range', 15]);
    assert.equal(previousMonth(Date.parse('2026-01-01T04:00:00Z')).label, '2025-12');
    assert.equal(previousMonth(Date.parse('2026-04-01T04:00:00Z')).label, '2026-03');
  });

  it('refuses anything else with a message naming the field and the value', () => {
    for (const [bad, msg] of [
      ['2026-13', /period: expected a month 01 to 12, got "2026-13"/],
      ['2026-Q0', /period: expected a month "2026-11", .* got "2026-Q0"/],
      ['1999', /period: expected a year between 2000 and 2100/],
      ['2026-11-15..2026-11-01', /period: the last day is before the first/],
      ['2026-02-29..2026-03-01', /period: 2026-02-29 is not a date/],
      ['2020-01-01..2026-01-01', /period: at most 1099 days/],
      ['last month', /period: expected a month/],
      ['', /period: .*it is missing/],
    ] as const) {
      assert.throws(() => parsePeriod(bad), msg, bad);
    }
    assert.throws(() => parsePeriod(['2026'] as unknown), /period: .*missing/);
  });

  it('union merges overlaps once; subtract cuts holes', () => {
    assert.deepEqual(union([[10, 30], [20, 50], [60, 70], [70, 80]]), [[10, 50], [60, 80]]);
    assert.deepEqual(subtract([[0, 100]], [[10, 20], [50, 200]]), [[0, 10], [20, 50]]);
    assert.deepEqual(subtract([[30, 90]], [[0, 60]]), [[60, 90]]);
  });
});
