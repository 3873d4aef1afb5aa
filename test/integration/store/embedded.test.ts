// The embedded PostgreSQL server kuzet starts, supervises and stops itself: data survives a restart, a server killed
// with -9 is restarted by its supervisor, a stale postmaster.pid or a server left running by a killed kuzet does not
// stop the next start, the password file is private, and the server listens on its unix socket only.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { EmbeddedServer, readPostmasterPid } from '../../../src/store/embedded.ts';
import { openStore, type Store } from '../../../src/store/store.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A data folder in the OS temp folder that the server's user (postgres, when the tests run as root) can reach. */
function dataFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kuzet-emb-'));
  chmodSync(dir, 0o755);
  after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'pg');
}

let template: Promise<string> | undefined;
const templateRoot = mkdtempSync(join(tmpdir(), 'kuzet-emb-template-'));
chmodSync(templateRoot, 0o755);
after(() => rmSync(templateRoot, { recursive: true, force: true }));
/**
 * A data folder holding a cluster already made: initdb runs once per file, each test starts from a copy (cp -a
 * keeps the owner, which is the server's user).
 */
async function initialisedFolder(): Promise<string> {
  template ??= (async () => {
    const t = join(templateRoot, 'pg');
    const s = new EmbeddedServer(t, { log: quiet });
    await s.start();
    await s.stop();
    return t;
  })();
  const dir = dataFolder();
  const r = spawnSync('cp', ['-a', await template, dir]);
  assert.equal(r.status, 0, String(r.stderr));
  return dir;
}

