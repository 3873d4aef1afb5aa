import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applySignal, type IncidentState, type LifecyclePolicy } from '../../../src/incidents/lifecycle.ts';
import type { Severity } from '../../../src/signals/signal.ts';
import { sig } from '../../support/signals.ts';

const MIN = 60_000;
const policy: LifecyclePolicy = { reopenWindowMs: 10 * MIN, flapFlips: 3, flapWindowMs: 30 * MIN };

// The lifecycle as one table: (state before, signal, minutes since last change) -> (state after, events).
type Row = { name: string; before: 'none' | 'open' | 'acknowledged' | 'resolved'; signal: 'firing' | 'resolved'; sev?: Severity; after: string | null; events: string[]; minutes?: number };
const table: Row[] = [
  { name: 'first firing opens', before: 'none', signal: 'firing', after: 'open', events: ['opened'] },
  { name: 'a resolve with nothing open is only recorded', before: 'none', signal: 'resolved', after: null, events: [] },
  { name: 'firing joins the open incident', before: 'open', signal: 'firing', after: 'open', events: [] },
  { name: 'firing keeps an acknowledged incident acknowledged', before: 'acknowledged', signal: 'firing', after: 'acknowledged', events: [] },
  { name: 'a higher severity raises', before: 'open', signal: 'firing', sev: 'critical', after: 'open', events: ['severity_raised'] },
  { name: 'a lower severity does not lower', before: 'open', signal: 'firing', sev: 'info', after: 'open', events: [] },
  { name: 'resolved resolves', before: 'open', signal: 'resolved', after: 'resolved', events: ['resolved'] },
  { name: 'resolved resolves an acknowledged one', before: 'acknowledged', signal: 'resolved', after: 'resolved', events: ['resolved'] },
  { name: 'a repeated resolve is harmless', before: 'resolved', signal: 'resolved', after: 'resolved', events: [] },
  { name: 'firing inside the window reopens', before: 'resolved', signal: 'firing', minutes: 9, after: 'open', events: ['reopened'] },
  { name: 'firing after the window opens a new one', before: 'resolved', signal: 'firing', minutes: 11, after: 'open', events: ['opened'] },
];

function state(status: Row['before'], now: number): IncidentState | null {
  if (status === 'none') return null;
  return {
    id: 1, isNew: false, fingerprint: 'fp-1', source: 'probe', system: 'enbek', check: 'c', title: 't', severity: 'major', status,
    labels: {}, flapping: false, flips: [], openedAt: now - 60 * MIN, acknowledgedAt: status === 'acknowledged' ? now - 30 * MIN : null,
    acknowledgedBy: null, resolvedAt: status === 'resolved' ? now : null, resolvedBy: null, reopenCount: 0, signalCount: 1,
    lastSignalAt: now, headSignalId: null, headHash: null, updatedAt: now,
  };
}

describe('incident lifecycle table', () => {
  for (const row of table) {
    it(row.name, () => {
      const t0 = Date.parse('2026-01-05T04:00:00Z');
      const prev = state(row.before, t0);
      let next = -100;
      const now = t0 + (row.minutes ?? 1) * MIN;
      const t = applySignal(prev, sig({ status: row.signal, severity: row.sev ?? 'major' }), now, policy, () => next--);
      assert.equal(t.incident?.status ?? null, row.after);
      assert.deepEqual(t.events.map((e) => e.kind), row.events);
      if (row.events[0] === 'opened') assert.equal(t.opened, true);
    });
  }

  it('the Nth flip in the window marks flapping and stops paging', () => {
    let now = Date.parse('2026-01-05T04:00:00Z');
    let next = -1;
    const inc = applySignal(null, sig(), now, policy, () => next--).incident!;
    const paged: string[] = [];
    for (const status of ['resolved', 'firing', 'resolved', 'firing'] as const) {
      now += MIN;
      for (const e of applySignal(inc, sig({ status }), now, policy, () => next--).events) if (e.page) paged.push(e.kind);
    }
    assert.equal(inc.flapping, true);
    assert.deepEqual(paged, ['resolved', 'reopened', 'resolved'], 'the third flip marks it flapping; after that nothing pages');
  });
});

describe('maintenance windows', () => {
  it('a failure inside a window is recorded without paging, and pages once it outlasts the window', () => {
    let now = Date.parse('2026-01-05T04:00:00Z');
    let next = -1;
    const m = { maintenance: 'true', maintenance_window: 'release', lang: 'ru' };
    const t1 = applySignal(null, sig({ labels: m }), now, policy, () => next--);
    assert.deepEqual(t1.events.map((e) => [e.kind, e.page]), [['opened', false]]);
    const inc = t1.incident!;
    now += MIN;
    assert.deepEqual(applySignal(inc, sig({ labels: m, severity: 'critical' }), now, policy, () => next--).events.map((e) => [e.kind, e.page]), [['severity_raised', false]]);
    now += MIN;
    const t3 = applySignal(inc, sig({ labels: { lang: 'ru' } }), now, policy, () => next--);
    assert.deepEqual(t3.events.map((e) => [e.kind, e.page]), [['maintenance_ended', true]]);
    assert.deepEqual(inc.labels, { lang: 'ru' });
    assert.deepEqual(applySignal(inc, sig({ labels: { lang: 'ru' } }), now + MIN, policy, () => next--).events, [], 'only once');
  });
});
