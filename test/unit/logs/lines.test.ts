import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LineSplitter } from '../../../src/sources/logs/lines.ts';
import { MultilineAssembler } from '../../../src/sources/logs/multiline.ts';
import { compilePattern } from '../../../src/sources/logs/patterns.ts';

/** What the splitter must produce: every complete line, cut to `max` bytes; offsets past each newline. */
function expected(data: Buffer, max: number): { lines: string[]; cut: number; offset: number } {
  const lines: string[] = [];
  let cut = 0;
  let start = 0;
  for (;;) {
    const nl = data.indexOf(10, start);
    if (nl === -1) break;
    if (nl - start > max) {
      lines.push(data.toString('utf8', start, start + max));
      cut++;
    } else lines.push(data.toString('utf8', start, nl));
    start = nl + 1;
  }
  return { lines, cut, offset: start };
}

for (const trackLines of [true, false]) {
test(`any chunking gives the same lines, cuts and offsets (trackLines ${trackLines})`, () => {
  const line = fc.oneof(fc.string({ maxLength: 12 }), fc.constant('x'.repeat(40)), fc.constant('ж'.repeat(9)));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }), (ls, sizes) => {
      const data = Buffer.from(ls.map((l) => l + '\n').join(''));
      const want = expected(data, 24);
      const s = new LineSplitter({ maxLineBytes: 24, trackLines });
      const got: string[] = [];
      let cut = 0;
      let at = 0;
      let k = 0;
      while (at < data.length) {
        const n = sizes[k++ % sizes.length]!;
        const b = s.push(data.subarray(at, at + n));
        at += n;
        if (b.lines) got.push(...b.text.split('\n'));
        if (trackLines) assert.equal(b.ends?.length, b.lines);
        cut += b.cut;
      }
      assert.deepEqual(got, want.lines);
      assert.equal(cut, want.cut);
      assert.equal(s.offset, want.offset);
      assert.equal(s.readOffset, data.length);
    }),
    { numRuns: 300 },
  );
});
}

test('an over-long line is cut, its rest skipped without buffering, and the next line is whole', () => {
  const s = new LineSplitter({ maxLineBytes: 100 });
  let b = s.push(Buffer.from('head\n' + 'y'.repeat(60)));
  assert.equal(b.text, 'head');
  for (let i = 0; i < 1000; i++) {
    b = s.push(Buffer.alloc(1000, 0x79));
    assert.ok(s.pendingBytes <= 100, 'held bytes stay bounded');
  }
  b = s.push(Buffer.from('yyy\nnext line\n'));
  assert.equal(b.text, 'next line');
  assert.equal(s.offset, 5 + 60 + 1_000_000 + 4 + 10);
});

test('the partial last line waits for its newline; flushPartial hands it out', () => {
  const s = new LineSplitter({ maxLineBytes: 100, offset: 7 });
  assert.equal(s.push(Buffer.from('abc')).lines, 0);
  assert.equal(s.offset, 7);
  assert.equal(s.readOffset, 10);
  assert.deepEqual(s.flushPartial().text, 'abc');
  assert.equal(s.offset, 10);
});

test('a Java stack trace is one event; the unfinished event start is the checkpoint', () => {
  const a = new MultilineAssembler(compilePattern('^\\d{4}-\\d{2}-\\d{2}'), 100);
  const text = [
    '2026-01-05 10:00:00 INFO started',
    '2026-01-05 10:00:01 ERROR request failed',
    'java.lang.IllegalStateException: boom',
    '\tat com.example.A.run(A.java:10)',
    'Caused by: java.net.ConnectException: Connection refused',
    '\t... 3 more',
    '2026-01-05 10:00:02 INFO next',
  ];
  const ends: number[] = [];
  let off = 0;
  for (const l of text) ends.push((off += Buffer.byteLength(l) + 1));
  const events = a.push(text, ends, 0);
  assert.equal(events.length, 2);
  assert.equal(events[1]!.text, text.slice(1, 6).join('\n'));
  assert.equal(a.pendingStart, ends[5]);
  assert.equal(a.flush()!.text, text[6]);
  assert.equal(a.pendingStart, null);
});

test('an event past max_lines keeps its head and counts the dropped lines', () => {
  const a = new MultilineAssembler(compilePattern('^START'), 3);
  a.push(['START', 'a', 'b', 'c', 'd'], [6, 8, 10, 12, 14], 0);
  const ev = a.flush()!;
  assert.equal(ev.text, 'START\na\nb');
  assert.equal(ev.dropped, 2);
});