const quiet = { info() {}, warn() {}, error() {} };
function recorder() {
  const lines: string[] = [];
  const rec = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, log: { info: rec('info'), warn: rec('warn'), error: rec('error') } };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  for (let t = 0; t < ms; t += 50) {
    if (await cond()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('the embedded PostgreSQL store', () => {
  it('keeps its data across a stop and a start, with a private password and no TCP listener', async () => {
    const dir = dataFolder();
    let store: Store = await openStore({ dataDir: dir, log: quiet });
    await store.exec('CREATE TABLE kept (v text)');
    await store.query('INSERT INTO kept VALUES ($1)', ['before the restart']);
    const settings = await store.query<{ listen: string; ver: string }>("SELECT current_setting('listen_addresses') AS listen, current_setting('server_version_num') AS ver");
    assert.equal(settings.rows[0]!.listen, '', 'no TCP listener: the unix socket only');
    assert.match(settings.rows[0]!.ver, /^15\d{4}$/);
    const pm = readPostmasterPid(join(dir, 'cluster'))!;
    assert.equal(pm.socketDir, join(dir, 'cluster'));
    const pw = statSync(join(dir, 'password'));
    assert.equal(pw.mode & 0o777, 0o600, 'the password file is readable by its owner only');
    const password = readFileSync(join(dir, 'password'), 'utf8');
    await store.close();
    assert.ok(!alive(pm.pid), 'close stops the server');
    assert.ok(!existsSync(join(dir, 'cluster', 'postmaster.pid')), 'a clean stop leaves no postmaster.pid');
    assert.ok(!existsSync(join(dir, 'kuzet.pid')), 'and releases the folder');

    store = await openStore({ dataDir: dir, log: quiet });
    try {
      const r = await store.query<{ v: string }>('SELECT v FROM kept');
      assert.deepEqual(r.rows, [{ v: 'before the restart' }]);
      assert.equal(readFileSync(join(dir, 'password'), 'utf8'), password, 'the password is generated once');
    } finally {
      await store.close();
    }
  });

  it('runs the server as a non-root user (postgres when kuzet is root)', async () => {
    const dir = await initialisedFolder();
    const server = new EmbeddedServer(dir, { log: quiet });
    await server.start();
    try {
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]);
      assert.notEqual(uid, 0, 'PostgreSQL never runs as root');
      if (userInfo().uid !== 0) assert.equal(uid, userInfo().uid, 'as a non-root user, the server runs as that user');
    } finally {
      await server.stop();
    }
  });

  it('runs as a non-root user too: the server runs as that user', { skip: userInfo().uid !== 0 && 'the suite runs as a non-root user already' }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'kuzet-emb-nobody-'));
    after(() => rmSync(root, { recursive: true, force: true }));
    chmodSync(root, 0o755);
    const nobody = 65534;
    chownSync(root, nobody, nobody);
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./embedded-child.ts', import.meta.url)), join(root, 'pg')], {
      uid: nobody,
      gid: nobody,
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      encoding: 'utf8',
      env: { ...process.env, HOME: root },
      timeout: 120_000,
    });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { uid: nobody, serverUid: nobody, n: 42 });
  });

  it('restarts a server killed with -9, and the committed data is there', async () => {
    const dir = await initialisedFolder();
    const rec = recorder();
    const store = await openStore({ dataDir: dir, log: rec.log });
    try {
      await store.exec('CREATE TABLE kept (v int)');
      await store.query('INSERT INTO kept SELECT generate_series(1, 1000)');
      const first = readPostmasterPid(join(dir, 'cluster'))!.pid;
      process.kill(first, 'SIGKILL');
      await until(() => rec.lines.some((l) => l.includes('the embedded PostgreSQL server is back')), 'the supervisor to restart the server');
      const second = readPostmasterPid(join(dir, 'cluster'))!.pid;
      assert.notEqual(second, first);
      assert.ok(rec.lines.some((l) => /^error the embedded PostgreSQL server died; restarting it/.test(l)), rec.lines.join('\n'));
      // The pool's connections died with the old server; new ones reach the new one.
      await until(async () => (await store.query('SELECT 1').then(() => true, () => false)), 'the store to answer again');
      const r = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM kept');
      assert.equal(r.rows[0]!.n, 1000);
    } finally {
      await store.close();
    }
  });

  it('starts over a stale postmaster.pid naming a process that is not its server', async () => {
    const dir = await initialisedFolder();
    let store = await openStore({ dataDir: dir, log: quiet });
    await store.exec('CREATE TABLE kept (v text)');
    await store.query("INSERT INTO kept VALUES ('x')");
    await store.close();
    // kill -9 leaves postmaster.pid behind; by the next start its pid may belong to some other live process.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    after(() => other.kill('SIGKILL'));
    writeFileSync(join(dir, 'cluster', 'postmaster.pid'), `${other.pid}\n${join(dir, 'cluster')}\n1700000000\n5432\n${join(dir, 'cluster')}\n\n  5432001         0\nready   \n`);
    const rec = recorder();
    store = await openStore({ dataDir: dir, log: rec.log });
    try {
      assert.deepEqual((await store.query('SELECT v FROM kept')).rows, [{ v: 'x' }]);
      assert.ok(rec.lines.some((l) => l.includes('removing a stale postmaster.pid')), rec.lines.join('\n'));
      assert.ok(alive(other.pid!), 'the unrelated process is left alone');
    } finally {
      await store.close();
    }
  });

  it('takes over from a server left running by a kuzet that was killed with -9', async () => {
    const dir = await initialisedFolder();
    // A kuzet that dies with -9 leaves its server running with no supervisor; here: a server nobody stops.
    const orphan = new EmbeddedServer(dir, { log: quiet, outlive: true });
    await orphan.start();
    const orphanPid = orphan.pid!;
    after(() => {
      if (alive(orphanPid)) process.kill(orphanPid, 'SIGKILL');
    });
    const rec = recorder();
    const store = await openStore({ dataDir: dir, log: rec.log });
    try {
      assert.ok(!alive(orphanPid), 'the orphaned server was shut down');
      const now = readPostmasterPid(join(dir, 'cluster'))!.pid;
      assert.notEqual(now, orphanPid);
      assert.ok(rec.lines.some((l) => l.includes('still running without kuzet')), rec.lines.join('\n'));
      assert.equal((await store.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
    } finally {
      await store.close();
    }
  });

  it('a second process opening the folder is refused, or attaches to the running server when it asks to', async () => {
    const dir = await initialisedFolder();
    const owner = await openStore({ dataDir: dir, log: quiet });
    try {
      await owner.exec('CREATE TABLE kept (v text)');
      // The owner's pid is in kuzet.pid; pose as another process holding it.
      writeFileSync(join(dir, 'kuzet.pid'), `${process.ppid}\n`);
      await assert.rejects(openStore({ dataDir: dir }), /in use by process \d+/);
      const guest = await openStore({ dataDir: dir, attach: true });
      await guest.query("INSERT INTO kept VALUES ('from a one-off command')");
      await guest.close();
      assert.deepEqual((await owner.query('SELECT v FROM kept')).rows, [{ v: 'from a one-off command' }]);
      writeFileSync(join(dir, 'kuzet.pid'), `${process.pid}\n`);
    } finally {
      await owner.close();
    }
  });
});
