import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { migrate } from '../../../src/store/migrate.ts';
import { openStore, type Store } from '../../../src/store/store.ts';
import { testDatabaseUrl } from '../../support/store.ts';
import { tempDir } from './support.ts';
import { WRITER_JS } from './writer.ts';

// kill -9 of a process running the tailer, several times while a writer appends (and once a rotation by
// rename while it is dead), then a clean stop: every number is committed exactly once.

const CHILD = fileURLToPath(new URL('./tail-child.ts', import.meta.url));

function startChild(file: string, env: NodeJS.ProcessEnv): { child: ChildProcess; committed: () => number; idle: () => boolean; ready: Promise<unknown> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file, 'restart'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let last = 0;
  let idle = false;
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    if (buf.includes('idle\n')) idle = true;
    const m = buf.match(/committed (\d+)\n(?![\s\S]*committed)/);
    if (m) last = Number(m[1]);
    buf = buf.slice(-200);
  });
  return { child, committed: () => last, idle: () => idle, ready: once(child.stdout!, 'data') };
}

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 20) {
    if (waited > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('kill -9 mid-stream and restart: every number read exactly once', { timeout: 90_000 }, async () => {
  const t = tempDir();
  const file = join(t.dir, 'app.log');
  writeFileSync(file, '');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const pgliteDir = join(t.dir, 'db');
  const open = (): Promise<Store> => openStore(testDatabaseUrl ? { url: testDatabaseUrl, schema } : { dataDir: pgliteDir });
  let store = await open();
  await migrate(store);
  await store.exec('CREATE TABLE seen_numbers (n integer NOT NULL)');
  await store.close();
  const env = testDatabaseUrl ? { KUZET_CHILD_DATABASE_URL: testDatabaseUrl, KUZET_CHILD_SCHEMA: schema } : { KUZET_CHILD_PGLITE_DIR: pgliteDir };
  const writer = spawn(process.execPath, ['-e', WRITER_JS, file, 'rename'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(writer.stdout!, 'data');
  try {
    for (let round = 0; round < 2; round++) {
      const c = startChild(file, env);
      await c.ready;
      await until(() => c.committed() >= 300, `round ${round} to commit some lines`);
      c.child.kill('SIGKILL');
      await once(c.child, 'exit');
      if (round === 0) renameSync(file, file + '.1'); // rotated while nobody reads; the writer moves to a new file
    }
    let out = '';
    writer.stdout!.on('data', (ch: Buffer) => (out += ch.toString()));
    writer.kill('SIGTERM');
    await once(writer, 'exit');
    const written = Number(out.trim());
    const last = startChild(file, { ...env, KUZET_CHILD_REPORT_IDLE: '1' });
    await last.ready;
    await until(() => last.idle(), 'the last process to read everything', 60_000);
    last.child.kill('SIGTERM');
    await once(last.child, 'exit');
    store = await open();
    const dup = await store.query<{ n: number }>('SELECT n FROM seen_numbers GROUP BY n HAVING count(*) > 1 ORDER BY n LIMIT 10');
    const stats = await store.query<{ c: number; d: number; lo: number; hi: number }>(
      'SELECT count(*)::int AS c, count(DISTINCT n)::int AS d, min(n) AS lo, max(n) AS hi FROM seen_numbers',
    );
    assert.deepEqual(dup.rows, [], 'no number read twice');
    assert.deepEqual(stats.rows[0], { c: written, d: written, lo: 1, hi: written }, `all ${written} numbers read`);
    if (testDatabaseUrl) await store.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await store.close();
  } finally {
    writer.kill('SIGKILL');
    t.cleanup();
  }
});
