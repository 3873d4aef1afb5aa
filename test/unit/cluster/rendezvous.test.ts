import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerOf } from '../../../src/cluster/membership.ts';

const names = Array.from({ length: 10_000 }, (_, i) => `probe-${i}`);

test('rendezvous: one instance owns everything; none owns nothing', () => {
  assert.ok(names.every((n) => ownerOf(n, ['solo']) === 'solo'));
  assert.equal(ownerOf('x', []), undefined);
});

test('rendezvous: 10,000 probes over three instances, each share within 5 % of even', () => {
  const count = new Map<string, number>();
  for (const n of names) {
    const o = ownerOf(n, ['kuzet-1:101:aa', 'kuzet-2:202:bb', 'kuzet-3:303:cc'])!;
    count.set(o, (count.get(o) ?? 0) + 1);
  }
  assert.equal(count.size, 3);
  for (const [id, k] of count) assert.ok(Math.abs(k - names.length / 3) < (0.05 * names.length) / 3, `${id}: ${k}`);
});

test('rendezvous: when an instance leaves only its probes move, and the order of ids does not matter', () => {
  const three = ['a', 'b', 'c'];
  for (const n of names.slice(0, 2000)) {
    const before = ownerOf(n, three);
    assert.equal(ownerOf(n, ['c', 'a', 'b']), before);
    const after = ownerOf(n, ['a', 'b']);
    if (before !== 'c') assert.equal(after, before, `${n} moved although its owner stayed`);
  }
});
