import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { Scheduler, stableOffset, type Job } from '../../../src/sources/probes/scheduler.ts';

// One scheduler, a fake clock: spread starts, fixed rate, no self-overlap, a concurrency limit.

const settle = () => new Promise((r) => setImmediate(r));

function job(name: string, intervalMs: number, log: [string, number][], clock: FakeClock, hold?: () => Promise<void>): Job {
  return {
    name,
    intervalMs,
    run: async () => {
      log.push([name, clock.now()]);
      await hold?.();
    },
  };
}

test('starts are spread across the interval by a stable hash, then repeat at a fixed rate', async () => {
  const clock = new FakeClock('2026-01-05T00:00:00Z');
  const t0 = clock.now();
  const log: [string, number][] = [];
  const s = new Scheduler({ clock });
  const jobs = Array.from({ length: 100 }, (_v, i) => job(`probe-${i}`, 30_000, log, clock));
  s.setJobs(jobs);
  s.start();
  clock.advance(30_000);
  await settle();
  assert.equal(log.length, 100, 'each ran once in the first interval');
  const offsets = log.map(([, at]) => at - t0);
  assert.ok(new Set(offsets.map((o) => Math.floor(o / 3000))).size >= 8, 'spread over most tenths of the interval');
  for (const [name, at] of log) assert.equal((at - t0) % 30_000, stableOffset(name, 30_000, 50));
  assert.ok(log.every(([, at]) => (at - t0) % 50 === 0), 'starts on the 50 ms grid');
  // A fake clock's advance() is synchronous and jobs settle in microtasks: step one interval at a time.
  for (let i = 0; i < 2; i++) {
    clock.advance(30_000);
    await settle();
  }
  assert.equal(log.length, 300);
  const first = log.filter(([n]) => n === 'probe-7').map(([, at]) => at);
  assert.deepEqual([first[1]! - first[0]!, first[2]! - first[1]!], [30_000, 30_000]);
  await s.stop();
});

test('a job still running when due again is skipped, never overlapped', async () => {
  const clock = new FakeClock();
  const log: [string, number][] = [];
  let release!: () => void;
  const hold = () => new Promise<void>((r) => (release = r));
  const s = new Scheduler({ clock });
  s.setJobs([job('slow', 10_000, log, clock, hold)]);
  s.start();
  clock.set(s.dueOf('slow')!);
  await settle();
  assert.equal(log.length, 1);
  clock.advance(35_000); // three more due times pass while it runs
  await settle();
  assert.equal(log.length, 1);
  assert.equal(s.stats.skippedOverlap, 3);
  release();
  await settle();
  clock.advance(10_000);
  await settle();
  assert.equal(log.length, 2);
  release();
  await s.stop();
});

test('at most `concurrency` jobs run at once; the rest start as others finish', async () => {
  const clock = new FakeClock();
  const log: [string, number][] = [];
  const releases: (() => void)[] = [];
  const hold = () => new Promise<void>((r) => releases.push(r));
  const s = new Scheduler({ clock, concurrency: 3 });
  s.setJobs(Array.from({ length: 10 }, (_v, i) => job(`j${i}`, 60_000, log, clock, hold)));
  s.start();
  clock.advance(60_000);
  await settle();
  assert.equal(log.length, 3);
  assert.equal(s.stats.queued, 7);
  releases.splice(0).forEach((r) => r());
  await settle();
  await settle();
  assert.equal(log.length, 6);
  while (releases.length) {
    releases.splice(0).forEach((r) => r());
    await settle();
    await settle();
  }
  assert.equal(log.length, 10);
  await s.stop();
});

test('setJobs on reload keeps schedules of unchanged jobs and drops removed ones', async () => {
  const clock = new FakeClock();
  const log: [string, number][] = [];
  const s = new Scheduler({ clock });
  s.setJobs([job('a', 20_000, log, clock), job('b', 20_000, log, clock)]);
  const dueA = s.dueOf('a');
  s.start();
  s.setJobs([job('a', 20_000, log, clock), job('c', 20_000, log, clock)]);
  assert.equal(s.dueOf('a'), dueA);
  assert.equal(s.dueOf('b'), undefined);
  clock.advance(40_000);
  await settle();
  assert.deepEqual([...new Set(log.map(([n]) => n))].sort(), ['a', 'c']);
  await s.stop();
  const n = log.length;
  clock.advance(60_000);
  await settle();
  assert.equal(log.length, n, 'nothing runs after stop');
});

test('a wall clock set back by an hour does not stall probes for that hour', async () => {
  let now = Date.parse('2026-01-05T00:00:00Z');
  const inner = new FakeClock(now);
  // A clock whose now() can jump back while its timers keep their own (monotonic) time.
  const clock = { now: () => now, setTimeout: (fn: () => void, ms: number) => inner.setTimeout(fn, ms) };
  const move = (ms: number, wall = ms) => {
    now += wall;
    inner.advance(ms);
  };
  const log: number[] = [];
  const s = new Scheduler({ clock });
  s.setJobs([{ name: 'p', intervalMs: 10_000, run: async () => void log.push(now) }]);
  s.start();
  for (let i = 0; i < 3; i++) {
    move(10_000);
    await settle();
  }
  assert.equal(log.length, 3);
  move(0, -3_600_000); // NTP step back by an hour
  for (let i = 0; i < 12; i++) {
    move(10_000);
    await settle();
  }
  assert.ok(log.length >= 3 + 10, `ran ${log.length - 3} times in the 2 minutes after the step`);
  await s.stop();
});

test('jobs taken over: named ones run at once; a slot that passed since the decision runs late, not an interval later', async () => {
  const clock = new FakeClock('2026-01-05T00:00:00Z');
  const log: [string, number][] = [];
  const s = new Scheduler({ clock });
  s.start();
  const a = job('taken-a', 30_000, log, clock);
  const b = job('taken-b', 30_000, log, clock);
  const since = clock.now();
  const slotB = s.previousSlot('taken-b', 30_000, since) + 30_000; // b's next slot after `since`
  assert.ok(slotB > since && slotB <= since + 30_000);
  clock.set(slotB + 200); // the caller read the store meanwhile: b's slot passed
  s.setJobs([a, b], new Set(['taken-a']), since);
  await settle();
  clock.advance(0);
  await settle();
  const at = Object.fromEntries(log.map(([n, t]) => [n, t]));
  assert.equal(at['taken-a'], slotB + 200, 'a (its slot missed elsewhere) ran at once');
  assert.equal(at['taken-b'], slotB + 200, 'b, whose slot passed during the decision, ran at once too');
  // Without `since`, b would wait for its slot an interval later.
  const log2: [string, number][] = [];
  const s2 = new Scheduler({ clock });
  s2.start();
  s2.setJobs([job('taken-b', 30_000, log2, clock)]);
  assert.equal(s2.dueOf('taken-b'), slotB + 30_000);
  await s.stop();
  await s2.stop();
});
