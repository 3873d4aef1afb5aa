import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { advance, initialState, type Policy, type ProbeState } from '../../../src/sources/probes/state.ts';
import type { ProbeSeverity } from '../../../src/sources/probes/types.ts';

// The confirmation / recovery transition table, and runs of results through it.

const obs = (ok: boolean, over: { severity?: ProbeSeverity; maintenance?: boolean; at?: number } = {}) => ({
  ok,
  at: over.at ?? 0,
  severity: over.severity ?? 'major',
  maintenance: over.maintenance ?? false,
});

/** Feed a string like "ffs..." (f = fail, s = success); return the emitted transitions with their index. */
function feed(seq: string, p: Policy, start: ProbeState = initialState()): string[] {
  let s = start;
  const out: string[] = [];
  [...seq].forEach((c, i) => {
    const step = advance(s, obs(c === 's', { at: i }), p);
    s = step.state;
    if (step.emit) out.push(`${i}:${step.emit}`);
  });
  return out;
}

describe('transition table', () => {
  const p: Policy = { failures: 2, of: 2, successes: 2 };
  const up: ProbeState = initialState();
  const down: ProbeState = { status: 'down', history: [false, false], successes: 0, severity: 'major', maintenance: false };
  const rows: [string, ProbeState, ReturnType<typeof obs>, 'up' | 'down', string | undefined][] = [
    ['up + ok', up, obs(true), 'up', undefined],
    ['up + fail, not confirmed', up, obs(false), 'up', undefined],
    ['up + fail, confirmed', { ...up, history: [false] }, obs(false), 'down', 'firing'],
    ['down + fail, same severity', down, obs(false), 'down', undefined],
    ['down + fail, severity changed', down, obs(false, { severity: 'critical' }), 'down', 'firing'],
    ['down (in window) + fail after the window', { ...down, maintenance: true }, obs(false), 'down', 'firing'],
    ['down + fail, still in the window', { ...down, maintenance: true }, obs(false, { maintenance: true }), 'down', undefined],
    ['down + ok, not yet recovered', down, obs(true), 'down', undefined],
    ['down + ok, recovered', { ...down, successes: 1 }, obs(true), 'up', 'resolved'],
  ];
  for (const [name, from, o, status, emit] of rows) {
    test(name, () => {
      const step = advance(from, o, p);
      assert.equal(step.state.status, status);
      assert.equal(step.emit, emit);
    });
  }
});

describe('confirmation and recovery counts', () => {
  test('N consecutive failures: a success in between restarts the count', () => {
    const p = { failures: 3, of: 3, successes: 2 };
    assert.deepEqual(feed('ffsffsfff', p), ['8:firing']);
    assert.deepEqual(feed('fff', p), ['2:firing']);
    assert.deepEqual(feed('ff', p), []);
  });

  test('M of the last N: scattered failures confirm', () => {
    const p = { failures: 3, of: 5, successes: 1 };
    assert.deepEqual(feed('fsfsf', p), ['4:firing']);
    assert.deepEqual(feed('fssssfsf', p), []); // the first f left the window of 5 before the third came
    assert.deepEqual(feed('fsfssf', p), []);
  });

  test('K consecutive successes recover; a failure restarts the count; firing once per outage', () => {
    const p = { failures: 2, of: 2, successes: 3 };
    assert.deepEqual(feed('ffffssfsssff', p), ['1:firing', '9:resolved', '11:firing']);
  });

  test('after recovery a new outage needs fresh confirmation', () => {
    const p = { failures: 2, of: 2, successes: 1 };
    assert.deepEqual(feed('ffsf', p), ['1:firing', '2:resolved']);
  });
});
