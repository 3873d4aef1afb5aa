import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { checkLogsConfig, loadLogRules } from '../../../src/sources/logs/intake.ts';
import { compileRules, RuleEngine } from '../../../src/sources/logs/rules.ts';

// The rules shipped in config/rules/ compile, and fire on real-looking lines of their software.

const CONFIG = fileURLToPath(new URL('../../../config/', import.meta.url));
const files = readdirSync(CONFIG + 'rules').filter((f) => f.endsWith('.yaml')).map((f) => `rules/${f}`);
const cfg = {
  files: ['nginx-access', 'nginx-error', 'postgresql', 'java-app', 'auth', 'app-auth'].map((name) => ({ name, paths: [`/var/log/${name}.log`] })),
  rule_files: files,
};

test('the shipped rule files are valid', () => {
  assert.deepEqual(files.sort(), ['rules/java.yaml', 'rules/nginx.yaml', 'rules/postgresql.yaml', 'rules/security.yaml']);
  assert.deepEqual(checkLogsConfig(cfg, CONFIG), []);
});

function run(input: string, events: string[], multi = false) {
  const clock = new FakeClock();
  const e = new RuleEngine(compileRules(loadLogRules(cfg, CONFIG)), { clock });
  e.start();
  const rules = e.forInput(input);
  for (const ev of events) {
    if (multi) e.scanEvent(rules, ev);
    else e.scanBlock(rules, ev);
    clock.advance(100);
  }
  return e.takeSignals();
}

test('nginx: a burst of 502s and an unreachable upstream', () => {
  const line = (i: number) => `10.0.0.${i} - - [05/Jan/2026:10:00:00 +0000] "GET /api/v1/orders?id=${i} HTTP/1.1" 502 157 "-" "curl/8"`;
  const s = run('nginx-access', Array.from({ length: 20 }, (_, i) => line(i)));
  assert.equal(s.length, 1);
  assert.equal(s[0]!.check, 'nginx-5xx-burst');
  assert.equal(s[0]!.labels.status, '502');
  assert.match(s[0]!.summary, /nginx answers 502 .* GET \/api\/v1\/orders/);
  const err = '2026/01/05 10:00:00 [error] 31#31: *5 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://10.1.1.1:8080/", host: "x"';
  const u = run('nginx-error', [err, err, err]);
  assert.deepEqual(u.map((x) => [x.check, x.labels.upstream, x.severity]), [['nginx-upstream-down', 'http://10.1.1.1:8080/', 'critical']]);
});

test('PostgreSQL: FATAL, disk full and failed logins', () => {
  const s = run('postgresql', [
    '2026-01-05 10:00:00.123 UTC [4242] FATAL:  the database system is in recovery mode',
    '2026-01-05 10:00:01.123 UTC [4243] ERROR:  could not extend file "base/16384/2619": No space left on device',
    ...Array.from({ length: 10 }, () => '2026-01-05 10:00:02.000 UTC [4244] FATAL:  password authentication failed for user "portal"'),
  ]);
  assert.deepEqual(
    s.map((x) => x.check),
    ['pg-fatal-or-panic', 'pg-disk-full', 'pg-authentication-failed'],
  );
  assert.equal(s[2]!.labels.user, 'portal');
});

test('Java: a stack trace event gives the exception and logger; OutOfMemoryError is critical', () => {
  const trace = [
    '2026-01-05 10:00:00.123 ERROR [http-nio-8080-exec-1] c.e.orders.OrderService - order failed',
    'java.lang.IllegalStateException: Order state transition not allowed',
    '\tat com.example.orders.OrderService.placeOrder(OrderService.java:42)',
    'Caused by: java.net.ConnectException: Connection refused',
  ].join('\n');
  const s = run('java-app', [trace, trace, trace, trace, trace, '2026-01-05 10:00:01.000 ERROR [main] c.e.App - boom\njava.lang.OutOfMemoryError: Java heap space'], true);
  assert.deepEqual(
    s.map((x) => [x.check, x.labels.exception ?? x.labels.kind, x.severity]),
    [
      ['java-unhandled-exception', 'java.lang.IllegalStateException', 'major'],
      ['java-out-of-memory', 'Java heap space', 'critical'],
    ],
  );
});
