import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import { lifecyclePolicy } from '../../../src/incidents/lifecycle.ts';
import { buildReport } from '../../../src/reports/build.ts';
import { parsePeriod } from '../../../src/reports/period.ts';
import type { Signal } from '../../../src/signals/signal.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { context, L } from './fixture.ts';

// A feed probe with `sql.period` judges the last finished period: it fails during April when March got nothing new.
// The feeds report must put that failure on March, not on April.

describe(`feeds judged per period (${storeKind})`, () => {
  let store: Store;
  before(async () => {
    store = await freshStore();
    const clock = new FakeClock(L('2026-04-01T00:10'));
    const engine = new IncidentEngine({ store, clock, policy: () => lifecyclePolicy({ reopen_window: '30m', flapping: { flips: 6, window: '1h', settle: '0s' } }) });
    const sig = (status: 'firing' | 'resolved', at: number): Signal => ({
      source: 'probe', system: 'nqs', check: 'nqs-feed-recognition-results', fingerprint: 'probe:nqs-feed-recognition-results', severity: 'minor', status,
      summary: status === 'firing' ? 'n > 0 failed: "0"' : 'recovered', labels: { probe: 'nqs-feed-recognition-results', kind: 'sql' }, payload: {}, observedAt: at,
    });
    // From 1 April 00:10 to 3 April 12:00 the probe found nothing new for March; late data arrived then.
    await engine.processBatch([sig('firing', L('2026-04-01T00:10'))]);
    clock.set(L('2026-04-03T12:00'));
    await engine.processBatch([sig('resolved', L('2026-04-03T12:00'))]);
  });
  after(() => store.close());

  const ctx = (now: number) => {
    const c = context(store, now);
    return {
      ...c,
      probes: [{ name: 'nqs-feed-recognition-results', system: 'nqs', kind: 'sql', availability: false, enabled: true, labels: { feed: 'recognition-results', cadence: 'monthly' }, period: 'monthly' }],
    };
  };

  it('a failure in April marks March missed, and leaves April to be judged in May', async () => {
    const march = await buildReport(ctx(L('2026-05-10T12:00')), { kind: 'feeds', period: parsePeriod('2026-03') });
    const m = march.tables[0]!.rows.find((r) => r.feed === 'recognition-results')!;
    assert.deepEqual([m.slot, m.status], ['2026-03', 'missed']);
    assert.equal(m.late_min, (2 * 24 + 11) * 60 + 50, 'from 1 April 00:10 to 3 April 12:00');
    const april = await buildReport(ctx(L('2026-05-10T12:00')), { kind: 'feeds', period: parsePeriod('2026-04') });
    const a = april.tables[0]!.rows.find((r) => r.feed === 'recognition-results')!;
    assert.deepEqual([a.slot, a.status === 'missed'], ['2026-04', false]);
    const feb = await buildReport(ctx(L('2026-05-10T12:00')), { kind: 'feeds', period: parsePeriod('2026-02') });
    assert.notEqual(feb.tables[0]!.rows[0]!.status, 'missed', 'nothing failed during March: February was met');
  });
});
