import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.ts';
import { IncidentEngine } from '../../src/incidents/engine.ts';
import type { Signal } from '../../src/signals/signal.ts';
import { alertRowsPrelude, attachAlertRows } from '../../src/sources/webhooks/alert-state.ts';
import { alertToSignal } from '../../src/sources/webhooks/alertmanager.ts';
import type { Queryable, Store } from '../../src/store/store.ts';
import { sig } from '../support/signals.ts';
import { freshStore, storeKind } from '../support/store.ts';

// Issue 13 item 3: the statements a batch sends inside its transaction are counted through a wrapping Queryable, so
// a regression in round trips fails here whatever the machine's speed. Besides these, a transaction costs BEGIN and
// COMMIT.

const MIN = 60_000;
const policy = { reopenWindowMs: 30 * MIN, flapFlips: 4, flapWindowMs: 60 * MIN };

/** A store whose transactions count the statements sent through them. */
function counting(store: Store): { store: Store; statements: string[] } {
  const statements: string[] = [];
  const wrapped: Store = Object.create(store) as Store;
  Object.defineProperty(wrapped, 'tx', {
    value: <T>(fn: (q: Queryable) => Promise<T>) =>
      store.tx((q) =>
        fn({
          query: (sql, params) => {
            statements.push(sql.trim().replace(/\s+/g, ' ').slice(0, 60));
            return q.query(sql, params);
          },
        }),
      ),
  });
  return { store: wrapped, statements };
}

async function incident(store: Store, fp: string) {
  const r = await store.query<{ n: number; signal_count: number; status: string }>(
    `SELECT count(*) OVER ()::int AS n, signal_count::int, status FROM incidents WHERE fingerprint = $1 ORDER BY id DESC LIMIT 1`,
    [fp],
  );
  return r.rows[0];
}

