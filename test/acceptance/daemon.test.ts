import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readPostmasterPid } from '../../src/store/embedded.ts';
import { freePort, run, start, waitFor } from '../support/process.ts';

const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// The real process, started the way the README says: `npm start` on the embedded store.

describe('the daemon as a real process', () => {
  // npm start builds dist/ when src/ changed; build it here so the start is timed without it.
  before(async () => assert.equal((await run('node', ['scripts/build.js', '--if-stale'])).code, 0));
  it('npm start answers /healthz, keeps what it accepted across a SIGTERM and a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kuzet-accept-'));
    chmodSync(dataDir, 0o755); // as root, the embedded server runs as postgres and must reach its folder
    const emptyDir = mkdtempSync(join(tmpdir(), 'kuzet-accept-probes-'));
    const port = await freePort();
    // No probes: the shipped ones watch the real portals, and tests reach nothing but loopback.
    const env = { KUZET_PROBES_DIR: emptyDir, KUZET_PORT: String(port), KUZET_DATA_DIR: dataDir, KUZET_ADMIN_TOKEN: 'kzt_acceptance_admin_token_32_chars_long', DATABASE_URL: '' };
    const base = `http://127.0.0.1:${port}`;
    try {
      const first = start('npm', ['start', '--silent'], env);
      after(() => first.signal('SIGKILL'));
      let alive = true;
      void first.exited.then(() => (alive = false));
      await waitFor(`${base}/healthz`, 120, 250, () => alive).catch((e: Error) => assert.fail(`${e.message}\n${first.output()}`));
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      const opened = await fetch(`${base}/api/v1/incidents`, {
        method: 'POST',
        headers: { authorization: 'Bearer kzt_acceptance_admin_token_32_chars_long', 'content-type': 'application/json' },
        body: JSON.stringify({ system: 'enbek', title: 'Acceptance: the home page is blank' }),
      });
      assert.equal(opened.status, 201);
      const id = ((await opened.json()) as { id: number }).id;
      // The embedded PostgreSQL server: a child of the daemon, on its unix socket in the data folder.
      const postmaster = readPostmasterPid(join(dataDir, 'cluster'))!;
      assert.ok(postmaster && running(postmaster.pid), 'the embedded server runs');
      assert.equal(postmaster.socketDir, join(dataDir, 'cluster'));
      // SIGTERM to the daemon itself (its pid is in the store's lock file); npm then exits with its status.
      process.kill(Number(readFileSync(join(dataDir, 'kuzet.pid'), 'utf8')), 'SIGTERM');
      assert.equal(await first.exited, 0, `graceful stop exits 0\n${first.output()}`);
      assert.ok(!existsSync(join(dataDir, 'kuzet.pid')), 'the lock is released');
      assert.match(first.output(), /"message":"kuzet stopped"/);
      // ... and the server was shut down cleanly before kuzet exited: no process, no postmaster.pid, a shutdown checkpoint.
      assert.ok(!running(postmaster.pid), 'the embedded server stopped with kuzet');
      assert.ok(!existsSync(join(dataDir, 'cluster', 'postmaster.pid')), 'a clean shutdown removes postmaster.pid');
      assert.match(first.output(), /"message":"database system is shut down"/);
      assert.ok(first.output().indexOf('database system is shut down') < first.output().indexOf('"message":"kuzet stopped"'));

      const second = start('npm', ['start', '--silent'], env);
      after(() => second.signal('SIGKILL'));
      alive = true;
      void second.exited.then(() => (alive = false));
      await waitFor(`${base}/healthz`, 120, 250, () => alive);
      const got = await fetch(`${base}/api/v1/incidents/${id}`, { headers: { authorization: 'Bearer kzt_acceptance_admin_token_32_chars_long' } });
      assert.equal(got.status, 200);
      assert.equal(((await got.json()) as { title: string }).title, 'Acceptance: the home page is blank');
      process.kill(Number(readFileSync(join(dataDir, 'kuzet.pid'), 'utf8')), 'SIGTERM');
      assert.equal(await second.exited, 0, second.output());
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  it('an invalid config stops `run` and `check-config` with exit 1 and file:line:col, and nothing listens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kuzet-badcfg-'));
    const port = await freePort();
    try {
      writeFileSync(join(dir, 'kuzet.yaml'), `server:\n  port: ${port}\nprobes_dir: .\nincidents:\n  reopen_window: fast\n`);
      const check = await run('node', ['bin/kuzet.js', 'check-config', '--config', join(dir, 'kuzet.yaml')]);
      assert.equal(check.code, 1);
      assert.match(check.out, /kuzet\.yaml:5:18: incidents\.reopen_window: expected a duration like "30s", got "fast"/);
      const daemon = await run('node', ['bin/kuzet.js', 'run', '--config', join(dir, 'kuzet.yaml')]);
      assert.equal(daemon.code, 1);
      assert.match(daemon.out, /not started: 1 problem\(s\) in the configuration/);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) }));
      const shipped = await run('node', ['bin/kuzet.js', 'check-config']);
      assert.equal(shipped.code, 0, shipped.out);
      assert.match(shipped.out, /configuration OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the CLI explains itself and refuses bad arguments with exit 2', async () => {
    const help = await run('node', ['bin/kuzet.js', '--help']);
    assert.equal(help.code, 0);
    for (const cmd of ['run', 'check-config', 'migrate', 'incidents', 'token']) assert.match(help.out, new RegExp(`\\n  ${cmd}\\b`));
    const bad = await run('node', ['bin/kuzet.js', 'incidents', 'show', 'abc']);
    assert.equal(bad.code, 2);
    assert.match(bad.out, /expected a positive whole number/);
    const role = await run('node', ['bin/kuzet.js', 'token', 'create', '--role', 'god']);
    assert.equal(role.code, 2);
    assert.match(role.out, /--role: expected one of viewer, reporter, soc, oncall, admin, got "god"/);
  });
});
