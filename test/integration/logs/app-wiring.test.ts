import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testApp, TEST_CONFIG } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

// The app's log intake: a matched line becomes an incident, and the read position commits in the same
// transaction as the signal (so the offset row exists exactly when the signal does).

describe(`log rules inside the app on ${storeKind}`, () => {
  it('a matching line in a tailed file opens an incident, and the offset is stored with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kuzet-applog-'));
    const file = join(dir, 'app.log');
    writeFileSync(file, 'INFO started\n');
    const t = await testApp(`${TEST_CONFIG}logs:
  files:
    - { name: app, paths: [${JSON.stringify(file)}], system: enbek, start_at: beginning, poll_interval: 100ms }
  rules:
    - { name: db-down, pattern: "FATAL: (?P<what>.+)", severity: critical, inputs: [app], summary: "database: {{what}}" }
`);
    try {
      await t.app.start();
      appendFileSync(file, 'FATAL: could not connect to server\n');
      let rows: Array<{ check_name: string; severity: string; system: string; title: string }> = [];
      for (let i = 0; i < 200 && rows.length === 0; i++) {
        t.clock.advance(150);
        await new Promise((r) => setTimeout(r, 10));
        rows = (await t.store.query<{ check_name: string; severity: string; system: string; title: string }>(`SELECT check_name, severity, system, title FROM incidents WHERE source = 'log'`)).rows;
      }
      assert.deepEqual(rows, [{ check_name: 'db-down', severity: 'critical', system: 'enbek', title: 'database: could not connect to server' }]);
      const off = (await t.store.query<{ byte_offset: number }>(`SELECT byte_offset FROM log_offsets WHERE input = 'app'`)).rows;
      assert.equal(off.length, 1, 'the read position was committed with the signal');
      assert.equal(Number(off[0]!.byte_offset), 'INFO started\n'.length + 'FATAL: could not connect to server\n'.length);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
