import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastFinishedPeriod, maskName, sqlParams } from '../../../src/sources/probes/kinds/db.ts';

// Data feeds on fixed cadences (004 §7): the last finished calendar period in Asia/Almaty (UTC+05:00).

const iso = (p: { start: number; end: number }) => [new Date(p.start).toISOString(), new Date(p.end).toISOString()];

describe('feed periods', () => {
  it('monthly, quarterly, half-yearly and yearly periods end at local midnight', () => {
    // 10 April 2026, 12:00 Almaty.
    const now = Date.parse('2026-04-10T07:00:00Z');
    assert.deepEqual(iso(lastFinishedPeriod('monthly', now)), ['2026-02-28T19:00:00.000Z', '2026-03-31T19:00:00.000Z']);
    assert.deepEqual(iso(lastFinishedPeriod('quarterly', now)), ['2025-12-31T19:00:00.000Z', '2026-03-31T19:00:00.000Z']);
    assert.deepEqual(iso(lastFinishedPeriod('half-yearly', now)), ['2025-06-30T19:00:00.000Z', '2025-12-31T19:00:00.000Z']);
    assert.deepEqual(iso(lastFinishedPeriod('yearly', now)), ['2024-12-31T19:00:00.000Z', '2025-12-31T19:00:00.000Z']);
  });

  it('the first minutes of a local month already belong to it, though UTC still says the month before', () => {
    // 1 July 2026 00:30 Almaty is 30 June 19:30 UTC: June is the last finished month, H1 the last half.
    const now = Date.parse('2026-06-30T19:30:00Z');
    assert.deepEqual(iso(lastFinishedPeriod('monthly', now)), ['2026-05-31T19:00:00.000Z', '2026-06-30T19:00:00.000Z']);
    assert.deepEqual(iso(lastFinishedPeriod('half-yearly', now)), ['2025-12-31T19:00:00.000Z', '2026-06-30T19:00:00.000Z']);
    // A minute earlier it is still June locally: May is the last finished month.
    assert.deepEqual(iso(lastFinishedPeriod('monthly', now - 31 * 60_000)), ['2026-04-30T19:00:00.000Z', '2026-05-31T19:00:00.000Z']);
  });

  it('binds kuzet\'s clock and the period as parameters, in the order named', () => {
    const now = Date.parse('2026-04-10T07:00:00Z');
    assert.deepEqual(sqlParams({ url: 'postgres://x', query: 'q', params: ['period_end', 'now'], period: 'quarterly' }, now), ['2026-03-31T19:00:00.000Z', '2026-04-10T07:00:00.000Z']);
    assert.throws(() => sqlParams({ url: 'postgres://x', query: 'q', params: ['period_start'] }, now), /needs sql\.period/);
  });

  it('masks account names to their first and last character', () => {
    assert.equal(maskName('aigerim'), 'a*****m');
    assert.equal(maskName('ab'), '**');
    assert.equal(maskName('a.very.long.login.name'), 'a******e');
  });
});
