import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemClock } from '../../../src/clock.ts';
import { JournaldReader } from '../../../src/sources/logs/journald.ts';
import { loadOffsets, saveCheckpoint } from '../../../src/sources/logs/offsets.ts';
import type { TailBatch } from '../../../src/sources/logs/tailer.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';
import { tempDir } from './support.ts';

let store: Store;
before(async () => {
  store = await freshStore();
});
after(async () => {
  await store.close();
});

function reader(name: string, extra: { command?: string; units?: string[] } = {}) {
  const got: TailBatch['items'] = [];
  const r = new JournaldReader(
    { name, units: extra.units ?? [], command: extra.command, batchMs: 20, restartMs: 100 },
    {
      store,
      clock: systemClock,
      deliver: async (b) => {
        got.push(...b.items);
        await store.tx((q) => saveCheckpoint(q, b.checkpoint, systemClock.now()));
      },
    },
  );
  return { r, got };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 750 && !cond(); i++) await new Promise((res) => setTimeout(res, 20));
  assert.ok(cond(), what);
}

// A stand-in for journalctl that speaks its -o json -f protocol over a file of entries: the child-process
// handling, batching and cursor resume are tested here even where journald does not run.
const FAKE = `#!/usr/bin/env node
const fs = require('node:fs');
const after = (process.argv.find((a) => a.startsWith('--after-cursor=')) || '').slice(15);
let printed = 0, started = !after;
setInterval(() => {
  const lines = fs.readFileSync(process.env.FAKE_JOURNAL, 'utf8').split('\\n').filter(Boolean);
  for (; printed < lines.length; printed++) {
    if (started) process.stdout.write(lines[printed] + '\\n');
    else if (JSON.parse(lines[printed]).__CURSOR === after) started = true;
  }
}, 20);
`;

test('journalctl child process: entries become events with labels, and a restart resumes after the cursor', async () => {
  const t = tempDir();
  const journal = join(t.dir, 'journal.jsonl');
  const cmd = join(t.dir, 'journalctl');
  writeFileSync(cmd, FAKE);
  chmodSync(cmd, 0o755);
  writeFileSync(journal, '');
  process.env.FAKE_JOURNAL = journal;
  const entry = (i: number) => JSON.stringify({ __CURSOR: `c${i}`, MESSAGE: `entry ${i}`, _SYSTEMD_UNIT: 'app.service', PRIORITY: '3' }) + '\n';
  const a = reader('fake-journal', { command: cmd });
  await a.r.start();
  appendFileSync(journal, entry(1) + entry(2));
  await until(() => a.got.length === 2, 'two entries');
  assert.deepEqual(a.got[0], { kind: 'event', text: 'entry 1', labels: { unit: 'app.service', syslog_severity: 'err' } });
  await a.r.stop();
  assert.equal((await loadOffsets(store, 'fake-journal'))[0]!.cursor, 'c2');
  appendFileSync(journal, entry(3));
  const b = reader('fake-journal', { command: cmd });
  await b.r.start();
  await until(() => b.got.length === 1, 'the entry after the cursor');
  assert.equal((b.got[0] as { text: string }).text, 'entry 3');
  await b.r.stop();
  t.cleanup();
});

const journaldRunning = spawnSync('journalctl', ['-n', '0', '-q']).status === 0 && spawnSync('test', ['-S', '/run/systemd/journal/socket']).status === 0;
test('the real journald: a message sent with systemd-cat arrives', { skip: !journaldRunning && 'journald is not running on this machine' }, async () => {
  const { r, got } = reader('journal');
  await r.start();
  const tag = `kuzet-test-${process.pid}`;
  spawnSync('systemd-cat', ['-t', tag, 'echo', 'hello from kuzet'], { stdio: 'ignore' });
  await until(() => got.some((e) => e.kind === 'event' && e.labels?.app === tag), 'the journal entry');
  await r.stop();
});