describe(`engine round trips per batch on ${storeKind}`, () => {
  let store: Store;
  let counted: ReturnType<typeof counting>;
  let engine: IncidentEngine;
  let hookCalls = 0;
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const batch = (prefix: string, n: number, over: Partial<Signal> = {}) =>
    Array.from({ length: n }, (_, i) => sig({ fingerprint: `${prefix}-${i}`, ...over }));

  before(async () => {
    store = await freshStore();
    counted = counting(store);
    engine = new IncidentEngine({ store: counted.store, clock, policy: () => policy });
    engine.onChanges(async () => {
      hookCalls++;
    });
  });
  after(async () => {
    await store.close();
  });

  it('a batch of new failures: one read and one write', async () => {
    await engine.processBatch(batch('new', 3)); // the first batch of an engine reads the store
    counted.statements.length = 0;
    hookCalls = 0;
    const out = await engine.processBatch(batch('fresh', 64));
    assert.equal(counted.statements.length, 2, `statements: ${counted.statements.join(' | ')}`);
    assert.equal(hookCalls, 1, 'later stages see the 64 openings once');
    assert.equal(new Set(out.map((o) => o.incidentId)).size, 64);
    assert.ok(out.every((o) => o.action === 'opened' && !o.folded));
    assert.equal((await incident(store, 'fresh-63'))?.status, 'open');
  });

  it('a batch of pure repeats: one read, one write, and no hook work', async () => {
    counted.statements.length = 0;
    hookCalls = 0;
    const out = await engine.processBatch([...batch('fresh', 64), ...batch('fresh', 64)]);
    assert.equal(counted.statements.length, 2, `statements: ${counted.statements.join(' | ')}`);
    assert.equal(hookCalls, 0, 'nothing changed, so later stages were not called');
    assert.ok(out.every((o) => o.folded && o.action === 'appended'));
    assert.equal((await incident(store, 'fresh-0'))?.signal_count, 3);
    const l = await store.query<{ rows: number; total: number }>(
      `SELECT count(*)::int AS rows, sum(repeat_count)::int AS total FROM signals WHERE fingerprint LIKE 'fresh-%'`,
    );
    assert.deepEqual(l.rows[0], { rows: 64, total: 192 });
  });

  it('Alertmanager alerts with their expiry rows: still one read and one write', async () => {
    const now = clock.now();
    const alerts = Array.from({ length: 10 }, (_, i) => ({ labels: { alertname: 'Down', instance: `h${i}` } }));
    const signals = alerts.map((a) => alertToSignal(a, now, 'enbek'));
    attachAlertRows(alerts, signals, now, 5 * MIN);
    await engine.processBatch(signals, alertRowsPrelude(signals));
    counted.statements.length = 0;
    const again = alerts.map((a) => alertToSignal(a, now, 'enbek'));
    attachAlertRows(alerts, again, now + MIN, 5 * MIN);
    await engine.processBatch(again, alertRowsPrelude(again));
    assert.equal(counted.statements.length, 2, `statements: ${counted.statements.join(' | ')}`);
    const rows = await store.query<{ n: number; expires: Date }>(`SELECT count(*)::int AS n, max(expires_at) AS expires FROM alertmanager_alerts`);
    assert.equal(rows.rows[0]!.n, 10);
    assert.equal(new Date(rows.rows[0]!.expires).getTime(), now + 6 * MIN, 'the re-send refreshed the expiry in the same transaction');
  });

  it('another writer in between: the engine notices the version and reads again, and counts right', async () => {
    const other = new IncidentEngine({ store, clock, policy: () => policy });
    await other.processBatch([sig({ fingerprint: 'fresh-1', status: 'resolved' })]);
    counted.statements.length = 0;
    const [o] = await engine.processBatch([sig({ fingerprint: 'fresh-1' })]);
    assert.equal(counted.statements.length, 3, `a read again in a new snapshot: ${counted.statements.join(' | ')}`);
    assert.equal(o!.action, 'reopened', 'the resolve by the other writer was seen');
    const inc = await incident(store, 'fresh-1');
    assert.equal(inc?.n, 1);
    assert.equal(inc?.signal_count, 5);
    // A person's action goes through the same version: the next batch sees it.
    const id = o!.incidentId!;
    await engine.resolve(id, 'token:duty');
    const [p] = await engine.processBatch([sig({ fingerprint: 'fresh-1' })]);
    assert.equal(p!.action, 'reopened');
    counted.statements.length = 0;
    await engine.processBatch([sig({ fingerprint: 'fresh-1' })]);
    assert.equal(counted.statements.length, 2, 'back to one read and one write');
  });

  it('a batch that rolls back leaves nothing behind in memory', async () => {
    const failing = new IncidentEngine({ store: counted.store, clock, policy: () => policy });
    let fail = false;
    failing.onChanges(async () => {
      if (fail) throw new Error('a later stage failed');
    });
    await failing.processBatch([sig({ fingerprint: 'rb' })]);
    fail = true;
    await assert.rejects(failing.processBatch([sig({ fingerprint: 'rb', status: 'resolved' })]), /later stage failed/);
    fail = false;
    const [o] = await failing.processBatch([sig({ fingerprint: 'rb' })]);
    assert.equal(o!.action, 'appended', 'the rolled-back resolve never happened');
    const inc = await incident(store, 'rb');
    assert.equal(inc?.status, 'open');
    assert.equal(inc?.signal_count, 2);
  });
  it('rows removed behind the engine\'s back (no version change): the batch is retried from the store', async () => {
    await engine.processBatch([sig({ fingerprint: 'gone' })]);
    await store.exec('TRUNCATE incidents, incident_events, signals CASCADE');
    const [o] = await engine.processBatch([sig({ fingerprint: 'gone' })]);
    assert.equal(o!.action, 'opened');
    const inc = await incident(store, 'gone');
    assert.equal(inc?.signal_count, 1);
    const l = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM signals WHERE fingerprint = 'gone' AND incident_id IS NOT NULL`);
    assert.equal(l.rows[0]!.n, 1);
  });
});
