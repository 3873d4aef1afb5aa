import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import type { LogRuleConfig } from '../../../src/sources/logs/config.ts';
import { compileRules, RuleEngine, RuleError } from '../../../src/sources/logs/rules.ts';
import { signalProblems } from '../../../src/signals/signal.ts';

function engine(rules: LogRuleConfig[], clock = new FakeClock()) {
  const e = new RuleEngine(compileRules(rules), { clock, inputSystems: new Map([['app', 'portal']]) });
  e.start();
  const input = e.forInput('app');
  const feed = (...lines: string[]) => e.scanBlock(input, lines.join('\n'));
  return { e, clock, feed };
}

test('one match fires at once; the quiet period resolves it', () => {
  const { e, clock, feed } = engine([{ name: 'oom', pattern: 'OutOfMemoryError', severity: 'critical', resolve_after: '5m' }]);
  feed('ok', 'java.lang.OutOfMemoryError: Java heap space', 'ok');
  const [s, ...rest] = e.takeSignals();
  assert.equal(rest.length, 0);
  assert.equal(s!.status, 'firing');
  assert.equal(s!.source, 'log');
  assert.equal(s!.system, 'portal');
  assert.equal(s!.check, 'oom');
  assert.equal(s!.severity, 'critical');
  assert.deepEqual(signalProblems(s!), []);
  clock.advance(4 * 60_000);
  feed('java.lang.OutOfMemoryError again');
  assert.equal(e.takeSignals().length, 0, 'a match while firing sends nothing');
  clock.advance(4 * 60_000);
  assert.equal(e.takeSignals().length, 0, 'the quiet period restarts at each match');
  clock.advance(60_000);
  const [r] = e.takeSignals();
  assert.equal(r!.status, 'resolved');
  assert.equal(r!.fingerprint, s!.fingerprint);
});

test('threshold: N matches within the window, not N spread wider', () => {
  const { e, clock, feed } = engine([{ name: '5xx', pattern: '" 5\\d\\d ', threshold: { count: 3, window: '1m' } }]);
  feed('"GET /" 500 ');
  clock.advance(40_000);
  feed('"GET /" 502 ');
  clock.advance(40_000);
  feed('"GET /" 503 ');
  assert.equal(e.takeSignals().length, 0, 'three matches over 80 s do not fire');
  clock.advance(10_000);
  feed('"GET /" 504 ');
  const got = e.takeSignals();
  assert.equal(got.length, 1, 'the last three are within 60 s');
  assert.equal(got[0]!.status, 'firing');
});

test('named groups become labels and tell incidents apart', () => {
  const { e, feed } = engine([{ name: 'db-down', pattern: 'connect to (?P<host>[a-z0-9.-]+):(?P<port>\\d+) failed', summary: 'database {{host}} unreachable', labels: { team: 'dba' }, group_by: ['host'] }]);
  feed('connect to db1:5432 failed', 'connect to db2:5432 failed', 'connect to db1:6432 failed');
  const s = e.takeSignals();
  assert.equal(s.length, 2, 'db1 twice (different port) is one incident; db2 another');
  assert.deepEqual(s[0]!.labels, { team: 'dba', rule: 'db-down', input: 'app', host: 'db1', port: '5432' });
  assert.equal(s[0]!.summary, 'database db1 unreachable');
  assert.notEqual(s[0]!.fingerprint, s[1]!.fingerprint);
});

test('absence: fires when the expected line is missing for the period, resolves when it comes', () => {
  const { e, clock, feed } = engine([{ name: 'backup-done', pattern: 'backup finished', absent_for: '1h', severity: 'major' }]);
  clock.advance(59 * 60_000);
  feed('backup finished ok');
  clock.advance(59 * 60_000);
  assert.equal(e.takeSignals().length, 0);
  clock.advance(2 * 60_000);
  const [f] = e.takeSignals();
  assert.equal(f!.status, 'firing');
  assert.match(f!.summary, /no log line matched backup-done/);
  clock.advance(5 * 60 * 60_000);
  assert.equal(e.takeSignals().length, 0, 'still firing, nothing new');
  feed('backup finished ok');
  const [r] = e.takeSignals();
  assert.equal(r!.status, 'resolved');
  assert.equal(r!.fingerprint, f!.fingerprint);
});

test('rules name only their inputs; personal data in samples and labels is masked', () => {
  const clock = new FakeClock();
  const e = new RuleEngine(compileRules([{ name: 'auth', pattern: 'Failed password for', inputs: ['sshd'] }]), { clock });
  e.scanBlock(e.forInput('app'), 'Failed password for root');
  assert.equal(e.takeSignals().length, 0);
  e.scanBlock(e.forInput('sshd'), 'Failed password for root from user@example.com');
  const [s] = e.takeSignals();
  assert.ok(s && !JSON.stringify(s).includes('user@example.com'));
  const g = new RuleEngine(compileRules([{ name: 'login', pattern: 'login failed for (?P<user>\\S+)' }]), { clock });
  g.scanBlock(g.forInput('app'), 'login failed for ivan@example.kz\nlogin failed for olga@example.kz');
  const both = g.takeSignals();
  assert.equal(both.length, 2, 'two users, two incidents');
  assert.equal(both[0]!.labels.user, 'i***@***');
});

test('bad rules are refused with the rule name and the field', () => {
  assert.throws(() => compileRules([{ name: 'x', pattern: '(a)\\1' }]), (e: unknown) => e instanceof RuleError && /rule x: invalid pattern/.test(e.message));
  assert.throws(() => compileRules([{ name: 'x', pattern: 'a', resolve_after: 'soon' }]), /rule x: resolve_after "soon"/);
  assert.throws(() => compileRules([{ name: 'x', pattern: 'a', group_by: ['nope'] }]), /group_by names "nope"/);
  assert.throws(() => compileRules([{ name: 'x', pattern: 'a' }, { name: 'x', pattern: 'b' }]), /used twice/);
});
