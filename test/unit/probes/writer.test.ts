import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { ResultWriter, type ResultRow } from '../../../src/sources/probes/results.ts';
import type { Queryable, Store } from '../../../src/store/store.ts';

// The result writer against a store that fails: rows are kept (up to the cap), the store is retried by
// the timer only (not once per added row), and everything is written once it is back.

function fakeStore() {
  const state = { down: true, txCalls: 0, rows: 0 };
  const q: Queryable = {
    query: async (_sql: string, params?: unknown[]) => {
      state.rows += (JSON.parse(String(params?.[0] ?? '[]')) as unknown[]).length;
      return { rows: [], rowCount: 0 };
    },
  };
  const store = {
    kind: 'postgres',
    tx: async <T>(fn: (q: Queryable) => Promise<T>) => {
      state.txCalls++;
      if (state.down) throw new Error('connection refused');
      return fn(q);
    },
  } as unknown as Store;
  return { store, state };
}

const row = (i: number): ResultRow => ({ probe: `p${i}`, system: 's', startedAt: i, durationMs: 1, ok: true, intervalS: 30, maintenance: false });
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

test('a store that is down is retried by the timer, not per row; rows are kept and then written', async () => {
  const clock = new FakeClock();
  const { store, state } = fakeStore();
  let errors = 0;
  const w = new ResultWriter({ store, clock, batchSize: 10, flushMs: 1000, onError: () => errors++ });
  w.start();
  for (let i = 0; i < 15; i++) w.add(row(i)); // the 10th row triggers one flush, which fails
  await settle();
  for (let i = 15; i < 100; i++) w.add(row(i));
  await settle();
  assert.equal(state.txCalls, 1, 'no flush per added row while failing');
  clock.advance(1000);
  await settle();
  assert.equal(state.txCalls, 2);
  assert.equal(w.pending, 100);
  state.down = false;
  clock.advance(1000);
  await settle();
  assert.equal(state.rows, 100);
  assert.equal(w.pending, 0);
  assert.equal(errors, 2);
  await w.stop();
});

test('rows beyond the queue cap are dropped oldest first and counted', async () => {
  const clock = new FakeClock();
  const { store } = fakeStore();
  const w = new ResultWriter({ store, clock, batchSize: 1000, maxQueue: 50 });
  for (let i = 0; i < 80; i++) w.add(row(i));
  assert.equal(w.pending, 50);
  assert.equal(w.dropped, 30);
});
