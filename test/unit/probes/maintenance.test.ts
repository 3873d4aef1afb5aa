import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MaintenanceCalendar } from '../../../src/sources/probes/maintenance.ts';

// One-off and recurring (cron, time zone) windows, limited by system or probe.

const at = (iso: string) => Date.parse(iso);
const enbek = { name: 'enbek-home-ru', system: 'enbek' };
const esobes = { name: 'e-sobes-web-ru', system: 'e-sobes' };

test('a one-off window covers [start, end) for the listed systems only', () => {
  const cal = new MaintenanceCalendar([{ name: 'upgrade', start: '2026-02-01T22:00:00+05:00', end: '2026-02-02T01:00:00+05:00', systems: ['enbek'] }]);
  assert.equal(cal.active(enbek, at('2026-02-01T16:59:59Z')), undefined);
  assert.equal(cal.active(enbek, at('2026-02-01T17:00:00Z')), 'upgrade');
  assert.equal(cal.active(enbek, at('2026-02-01T19:59:59Z')), 'upgrade');
  assert.equal(cal.active(enbek, at('2026-02-01T20:00:00Z')), undefined);
  assert.equal(cal.active(esobes, at('2026-02-01T18:00:00Z')), undefined);
});

test('a recurring window follows its cron in its time zone (Sundays 02:00-04:00 Almaty = Sat 21:00-23:00 UTC)', () => {
  const cal = new MaintenanceCalendar([{ name: 'weekly', cron: '0 2 * * 0', timezone: 'Asia/Almaty', duration: '2h' }]);
  // 2026-01-10 is a Saturday; Almaty is UTC+5.
  const times: [string, string | undefined][] = [
    ['2026-01-10T20:59:59Z', undefined],
    ['2026-01-10T21:00:00Z', 'weekly'],
    ['2026-01-10T22:30:00Z', 'weekly'],
    ['2026-01-10T22:59:59Z', 'weekly'],
    ['2026-01-10T23:00:00Z', undefined],
    ['2026-01-12T21:30:00Z', undefined], // Monday night
    ['2026-01-17T21:30:00Z', 'weekly'], // the next Sunday
  ];
  for (const [t, want] of times) assert.equal(cal.active(esobes, at(t)), want, t);
  // The cache must not hold a stale answer when asked out of order.
  assert.equal(cal.active(esobes, at('2026-01-10T22:00:00Z')), 'weekly');
  assert.equal(cal.active(esobes, at('2026-01-11T01:00:00Z')), undefined);
});

test('a window limited to probes by name', () => {
  const cal = new MaintenanceCalendar([{ name: 'p', start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', probes: ['e-sobes-web-ru'] }]);
  assert.equal(cal.active(esobes, at('2026-01-01T12:00:00Z')), 'p');
  assert.equal(cal.active(enbek, at('2026-01-01T12:00:00Z')), undefined);
});
