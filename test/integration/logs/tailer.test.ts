import assert from 'node:assert/strict';
import { appendFileSync, closeSync, copyFileSync, openSync, renameSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { compilePattern } from '../../../src/sources/logs/patterns.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';
import { recordingTailer, tempDir } from './support.ts';

let store: Store;
before(async () => {
  store = await freshStore();
});
after(async () => {
  await store.close();
});

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);
const text = (from: number, to: number) => lines(from, to).map((l) => l + '\n').join('');

function setup(name: string, extra: Parameters<typeof recordingTailer>[2] | object = {}) {
  const t = tempDir();
  const file = join(t.dir, 'app.log');
  const clock = new FakeClock();
  const make = () => recordingTailer(store, clock, { name, paths: [file], ...extra });
  return { ...t, file, clock, make };
}

test('reads lines, holds a partial line back, and resumes after a restart without repeats', async () => {
  const { file, make, cleanup } = setup('basic');
  writeFileSync(file, text(1, 3) + 'line 4 part');
  const a = make();
  await a.tailer.start();
  await a.tailer.pollOnce();
  assert.deepEqual(a.got, lines(1, 3));
  appendFileSync(file, 'ial\n' + text(5, 6));
  await a.tailer.pollOnce();
  assert.deepEqual(a.got.slice(3), ['line 4 partial', 'line 5', 'line 6']);
  await a.tailer.stop();
  appendFileSync(file, text(7, 8));
  const b = make();
  await b.tailer.start();
  await b.tailer.pollOnce();
  assert.deepEqual(b.got, lines(7, 8));
  await b.tailer.stop();
  cleanup();
});

test('a glob picks up new files from their first line', async () => {
  const t = tempDir();
  const clock = new FakeClock();
  writeFileSync(join(t.dir, 'a.log'), text(1, 2));
  writeFileSync(join(t.dir, 'skip.txt'), 'not me\n');
  const r = recordingTailer(store, clock, { name: 'glob', paths: [join(t.dir, '*.log')], startAt: 'end' });
  await r.tailer.start();
  await r.tailer.pollOnce();
  assert.deepEqual(r.got, [], 'start_at end skips what existed at the first start');
  writeFileSync(join(t.dir, 'b.log'), text(3, 4));
  appendFileSync(join(t.dir, 'a.log'), text(5, 5));
  await r.tailer.pollOnce();
  assert.deepEqual([...r.got].sort(), ['line 3', 'line 4', 'line 5']);
  await r.tailer.stop();
  t.cleanup();
});

test('rename-and-create: late writes to the old file and the new file are both read, in order', async () => {
  const { file, clock, make, cleanup } = setup('rename');
  writeFileSync(file, text(1, 2));
  const r = make();
  await r.tailer.start();
  await r.tailer.pollOnce();
  const fd = openSync(file, 'a');
  renameSync(file, file + '.1');
  writeSync(fd, text(3, 4)); // the writer has not reopened yet
  writeFileSync(file, text(5, 6));
  await r.tailer.pollOnce();
  assert.deepEqual(r.got, lines(1, 6));
  writeSync(fd, text(7, 7)); // still late, within rotate_wait
  closeSync(fd);
  clock.advance(500);
  await r.tailer.pollOnce();
  assert.deepEqual(r.got, lines(1, 7));
  assert.equal(r.tailer.openFiles.length, 2);
  clock.advance(1000);
  await r.tailer.pollOnce();
  assert.deepEqual(r.tailer.openFiles, [file], 'the rotated file is closed after rotate_wait');
  const rows = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM log_offsets WHERE input = 'rename'");
  assert.equal(rows.rows[0]!.n, 1, 'its offset row is gone');
  await r.tailer.stop();
  cleanup();
});

test('copytruncate: the unread rest comes from the copy, then the file is read from 0', async () => {
  const { file, make, cleanup } = setup('copytruncate');
  writeFileSync(file, text(1, 5));
  const r = make();
  await r.tailer.start();
  await r.tailer.pollOnce();
  appendFileSync(file, text(6, 8) + 'line 9 half');
  copyFileSync(file, file + '.1');
  truncateSync(file, 0);
  appendFileSync(file, text(10, 11));
  await r.tailer.pollOnce();
  assert.deepEqual(r.got, [...lines(1, 8), 'line 9 half', ...lines(10, 11)]);
  await r.tailer.stop();
  cleanup();
});

test('copytruncate of a file that was empty at the last poll: the copy is read from 0', async () => {
  const { file, make, cleanup } = setup('empty-copy');
  writeFileSync(file, '');
  const r = make();
  await r.tailer.start();
  await r.tailer.pollOnce();
  appendFileSync(file, text(1, 3));
  copyFileSync(file, file + '.1');
  truncateSync(file, 0);
  appendFileSync(file, text(4, 4));
  await r.tailer.pollOnce();
  assert.deepEqual(r.got, lines(1, 4));
  await r.tailer.stop();
  cleanup();
});

