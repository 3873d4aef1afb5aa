import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../src/clock.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import type { Signal } from '../../../src/signals/signal.ts';
import { LogConfigError, LogIntake } from '../../../src/sources/logs/intake.ts';
import { loadOffsets } from '../../../src/sources/logs/offsets.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';
import { tempDir } from './support.ts';

// Files -> multi-line events -> log rules -> the incident engine, with offsets committed after the signals.

let store: Store;
before(async () => {
  store = await freshStore();
});
after(async () => {
  await store.close();
});

const trace = (t: string, exc: string) =>
  `${t} ERROR [exec-1] c.e.orders.OrderService - failed\n${exc}: boom\n\tat com.example.A.b(A.java:1)\n\tat com.example.C.d(C.java:2)\n`;

test('a Java stack trace in a tailed file opens one incident; the offset is stored after it', async () => {
  const t = tempDir();
  const file = join(t.dir, 'app.log');
  writeFileSync(file, '');
  const clock = new FakeClock();
  const engine = new IncidentEngine({ store, clock, policy: () => ({ reopenWindowMs: 1_800_000, flapFlips: 4, flapWindowMs: 3_600_000 }) });
  const registry = new Registry();
  const intake = new LogIntake(
    {
      files: [{ name: 'java-app', paths: [join(t.dir, '*.log')], system: 'portal', start_at: 'beginning', poll_interval: '1s', multiline: { start: '^\\d{4}-\\d{2}-\\d{2}' } }],
      rules: [{ name: 'npe', pattern: '\\n(?P<exception>java\\.lang\\.NullPointerException)', severity: 'major', resolve_after: '5m' }],
    },
    { store, clock, registry, sink: { submit: (s) => engine.processBatch(s) } },
  );
  await intake.start();
  appendFileSync(file, '2026-01-05 10:00:00.000 INFO [main] c.e.App - started\n' + trace('2026-01-05 10:00:01.000', 'java.lang.NullPointerException'));
  appendFileSync(file, trace('2026-01-05 10:00:02.000', 'java.lang.NullPointerException') + '2026-01-05 10:00:03.000 INFO [main] c.e.App - ok\n');
  clock.advance(1000);
  const waitRows = async () => {
    for (let i = 0; i < 500; i++) {
      const r = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM incidents WHERE check_name = 'npe'");
      if (r.rows[0]!.n > 0) return r.rows[0]!.n;
      await new Promise((res) => setTimeout(res, 20));
    }
    return 0;
  };
  assert.equal(await waitRows(), 1);
  await intake.stop();
  const inc = await store.query<{ status: string; system: string; severity: string; labels: Record<string, string> }>(
    "SELECT status, system, severity, labels FROM incidents WHERE check_name = 'npe'",
  );
  assert.deepEqual(inc.rows.map((r) => [r.status, r.system, r.severity, r.labels.exception]), [['open', 'portal', 'major', 'java.lang.NullPointerException']]);
  const [off] = await loadOffsets(store, 'java-app');
  const size = Buffer.byteLength('2026-01-05 10:00:00.000 INFO [main] c.e.App - started\n' + trace('x'.repeat(23), 'java.lang.NullPointerException').repeat(2));
  assert.equal(off!.offset, size, 'the checkpoint stops at the start of the unfinished last event');
  const metrics = await registry.metrics();
  assert.match(metrics, /kuzet_log_rule_matches_total\{rule="npe"\} 2/);
  assert.match(metrics, /kuzet_log_lines_read_total\{input="java-app"\} 10/);
  t.cleanup();
});

test('when the sink refuses, nothing is lost and the offset does not move until it accepts', async () => {
  const t = tempDir();
  const file = join(t.dir, 'app.log');
  writeFileSync(file, '');
  const clock = new FakeClock();
  const got: Signal[] = [];
  let refuse = true;
  let attempts = 0;
  const intake = new LogIntake(
    { files: [{ name: 'flaky', paths: [file], start_at: 'beginning', poll_interval: '1s' }], rules: [{ name: 'err', pattern: 'ERROR (?P<code>\\d+)' }] },
    {
      store,
      clock,
      sink: {
        submit: async (s) => {
          attempts++;
          if (refuse) throw new Error('overloaded');
          got.push(...s);
          return s;
        },
      },
    },
  );
  await intake.start();
  appendFileSync(file, 'ERROR 1\nok\nERROR 2\n');
  // Move the fake clock (each step lets one poll run) until `cond` holds; bounded.
  const until = async (cond: () => boolean, what: string) => {
    for (let i = 0; i < 500 && !cond(); i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(cond(), what);
  };
  await until(() => attempts >= 2, 'the tailer tried twice');
  assert.equal(got.length, 0);
  assert.deepEqual(await loadOffsets(store, 'flaky'), [], 'no offset before the signals are accepted');
  refuse = false;
  appendFileSync(file, 'ERROR 3\n');
  await until(() => got.length >= 3, 'all three signals arrive');
  assert.deepEqual(got.map((s) => s.labels.code), ['1', '2', '3']);
  await intake.stop();
  const [off] = await loadOffsets(store, 'flaky');
  assert.equal(off!.offset, Buffer.byteLength('ERROR 1\nok\nERROR 2\nERROR 3\n'));
  t.cleanup();
});

test('bad config is refused with every problem named', () => {
  assert.throws(
    () =>
      new LogIntake(
        {
          files: [{ name: 'a', paths: ['relative.log', '/var/*/x.log'], rotate_wait: 'soon' }, { name: 'a', paths: ['/x'] }],
          rules: [{ name: 'r', pattern: '(?=x)', inputs: ['nope'] }],
        },
        { store, clock: new FakeClock(), sink: { submit: async (s) => s } },
      ),
    (e: unknown) =>
      e instanceof LogConfigError &&
      /must be absolute/.test(e.message) &&
      /only in the file name/.test(e.message) &&
      /rotate_wait "soon"/.test(e.message) &&
      /"a" is used twice/.test(e.message) &&
      /rule r: invalid pattern/.test(e.message),
  );
});
