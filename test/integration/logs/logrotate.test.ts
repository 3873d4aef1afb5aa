import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { systemClock } from '../../../src/clock.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';
import { recordingTailer, tempDir } from './support.ts';
import { WRITER_JS } from './writer.ts';

// The real logrotate, run 100 times in each mode with a private state file, while a writer process
// appends numbered lines. Every number must be read exactly once.
// copytruncate loses what is written between the copy and the truncate by design (logrotate(8) says so);
// prerotate/postrotate stop and continue the writer around that window, so the test measures the tailer.

const hasLogrotate = spawnSync('logrotate', ['--version']).status === 0;

let store: Store;
before(async () => {
  store = await freshStore();
});
after(async () => {
  await store.close();
});

for (const mode of ['rename', 'copytruncate'] as const) {
  test(`logrotate ${mode} x100 while a writer appends: every number read exactly once`, { skip: !hasLogrotate && 'logrotate is not installed', timeout: 60_000 }, async () => {
    const t = tempDir();
    const file = join(t.dir, 'app.log');
    writeFileSync(file, '');
    const writer = spawn(process.execPath, ['-e', WRITER_JS, file, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(writer.stdout!, 'data');
    const conf = join(t.dir, 'logrotate.conf');
    const scripts =
      mode === 'copytruncate'
        ? `  prerotate\n    kill -STOP ${writer.pid}\n  endscript\n  postrotate\n    kill -CONT ${writer.pid}\n  endscript\n`
        : '';
    writeFileSync(conf, `${file} {\n  ${mode === 'rename' ? 'create' : 'copytruncate'}\n  rotate 1000\n  missingok\n  nocompress\n${scripts}}\n`);
    const r = recordingTailer(store, systemClock, { name: `rotate-${mode}`, paths: [file], rotateWaitMs: 300 });
    await r.tailer.start();
    try {
      for (let i = 0; i < 100; i++) {
        const res = spawnSync('logrotate', ['-f', '-s', join(t.dir, 'state'), conf], { encoding: 'utf8' });
        assert.equal(res.status, 0, res.stderr);
        await r.tailer.pollOnce();
      }
      writer.kill('SIGTERM');
      let out = '';
      writer.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      await once(writer, 'exit');
      const written = Number(out.trim());
      assert.ok(written > 100, `the writer wrote ${written} lines`);
      // Let the rotated files' grace period pass, reading until everything is in (bounded).
      for (let i = 0; i < 100 && (r.got.length < written || r.tailer.openFiles.length > 1); i++) {
        await sleep(50);
        await r.tailer.pollOnce();
      }
      const seen = new Map<number, number>();
      for (const l of r.got) seen.set(Number(l), (seen.get(Number(l)) ?? 0) + 1);
      const missing: number[] = [];
      const twice: number[] = [];
      for (let n = 1; n <= written; n++) {
        const c = seen.get(n) ?? 0;
        if (c === 0) missing.push(n);
        if (c > 1) twice.push(n);
      }
      assert.deepEqual({ missing: missing.slice(0, 20), twice: twice.slice(0, 20) }, { missing: [], twice: [] });
      assert.equal(r.got.length, written, 'and nothing else');
      const rotated = spawnSync('sh', ['-c', `ls ${t.dir} | grep -c 'app.log.'`], { encoding: 'utf8' }).stdout.trim();
      assert.equal(Number(rotated), 100, 'logrotate did rotate 100 times');
    } finally {
      writer.kill('SIGKILL');
      await r.tailer.stop();
      t.cleanup();
    }
  });
}
