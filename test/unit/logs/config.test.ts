import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { Registry } from 'prom-client';
import { DURATION_RE } from '../../../src/clock.ts';
import { logRuleFileSchema, logsConfigSchema } from '../../../src/sources/logs/config.ts';
import { journalEntryToEvent } from '../../../src/sources/logs/journald.ts';
import { logsConfigProblems } from '../../../src/sources/logs/intake.ts';
import { createLogMetrics } from '../../../src/sources/logs/metrics.ts';

function ajv() {
  const a = new Ajv({ allErrors: true, strict: true });
  a.addFormat('duration', DURATION_RE);
  return a;
}

test('the logs schema accepts a full example and refuses unknown fields and bad durations', () => {
  const validate = ajv().compile(logsConfigSchema);
  const good = {
    files: [{ name: 'java-app', paths: ['/var/log/app/*.log'], system: 'portal', start_at: 'end', multiline: { start: '^\\d{4}-', max_lines: 200, timeout: '2s' }, rotate_wait: '10s' }],
    journald: [{ name: 'system', units: ['nginx.service'] }],
    syslog: { udp: { port: 5514 }, tcp: { host: '0.0.0.0', port: 5514, max_connections: 100 }, system: 'hosts' },
    rules: [{ name: 'oom', pattern: 'OutOfMemoryError', severity: 'critical', threshold: { count: 2, window: '1m' }, resolve_after: '5m' }],
    rule_files: ['rules/nginx.yaml'],
  };
  assert.equal(validate(good), true, JSON.stringify(validate.errors));
  for (const bad of [
    { files: [{ name: 'x', paths: ['/a'], colour: 'red' }] },
    { rules: [{ name: 'x', pattern: 'a', resolve_after: 'soon' }] },
    { rules: [{ name: 'x', pattern: 'a', severity: 'urgent' }] },
    { syslog: { udp: { port: 70000 } } },
    { journald: [{ name: 'j', units: ['--all'] }] },
  ]) {
    assert.equal(validate(bad), false, JSON.stringify(bad));
  }
  assert.equal(ajv().compile(logRuleFileSchema)({ rules: good.rules }), true);
});

test('journal entries: text, byte-array messages, labels, and garbage', () => {
  const e = journalEntryToEvent(JSON.stringify({ __CURSOR: 's=1', MESSAGE: 'disk full', _SYSTEMD_UNIT: 'app.service', SYSLOG_IDENTIFIER: 'app', PRIORITY: '3', _HOSTNAME: 'web1' }));
  assert.deepEqual(e, { text: 'disk full', cursor: 's=1', labels: { unit: 'app.service', app: 'app', host: 'web1', syslog_severity: 'err' } });
  assert.equal(journalEntryToEvent(JSON.stringify({ __CURSOR: 'c', MESSAGE: [104, 105] }))?.text, 'hi');
  assert.equal(journalEntryToEvent('not json'), null);
  assert.equal(journalEntryToEvent('{"MESSAGE":"no cursor"}'), null);
});

test('metrics: a second intake on the same registry (a reload) reuses the counters', async () => {
  const r = new Registry();
  createLogMetrics(r)!.tail.linesRead('a', 2);
  createLogMetrics(r)!.tail.linesRead('a', 3);
  assert.match(await r.metrics(), /kuzet_log_lines_read_total\{input="a"\} 5/);
});

test('logsConfigProblems: every problem, each with its path and exact message', () => {
  const problems = logsConfigProblems({
    files: [
      { name: 'app', paths: ['/var/log/app.log', 'relative.log', '/var/*/x.log'], rotate_wait: 'soon', multiline: { start: '(?<=x)' } },
      { name: 'app', paths: ['/x.log'] },
    ],
    syslog: { name: 'app', udp: { port: 514 } },
    rules: [
      { name: 'a', pattern: '(a)\\1' },
      { name: 'b', pattern: 'x', inputs: ['app', 'nope'], group_by: ['missing'] },
      { name: 'c', pattern: 'y', inputs: ['nope'], resolve_after: '5 min' },
      { name: 'c', pattern: 'z', absent_for: '1h', threshold: { count: 2, window: '1m' } },
    ],
    rule_files: ['/nonexistent/rules.yaml'],
  });
  const got = problems.map((p) => `${p.path.join('.')} | ${p.message}`);
  assert.deepEqual(got.slice(0, 7), [
    'logs.files.0.paths.1 | path "relative.log": must be absolute',
    'logs.files.0.paths.2 | path "/var/*/x.log": wildcards are allowed only in the file name',
    'logs.files.0.rotate_wait | rotate_wait "soon" is not a duration',
    'logs.files.0.multiline.start | invalid pattern "(?<=x)": ' + got[3]!.split('invalid pattern "(?<=x)": ')[1],
    'logs.files.1.name | input name "app" is used twice',
    'logs.syslog.name | input name "app" is used twice',
    'logs.rules.0.pattern | rule a: invalid pattern "(a)\\\\1": ' + got[6]!.split('invalid pattern "(a)\\\\1": ')[1],
  ]);
  assert.deepEqual(got.slice(7), [
    'logs.rules.1.group_by.0 | rule b: group_by names "missing", which is not a named group of the pattern',
    'logs.rules.2.resolve_after | rule c: resolve_after "5 min" is not a duration',
    'logs.rules.3.absent_for | rule c: absent_for and threshold cannot be combined',
    'logs.rules.3.name | rule c: the name is used twice',
    'logs.rule_files.0 | rule file /nonexistent/rules.yaml: ' + got[11]!.split('rule file /nonexistent/rules.yaml: ')[1],
  ]);
  const inputs = logsConfigProblems({ files: [{ name: 'app', paths: ['/a.log'] }], rules: [{ name: 'b', pattern: 'x', inputs: ['app', 'nope'] }] });
  assert.deepEqual(inputs, [{ path: ['logs', 'rules', 0, 'inputs', 1], message: 'rule b: input "nope" is not defined' }]);
});
