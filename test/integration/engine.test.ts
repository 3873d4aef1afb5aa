import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.ts';
import { IncidentEngine } from '../../src/incidents/engine.ts';
import { getIncident, listIncidents } from '../../src/incidents/queries.ts';
import { GroupCommitter } from '../../src/signals/batcher.ts';
import type { Signal } from '../../src/signals/signal.ts';
import type { Store } from '../../src/store/store.ts';
import { sig } from '../support/signals.ts';
import { freshStore, storeKind, testDatabaseUrl } from '../support/store.ts';

const MIN = 60_000;
const policy = { reopenWindowMs: 30 * MIN, flapFlips: 4, flapWindowMs: 60 * MIN };

async function setup() {
  const store = await freshStore();
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const engine = new IncidentEngine({ store, clock, policy: () => policy });
  return { store, clock, engine };
}

async function ledgerTotal(store: Store, fp?: string): Promise<{ rows: number; total: number }> {
  const r = await store.query<{ rows: number; total: number }>(
    `SELECT count(*)::int AS rows, coalesce(sum(repeat_count), 0)::int AS total FROM signals ${fp ? 'WHERE fingerprint = $1' : ''}`,
    fp ? [fp] : [],
  );
  return r.rows[0]!;
}

describe(`incident engine on ${storeKind}`, () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    ctx = await setup();
  });
  after(async () => {
    await ctx.store.close();
  });

  it('1,000 concurrent identical firing signals make exactly one incident and all 1,000 are in the ledger', async () => {
    const { engine, store } = ctx;
    const batcher = new GroupCommitter<Signal, unknown>((s) => engine.processBatch(s), { maxBatch: 250, maxQueue: 100_000 });
    const fp = 'same-1000';
    await Promise.all(Array.from({ length: 1000 }, () => batcher.submit([sig({ fingerprint: fp })])));
    const inc = await store.query<{ n: number; c: number }>('SELECT count(*)::int AS n, max(signal_count)::int AS c FROM incidents WHERE fingerprint = $1', [fp]);
    assert.equal(inc.rows[0]!.n, 1);
    assert.equal(inc.rows[0]!.c, 1000);
    const l = await ledgerTotal(store, fp);
    assert.equal(l.total, 1000, 'every accepted signal is counted');
    assert.equal(l.rows, 1, 'unchanged repeats fold into one ledger row');
    assert.ok(batcher.batches >= 4, 'group commit used several batches');
  });

  it('1,000 signals over 100 fingerprints make exactly 100 incidents', async () => {
    const { engine, store } = ctx;
    const batcher = new GroupCommitter<Signal, unknown>((s) => engine.processBatch(s), { maxBatch: 300, maxQueue: 100_000 });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => batcher.submit([sig({ fingerprint: `many-${i % 100}`, summary: `s${i}` })])));
    const inc = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM incidents WHERE fingerprint LIKE 'many-%'`);
    assert.equal(inc.rows[0]!.n, 100);
    const l = await store.query<{ total: number }>(`SELECT sum(repeat_count)::int AS total FROM signals WHERE fingerprint LIKE 'many-%'`);
    assert.equal(l.rows[0]!.total, 1000);
  });

  it('a changed repeat is a new ledger row, an unchanged one is folded', async () => {
    const { engine, store } = ctx;
    await engine.processBatch([sig({ fingerprint: 'fold' }), sig({ fingerprint: 'fold' }), sig({ fingerprint: 'fold', summary: 'other text' }), sig({ fingerprint: 'fold', summary: 'other text' })]);
    assert.deepEqual(await ledgerTotal(store, 'fold'), { rows: 2, total: 4 });
  });
});

describe('two kuzet instances on one PostgreSQL', () => {
  it('open exactly one incident per fingerprint between them', async () => {
    const a = await setup();
    // A second engine on its own connection pool to the same schema, as a second process would have.
    const { openStore } = await import('../../src/store/store.ts');
    const schema = (await a.store.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    const storeB = await openStore({ url: testDatabaseUrl, schema, poolSize: 4 });
    const b = new IncidentEngine({ store: storeB, clock: a.clock, policy: () => policy });
    try {
      const ba = new GroupCommitter<Signal, unknown>((s) => a.engine.processBatch(s), { maxBatch: 50, maxQueue: 10_000 });
      const bb = new GroupCommitter<Signal, unknown>((s) => b.processBatch(s), { maxBatch: 50, maxQueue: 10_000 });
      await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? ba : bb).submit([sig({ fingerprint: `two-${i % 20}` })])));
      const r = await a.store.query<{ n: number; total: number }>(`SELECT count(*)::int AS n, sum(signal_count)::int AS total FROM incidents WHERE fingerprint LIKE 'two-%'`);
      assert.deepEqual(r.rows[0], { n: 20, total: 400 });
      assert.equal((await ledgerTotal(a.store)).total, 400);
    } finally {
      await storeB.close();
      await a.store.close();
    }
  });
});

describe(`incident lifecycle on ${storeKind}`, () => {
  it('resolves on a resolved signal, reopens inside the window, opens anew after it', async () => {
    const { store, clock, engine } = await setup();
    try {
      const [o1] = await engine.processBatch([sig({ fingerprint: 'r' })]);
      assert.equal(o1!.action, 'opened');
      clock.advance(5 * MIN);
      const [o2] = await engine.processBatch([sig({ fingerprint: 'r', status: 'resolved' })]);
      assert.equal(o2!.action, 'resolved');
      assert.equal(o2!.incidentId, o1!.incidentId);
      // a repeated resolve (Prometheus re-sends them) changes nothing
      const [o2b] = await engine.processBatch([sig({ fingerprint: 'r', status: 'resolved' })]);
      assert.equal(o2b!.action, 'recorded');
      clock.advance(29 * MIN);
      const [o3] = await engine.processBatch([sig({ fingerprint: 'r' })]);
      assert.equal(o3!.action, 'reopened');
      assert.equal(o3!.incidentId, o1!.incidentId);
      clock.advance(MIN);
      await engine.processBatch([sig({ fingerprint: 'r', status: 'resolved' })]);
      clock.advance(31 * MIN);
      const [o4] = await engine.processBatch([sig({ fingerprint: 'r' })]);
      assert.equal(o4!.action, 'opened');
      assert.notEqual(o4!.incidentId, o1!.incidentId);
      const first = await getIncident(store, o1!.incidentId!);
      assert.deepEqual(first.timeline.map((e) => e.kind), ['opened', 'resolved', 'reopened', 'resolved']);
      assert.equal(first.reopen_count, 1);
      assert.equal(first.status, 'resolved');
    } finally {
      await store.close();
    }
  });

  it('marks an incident flapping after N flips in the window, holds paging, and clears when quiet', async () => {
    const { store, clock, engine } = await setup();
    const paged: string[] = [];
    engine.onChanges(async (_q, changes) => {
      for (const c of changes) if (c.event.page) paged.push(c.event.kind);
    });
    try {
      const [o] = await engine.processBatch([sig({ fingerprint: 'f' })]);
      for (let i = 0; i < 3; i++) {
        clock.advance(2 * MIN);
        await engine.processBatch([sig({ fingerprint: 'f', status: 'resolved' })]);
        clock.advance(2 * MIN);
        await engine.processBatch([sig({ fingerprint: 'f' })]);
      }
      const inc = await getIncident(store, o!.incidentId!);
      assert.equal(inc.flapping, true);
      const kinds = inc.timeline.map((e) => e.kind);
      assert.equal(kinds.filter((k) => k === 'flapping_started').length, 1);
      // flips: resolve, reopen, resolve, reopen(4th flip -> flapping); after that nothing pages
      assert.deepEqual(paged, ['opened', 'resolved', 'reopened', 'resolved']);
      clock.advance(61 * MIN);
      const swept = await engine.sweep(90 * 24 * 60 * MIN);
      assert.equal(swept.settled, 1);
      const after = await getIncident(store, o!.incidentId!);
      assert.equal(after.flapping, false);
      assert.equal(after.timeline.at(-1)!.kind, 'flapping_stopped');
    } finally {
      await store.close();
    }
  });

  it('only ever raises severity', async () => {
    const { store, engine } = await setup();
    try {
      const [o] = await engine.processBatch([sig({ fingerprint: 'sev', severity: 'warning' })]);
      await engine.processBatch([sig({ fingerprint: 'sev', severity: 'critical' })]);
      await engine.processBatch([sig({ fingerprint: 'sev', severity: 'info' })]);
      const inc = await getIncident(store, o!.incidentId!);
      assert.equal(inc.severity, 'critical');
      const raised = inc.timeline.filter((e) => e.kind === 'severity_raised');
      assert.equal(raised.length, 1);
      assert.deepEqual(raised[0]!.detail, { from: 'warning', to: 'critical' });
    } finally {
      await store.close();
    }
  });

  it('acknowledges, notes and resolves by hand; refuses to resolve twice', async () => {
    const { store, clock, engine } = await setup();
    try {
      const [o] = await engine.processBatch([sig({ fingerprint: 'man' })]);
      const id = o!.incidentId!;
      clock.advance(MIN);
      await engine.acknowledge(id, 'token:alice');
      await engine.note(id, 'token:alice', 'looking at the load balancer');
      clock.advance(MIN);
      await engine.resolve(id, 'token:alice');
      await assert.rejects(engine.resolve(id, 'token:alice'), /already resolved/);
      await assert.rejects(engine.acknowledge(999_999, 'x'), /not found/);
      const inc = await getIncident(store, id);
      assert.deepEqual(inc.timeline.map((e) => e.kind), ['opened', 'acknowledged', 'note', 'resolved']);
      assert.equal(inc.acknowledged_by, 'token:alice');
      const list = await listIncidents(store, { status: 'resolved' });
      assert.equal(list.items.length, 1);
    } finally {
      await store.close();
    }
  });

  it('retention drops old ledger rows but keeps every incident head', async () => {
    const { store, clock, engine } = await setup();
    try {
      await engine.processBatch([sig({ fingerprint: 'old', summary: 'a' }), sig({ fingerprint: 'old', summary: 'b' })]);
      clock.advance(100 * 24 * 60 * MIN);
      const r = await engine.sweep(90 * 24 * 60 * MIN);
      assert.equal(r.deleted, 1);
      assert.deepEqual(await ledgerTotal(store, 'old'), { rows: 1, total: 1 });
    } finally {
      await store.close();
    }
  });
});
