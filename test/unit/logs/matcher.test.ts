import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LogMatcher } from '../../../src/sources/logs/matcher.ts';
import { compilePattern } from '../../../src/sources/logs/patterns.ts';

const PATTERNS = ['ERROR|FATAL', '[Tt]imed? ?out', 'latency_ms=[0-9]{4,}', '^start', 'end$', 'x[^"]+y', '(?i)panic', '[[:digit:]]{3}', 'a\\s+b', '\\bid\\b'];

function naive(patterns: ReturnType<typeof compilePattern>[], text: string): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [];
  for (const line of text.split('\n')) {
    const hits = patterns.flatMap((p, i) => (p.test(line) ? [i] : []));
    if (hits.length) out.push([line, hits]);
  }
  return out;
}

function scanned(m: LogMatcher, text: string): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [];
  m.scanLines(text, (line, rules) => out.push([line, [...rules]]));
  return out;
}

for (const [label, sources] of [
  ['patterns with atoms (block scan)', PATTERNS.filter((p) => compilePattern(p).atoms !== null || compilePattern(p).engine === 'v8')],
  ['with atom-less re2js patterns (line by line)', PATTERNS],
] as const) {
test(`scanLines reports exactly the lines and rules a line-by-line test finds: ${label}`, () => {
  const patterns = sources.map((p) => compilePattern(p));
  const matcher = new LogMatcher(patterns);
  const word = fc.constantFrom('ERROR', 'timeout', 'Time out', 'latency_ms=12345', 'latency_ms=12', 'start', 'end', 'x', 'y', '"', 'PANIC', '123', 'a', 'b', ' ', '\t', 'id', 'idx', 'é', '\r');
  const line = fc.array(word, { maxLength: 8 }).map((w) => w.join(''));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
      const text = lines.join('\n');
      assert.deepEqual(scanned(matcher, text), naive(patterns, text));
    }),
    { numRuns: 400 },
  );
});
}

test('the block scan is used when every pattern has atoms or runs on V8', () => {
  const atomless = PATTERNS.filter((p) => compilePattern(p).engine === 're2' && compilePattern(p).atoms === null);
  assert.deepEqual(atomless, ['(?i)panic', '[[:digit:]]{3}']);
});

test('a matcher with only V8 patterns agrees with one that uses re2js for every pattern', () => {
  const sources = ['ERROR|FATAL', 'HTTP/1\\.[01]" 5[0-9][0-9] ', 'Caused by: [A-Za-z0-9_.$]+(Exception|Error)', '[Cc]onnection reset by peer|ECONNRESET'];
  const fast = new LogMatcher(sources.map((s) => compilePattern(s)));
  const slow = new LogMatcher(sources.map((s) => compilePattern(s, { engine: 're2' })));
  const text = [
    '10.0.0.1 - - [x] "GET / HTTP/1.1" 503 12 "-"',
    '10.0.0.1 - - [x] "GET / HTTP/1.1" 200 12 "-"',
    'Caused by: java.net.ConnectException: Connection refused',
    'Socket error: Connection reset by peer',
    'FATAL ECONNRESET',
    'nothing here',
  ].join('\n');
  assert.deepEqual(scanned(fast, text), scanned(slow, text));
  assert.equal(scanned(fast, text).length, 4);
});

test('an atom-less re2js pattern is tested on every line', () => {
  const m = new LogMatcher([compilePattern('(?i)[a-z]{3}[0-9]')]);
  assert.equal(compilePattern('(?i)[a-z]{3}[0-9]').engine, 're2');
  assert.deepEqual(scanned(m, 'abc1\nzz\nXYZ9'), [['abc1', [0]], ['XYZ9', [0]]]);
});
