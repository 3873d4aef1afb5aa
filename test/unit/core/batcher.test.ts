import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommitter } from '../../../src/signals/batcher.ts';

describe('group commit', () => {
  it('commits queued requests together, in order, and hands each caller its own results', async () => {
    const commits: number[][] = [];
    const g = new GroupCommitter<number, string>(async (items) => {
      commits.push(items);
      await new Promise((r) => setImmediate(r));
      return items.map((i) => `r${i}`);
    }, { maxBatch: 5, maxQueue: 100 });
    const out = await Promise.all([[1], [2, 3], [4], [5, 6], [7]].map((x) => g.submit(x)));
    assert.deepEqual(out, [['r1'], ['r2', 'r3'], ['r4'], ['r5', 'r6'], ['r7']]);
    assert.deepEqual(commits.flat(), [1, 2, 3, 4, 5, 6, 7]);
    assert.ok(commits.length < 5 && commits.every((c) => c.length <= 5), JSON.stringify(commits));
  });

  it('refuses beyond maxQueue with KZ_ERR_OVERLOADED and fails every caller of a failed commit', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const g = new GroupCommitter<number, number>(async (items) => {
      await gate;
      if (items.includes(13)) throw new Error('disk full');
      return items;
    }, { maxBatch: 2, maxQueue: 3 });
    const first = g.submit([1]); // taken by the first flush, waiting on the gate
    const a = g.submit([13]);
    const b = g.submit([14]);
    const c = g.submit([15]);
    await assert.rejects(g.submit([16, 17]), (e: Error & { code?: string }) => e.code === 'KZ_ERR_OVERLOADED');
    release();
    assert.deepEqual(await first, [1]);
    await assert.rejects(a, /disk full/);
    await assert.rejects(b, /disk full/);
    assert.deepEqual(await c, [15]);
  });

  it('drain waits for everything queued and then refuses new work', async () => {
    const done: number[] = [];
    const g = new GroupCommitter<number, number>(async (items) => (done.push(...items), items), { maxBatch: 10, maxQueue: 100 });
    const p = [g.submit([1]), g.submit([2])];
    await g.drain();
    assert.deepEqual(done, [1, 2]);
    await Promise.all(p);
    await assert.rejects(g.submit([3]), /shutting down/);
  });
});
