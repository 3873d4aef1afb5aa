import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { listMembers, Membership } from '../../../src/cluster/index.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, storeKind } from '../../support/store.ts';

// Membership on the injected clock: an instance whose session closed (kill -9, cut off) is dead at the next
// heartbeat of the others and fences itself when others can take over; a hung one (session open, no
// heartbeats) is dead after two missed heartbeats; an instance alone keeps everything.

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** The store as seen through a network that can be cut. */
function cuttable(store: Store) {
  const s = { cut: false, silent: false };
  const fail = () => (s.silent ? new Promise<never>(() => {}) : Promise.reject(new Error('connection refused')));
  const view = {
    ...store,
    kind: store.kind,
    query: ((sql: string, p?: unknown[]) => (s.cut ? fail() : store.query(sql, p))) as Store['query'],
    tx: ((fn: Parameters<Store['tx']>[0]) => (s.cut ? fail() : store.tx(fn))) as Store['tx'],
    session: ((fn: Parameters<Store['session']>[0]) =>
      s.cut ? fail() : store.session((q) => fn({ query: ((sql: string, p?: unknown[]) => (s.cut ? fail() : q.query(sql, p))) as Store['query'] }))) as Store['session'],
  } as Store;
  return { view, s };
}

describe(`membership on ${storeKind}`, () => {
  it('a closed session is dead at the next heartbeat, a hung instance after two missed; a cut one fences itself, then comes back', async () => {
    const store = await freshStore();
    closers.push(() => store.close());
    const clock = new FakeClock('2026-03-02T04:00:00Z');
    const net = cuttable(store);
    const x = new Membership({ store, clock, id: 'x', location: 'almaty', version: '1.0.0', heartbeatMs: 5000 });
    const y = new Membership({ store: net.view, clock, id: 'y', location: 'almaty', version: '1.0.0', heartbeatMs: 5000 });
    const z = new Membership({ store, clock, id: 'z', location: 'astana', version: '1.0.0', heartbeatMs: 5000 });
    await x.start();
    await y.start();
    await z.start();
    const step = async (s: number) => {
      for (let i = 0; i < s; i++) {
        clock.advance(1000);
        await Promise.all([x.settled(), y.settled(), z.settled()]);
      }
    };
    await step(5);
    assert.deepEqual(x.live, ['x', 'y'], 'only the instances of its own location');
    assert.deepEqual(z.live, ['z']);
    assert.ok(['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].every((n) => x.owns(n) !== y.owns(n)), 'each name has one owner in almaty');
    assert.ok(['p1', 'p2', 'p3'].every((n) => z.owns(n)), 'astana runs everything of its own');

    net.s.cut = true; // y loses the store: its session fails at its next heartbeat and the server ends it
    await step(5);
    assert.deepEqual(y.live, [], 'y fences itself at once: the others now count it dead');
    await step(5);
    assert.deepEqual(x.live, ['x'], 'y dead at the next heartbeat of x after its session closed');
    assert.ok(!y.owns('p1') && x.owns('p1'));
    const members = await listMembers(store, clock.now());
    assert.deepEqual(members.map((m) => [m.id, m.location, m.status]), [['x', 'almaty', 'live'], ['y', 'almaty', 'dead'], ['z', 'astana', 'live']]);

    net.s.cut = false;
    await step(5);
    assert.deepEqual(y.live, ['x', 'y'], 'back once it can write again');
    await step(5);
    assert.deepEqual(x.live, ['x', 'y']);

    // Hung (session open, no heartbeats): dead only after two missed heartbeats.
    const h = new Membership({ store, clock, id: 'h', location: 'almaty', version: '1.0.0', heartbeatMs: 5000 });
    await h.start();
    await step(5);
    assert.deepEqual(x.live, ['h', 'x', 'y']);
    // Whether x read h's last heartbeat in the same instant or one period later decides 10 s or 15 s: both count
    // two periods standing still from x's first sight of it.
    h.halt();
    await step(5);
    assert.deepEqual(x.live, ['h', 'x', 'y'], 'one missed heartbeat is not dead');
    await step(10);
    assert.deepEqual(x.live, ['x', 'y'], 'dead after two periods standing still (at most three after its last write)');
    await h.abandon();

    // Killed (its connection closes without a word): dead at the next heartbeat of each other instance.
    const k = new Membership({ store, clock, id: 'k', location: 'almaty', version: '1.0.0', heartbeatMs: 5000 });
    await k.start();
    await step(5);
    assert.deepEqual(x.live, ['k', 'x', 'y']);
    await k.abandon();
    const killedAt = clock.now();
    await step(5);
    assert.deepEqual(x.live, ['x', 'y'], 'noticed within one heartbeat period');
    assert.deepEqual(y.live, ['x', 'y']);
    assert.ok(clock.now() - killedAt <= 5000);
    assert.equal((await listMembers(store, clock.now())).find((m) => m.id === 'k')?.status, 'dead', 'dead at once to the API too');

    // A clean stop is seen at the next heartbeat, and a lone instance cut from the store keeps everything.
    await x.stop();
    await step(5);
    assert.deepEqual(y.live, ['y']);
    assert.equal((await listMembers(store, clock.now())).find((m) => m.id === 'x')?.status, 'stopped');
    net.s.cut = true;
    await step(30);
    assert.deepEqual(y.live, ['y'], 'alone: nobody would take over, so it does not fence itself');
    assert.ok(y.owns('p1'));
    // Started while the store does not answer, knowing nobody: it runs everything rather than nothing.
    const w = new Membership({ store: net.view, clock, id: 'w', location: 'kostanay', version: '1.0.0', heartbeatMs: 5000 });
    await w.start();
    assert.deepEqual(w.live, ['w']);
    assert.ok(w.owns('p1'));
    await w.abandon();
    await y.abandon();
    await z.abandon();
  });
  // Without the bound the heartbeat would wait forever: the timeout turns that into a failure.
  it('cut off silently (statements never return): the instance counts itself out within half a heartbeat', { timeout: 30_000 }, async () => {
    const store = await freshStore();
    closers.push(() => store.close());
    const clock = new FakeClock('2026-03-02T04:00:00Z');
    const net = cuttable(store);
    const x = new Membership({ store, clock, id: 'x', location: 'almaty', version: '1.0.0', heartbeatMs: 1000 });
    const y = new Membership({ store: net.view, clock, id: 'y', location: 'almaty', version: '1.0.0', heartbeatMs: 1000 });
    await x.start();
    await y.start();
    clock.advance(1000);
    await Promise.all([x.settled(), y.settled()]);
    assert.deepEqual(y.live, ['x', 'y']);
    net.s.cut = true;
    net.s.silent = true; // a network that drops everything: no error, no answer
    clock.advance(1000);
    const t0 = Date.now();
    await y.settled(); // the heartbeat gives up after half a period (500 ms of real time here)
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(y.live, [], 'fenced before the others count it dead (two periods)');
    assert.ok(!y.owns('p1'));
    await x.abandon();
    await y.abandon();
  });
  it('instances whose clocks differ by an hour still see each other live; one that halts is dead after two periods', async () => {
    const store = await freshStore();
    closers.push(() => store.close());
    const clocks = [new FakeClock('2026-03-02T04:00:00Z'), new FakeClock('2026-03-02T05:00:00Z'), new FakeClock('2026-03-02T03:00:00Z')];
    const [x, y, z] = ['x', 'y', 'z'].map((id, i) => new Membership({ store, clock: clocks[i]!, id, location: 'almaty', version: '1.0.0', heartbeatMs: 5000 })) as [Membership, Membership, Membership];
    for (const m of [x, y, z]) await m.start();
    const step = async (seconds: number) => {
      for (let i = 0; i < seconds; i++) {
        for (const c of clocks) c.advance(1000);
        await Promise.all([x.settled(), y.settled(), z.settled()]);
      }
    };
    await step(15);
    for (const m of [x, y, z]) assert.deepEqual(m.live, ['x', 'y', 'z'], `${m.id}: an hour ahead or behind, the others are live`);
    y.halt(); // y hangs: its session stays open, its heartbeat stands still
    await step(5);
    assert.deepEqual(x.live, ['x', 'y', 'z'], 'one period standing still is not dead');
    await step(10);
    assert.deepEqual(x.live, ['x', 'z'], 'dead after two periods by the watcher\'s own clock, an hour behind y\'s');
    assert.deepEqual(z.live, ['x', 'z'], 'and by a clock two hours behind');
    for (const m of [x, y, z]) await m.abandon();
  });
});
