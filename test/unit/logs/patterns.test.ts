import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePattern, PatternError, v8FallbackAvailable } from '../../../src/sources/logs/patterns.ts';

test('V8 runs patterns in the common subset; re2js runs the rest', () => {
  assert.equal(v8FallbackAvailable(), true, 'this Node has the backtrack-bounded fallback');
  for (const p of ['ERROR|FATAL', 'latency_ms=[0-9]{4,}', '(?P<status>5\\d\\d) ', '(?:\\d{1,3}\\.){3}\\d{1,3}', 'a{16}']) {
    assert.equal(compilePattern(p).engine, 'v8', p);
  }
  for (const p of ['(?i)error', '[[:alpha:]]+', '\\pL+', '\\Qa.b\\E', '(a{1,16})+', 'x{0,20}', '[]a]', '\\z', '😀']) {
    assert.equal(compilePattern(p).engine, 're2', p);
  }
});

test('the two engines agree on the common subset', () => {
  const lines = ['GET / HTTP/1.1" 503 1', 'status=200', 'id=42 user=alice', '', 'a  b', 'é€ x'];
  for (const p of ['HTTP/1\\.[01]" 5[0-9][0-9]', '^status=(?P<code>\\d+)$', 'id=(?<id>\\d+) user=(?<user>\\w+)', 'a\\s+b', '^$', '[^a-z ]+']) {
    const a = compilePattern(p, { engine: 'auto' });
    const b = compilePattern(p, { engine: 're2' });
    assert.equal(a.engine, 'v8', p);
    for (const l of lines) {
      assert.equal(a.test(l), b.test(l), `${p} on ${l}`);
      assert.deepEqual(a.groups(l), b.groups(l), `${p} groups on ${l}`);
    }
  }
});

test('named groups come out as labels on both engines', () => {
  for (const engine of ['auto', 're2'] as const) {
    const p = compilePattern('user=(?P<user>\\w+) from (?<ip>[0-9.]+)', { engine });
    assert.deepEqual(p.groupNames, ['user', 'ip']);
    assert.deepEqual(p.groups('login user=bob from 10.0.0.1 ok'), { user: 'bob', ip: '10.0.0.1' });
    assert.equal(p.groups('nothing'), null);
  }
});

test('invalid RE2 syntax is refused with the pattern in the message', () => {
  for (const p of ['(a)\\1', '(?=x)', '(?<=x)y', '[a-', '(unclosed']) {
    assert.throws(() => compilePattern(p), (e: unknown) => e instanceof PatternError && e.message.includes(JSON.stringify(p)), p);
  }
});

test('pathological patterns answer at once on either engine (no catastrophic backtracking)', { timeout: 10_000 }, () => {
  const input = 'a'.repeat(20_000) + '!';
  const cases: Array<[string, boolean]> = [
    ['(a+)+$', false], ['(a|aa)+$', false], ['(a|a)*b', false], ['(.*a){12}!', true], ['(.*a){12}b', false],
    ['(?i)(a+)+$', false], ['((a{1,10}){1,10})+$', false], ['(\\w+\\s?)+$', false],
  ];
  for (const [p, want] of cases) assert.equal(compilePattern(p).test(input), want, p);
});

test('atoms are literals every match contains', () => {
  assert.deepEqual(compilePattern('ERROR|FATAL').atoms, ['ERROR', 'FATAL']);
  assert.deepEqual(compilePattern('[Tt]oo many (open files|connections)').atoms, ['open files', 'connections']);
  assert.equal(compilePattern('[0-9]+').atoms, null);
});