test('truncation without a copy: counted, and reading restarts at 0 even if the file regrew past the offset', async () => {
  const { file, make, cleanup } = setup('truncate');
  writeFileSync(file, text(1, 3));
  const r = make();
  await r.tailer.start();
  await r.tailer.pollOnce();
  writeFileSync(file, text(100, 120)); // same inode, new head, longer than before
  await r.tailer.pollOnce();
  assert.deepEqual(r.got, [...lines(1, 3), ...lines(100, 120)]);
  await r.tailer.stop();
  cleanup();
});

test('while stopped: rotation by rename, copytruncate, and a reused inode are all found at start', async () => {
  const { file, make, cleanup } = setup('offline');
  writeFileSync(file, text(1, 3));
  const a = make();
  await a.tailer.start();
  await a.tailer.pollOnce();
  await a.tailer.stop();
  // rename while down
  appendFileSync(file, text(4, 5));
  renameSync(file, file + '.1');
  writeFileSync(file, text(6, 7));
  const b = make();
  await b.tailer.start();
  await b.tailer.pollOnce();
  assert.deepEqual(b.got, lines(4, 7));
  await b.tailer.stop();
  // copytruncate while down
  appendFileSync(file, text(8, 9));
  copyFileSync(file, file + '.2');
  truncateSync(file, 0);
  appendFileSync(file, text(10, 10));
  const c = make();
  await c.tailer.start();
  await c.tailer.pollOnce();
  assert.deepEqual(c.got, lines(8, 10));
  await c.tailer.stop();
  // the same inode now holds other content (as after deletion and inode reuse): read from 0
  writeFileSync(file, text(200, 210));
  const d = make();
  await d.tailer.start();
  await d.tailer.pollOnce();
  assert.deepEqual(d.got, lines(200, 210));
  await d.tailer.stop();
  cleanup();
});

test('a rotated file still draining at a stop is found after a restart even if renamed again', async () => {
  const { file, make, cleanup } = setup('drain-restart');
  writeFileSync(file, text(1, 2));
  const a = make();
  await a.tailer.start();
  await a.tailer.pollOnce();
  const fd = openSync(file, 'a');
  renameSync(file, file + '.1');
  writeFileSync(file, text(5, 5));
  await a.tailer.pollOnce(); // app.log.1 is now draining
  writeSync(fd, text(3, 4));
  closeSync(fd);
  await a.tailer.stop();
  renameSync(file + '.1', file + '.2');
  renameSync(file, file + '.1');
  writeFileSync(file, text(6, 6));
  const b = make();
  await b.tailer.start();
  await b.tailer.pollOnce();
  assert.deepEqual([...a.got, ...b.got].sort(), lines(1, 6));
  await b.tailer.stop();
  cleanup();
});

test('a backlog larger than one poll is read on at once, not one budget per poll interval', async () => {
  const { file, clock, make, cleanup } = setup('backlog', { maxReadPerPoll: 1024, pollMs: 60_000 });
  writeFileSync(file, text(1, 2000));
  const r = make();
  const t0 = clock.now();
  await r.tailer.start();
  for (let i = 0; i < 500 && r.got.length < 2000; i++) {
    clock.advance(0); // fires only polls due now
    await new Promise((res) => setTimeout(res, 5));
  }
  assert.equal(r.got.length, 2000);
  assert.deepEqual(r.got, lines(1, 2000));
  assert.equal(clock.now(), t0, 'no poll interval had to pass');
  await r.tailer.stop();
  cleanup();
});

test('multi-line events survive a restart in the middle of an event, once', async () => {
  const { file, make, cleanup } = setup('multiline', { multiline: { start: compilePattern('^\\d{4}-'), maxLines: 100, timeoutMs: 60_000 } });
  const trace = ['2026-01-05 ERROR failed', 'java.lang.RuntimeException: x', '\tat A.b(A.java:1)'];
  writeFileSync(file, '2026-01-05 INFO a\n' + trace.join('\n') + '\n');
  const a = make();
  await a.tailer.start();
  await a.tailer.pollOnce();
  assert.deepEqual(a.got, ['2026-01-05 INFO a'], 'the trace may still grow');
  await a.tailer.stop();
  appendFileSync(file, '\tat C.d(C.java:2)\n2026-01-05 INFO b\n');
  const b = make();
  await b.tailer.start();
  await b.tailer.pollOnce();
  assert.deepEqual(b.got, [[...trace, '\tat C.d(C.java:2)'].join('\n')]);
  await b.tailer.stop();
  cleanup();
});
