// Backups of a real PostgreSQL database: pg_dump, verification, restore drills into a scratch
// database, and what goes wrong. Needs KUZET_TEST_DATABASE_URL (a server kuzet may create databases on).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BackupJobConfig } from '../../../src/backups/config.ts';
import { SCRATCH_COMMENT } from '../../../src/backups/drill.ts';
import { sha256File } from '../../../src/backups/files.ts';
import { artifactsInState, completeArtifacts, listRuns } from '../../../src/backups/repo.ts';
import { admin, createSourceDb, type Harness, dbExists, dropDb, harness, metricValue, needsServer, serverConn, testDatabaseUrl, uniqueDbName } from './helpers.ts';

const HOUR = 3_600_000;

describe('PostgreSQL backups, verification and drills', { skip: needsServer }, () => {
  const source = uniqueDbName('kz_bk_src');
  const scratch = uniqueDbName('kz_bk_scratch');

  before(async () => {
    await createSourceDb(source, 500);
  });
  after(async () => {
    await dropDb(source);
    await dropDb(scratch);
  });

  const job = (dir: string, over: Partial<BackupJobConfig> = {}): BackupJobConfig => ({
    name: 'enbek-db',
    system: 'enbek',
    kind: 'postgres',
    dir: join(dir, 'out'),
    postgres: { ...serverConn(), database: source },
    verify: { rpo: '26h' },
    drill: {
      scratch_database: scratch,
      validations: [
        { name: 'users-count', kind: 'row_count', table: 'users', tolerance_percent: 1 },
        { name: 'users-checksum', kind: 'checksum', query: `SELECT md5(string_agg(id || ':' || email, ',' ORDER BY id)) FROM users` },
        { name: 'applications-fresh', kind: 'freshness', table: 'public.applications', column: 'updated_at', max_lag: '1d' },
      ],
    },
    ...over,
  });

  test('backup, verify and drill are all green; the drill is measured and its scratch database dropped', async () => {
    const h = await harness((dir) => ({ jobs: [job(dir)] }));
    try {
      const [b] = await h.service.run('backup', 'enbek-db', { progress: (l) => h.lines.push(l) });
      assert.equal(b!.ok, true, b!.reason);
      assert.equal((b!.detail.verification as { ok: boolean }).ok, true);
      const [a] = await completeArtifacts(h.store, 'enbek-db');
      assert.match(a!.path, /\.dump$/);
      assert.equal(await sha256File(a!.path), a!.sha256);
      assert.equal((await readFile(a!.path)).subarray(0, 5).toString(), 'PGDMP', 'custom format');

      const [v] = await h.service.run('verify', 'enbek-db', { progress: (l) => h.lines.push(l) });
      assert.equal(v!.ok, true, v!.reason);
      const checks = (v!.detail.checks as { check: string; ok: boolean }[]).map((c) => `${c.check}:${c.ok}`);
      assert.deepEqual(checks, ['fresh:true', 'size:true', 'exists:true', 'sha256:true', 'readable:true']);

      const [d] = await h.service.run('drill', 'enbek-db', { progress: (l) => h.lines.push(l) });
      assert.equal(d!.ok, true, d!.reason);
      const vals = d!.detail.validations as { name: string; ok: boolean; detail: string }[];
      assert.deepEqual(vals.map((x) => [x.name, x.ok]), [['users-count', true], ['users-checksum', true], ['applications-fresh', true]]);
      assert.equal(vals[0]!.detail, '500 rows restored, 500 in the source');
      assert.equal(await dbExists(scratch), false, 'the scratch database is dropped');
      assert.ok(h.lines.some((l) => /\[enbek-db\] restored in \d+\.\d s/.test(l)), h.lines.join('\n'));

      assert.equal(await metricValue(h.registry, 'kuzet_restore_drill_success', 'enbek-db'), 1);
      const secs = (await metricValue(h.registry, 'kuzet_restore_drill_duration_seconds', 'enbek-db'))!;
      assert.ok(secs > 0 && secs === d!.detail.restoreSeconds);
      assert.equal(await metricValue(h.registry, 'kuzet_backup_age_seconds', 'enbek-db'), 0);
      assert.equal(h.sink.signals.length, 0);
      const runs = await listRuns(h.store, { job: 'enbek-db', limit: 10 });
      assert.deepEqual(runs.map((r) => `${r.task}/${r.trigger}/${r.status}`), ['drill/manual/ok', 'verify/manual/ok', 'verify/after_backup/ok', 'backup/manual/ok']);

      // An old backup: past the RPO the verification fails on freshness and fires.
      h.clock.advance(27 * HOUR);
      const [old] = await h.service.run('verify', 'enbek-db');
      assert.equal(old!.reasonCode, 'stale');
      assert.equal(h.sink.last('verify')!.status, 'firing');
      assert.equal(h.sink.last('verify')!.labels.reason, 'stale');
      assert.equal(await metricValue(h.registry, 'kuzet_backup_age_seconds', 'enbek-db'), 27 * 3600);
    } finally {
      await h.close();
    }
  });

  test('one corrupted byte: verification and drill fail with the reason, and no scratch database is left', async () => {
    const h = await harness((dir) => ({ jobs: [job(dir)] }));
    try {
      assert.equal((await h.service.run('backup', 'enbek-db'))[0]!.ok, true);
      const [a] = await completeArtifacts(h.store, 'enbek-db');
      const buf = await readFile(a!.path);
      buf[buf.length - 200] = buf[buf.length - 200]! ^ 0x01;
      await writeFile(a!.path, buf);

      const [v] = await h.service.run('verify', 'enbek-db');
      assert.equal(v!.ok, false);
      assert.equal(v!.reasonCode, 'checksum_mismatch');
      assert.match(v!.reason!, /^SHA-256 mismatch: recorded [0-9a-f]{64}, file has [0-9a-f]{64}/);
      const [d] = await h.service.run('drill', 'enbek-db');
      assert.equal(d!.ok, false);
      assert.equal(d!.reasonCode, 'checksum_mismatch');
      assert.match(d!.reason!, /^refusing to restore: SHA-256 mismatch/);
      assert.equal(await dbExists(scratch), false);
      assert.equal(h.sink.last('verify')!.labels.reason, 'checksum_mismatch');
      assert.equal(h.sink.last('drill')!.labels.reason, 'checksum_mismatch');
      assert.equal(h.sink.last('drill')!.status, 'firing');
      assert.equal(await metricValue(h.registry, 'kuzet_restore_drill_success', 'enbek-db'), 0);

      // A dump that was bad when it was written (truncated, with a matching record): the restore itself
      // fails, the reason is pg_restore's, and the scratch database is dropped after the failure.
      await truncate(a!.path, Math.floor(buf.length * 0.6));
      const st = await stat(a!.path);
      await h.store.query('UPDATE backup_artifacts SET sha256 = $2, size_bytes = $3 WHERE id = $1', [a!.id, await sha256File(a!.path), st.size]);
      const [d2] = await h.service.run('drill', 'enbek-db');
      assert.equal(d2!.reasonCode, 'restore_failed');
      assert.match(d2!.reason!, /^restore failed: pg_restore exited with code 1: .*pg_restore: error: /);
      assert.equal(await dbExists(scratch), false, 'dropped after the failed restore too');

      // A good backup and drill resolve both.
      assert.equal((await h.service.run('backup', 'enbek-db'))[0]!.ok, true);
      assert.equal((await h.service.run('drill', 'enbek-db'))[0]!.ok, true);
      assert.equal(h.sink.last('verify')!.status, 'resolved');
      assert.equal(h.sink.last('drill')!.status, 'resolved');
    } finally {
      await h.close();
    }
  });

  test('a failing validation query and a row count out of tolerance fail the drill with a signal', async () => {
    const h = await harness((dir) => ({
      jobs: [
        job(dir, {
          drill: {
            scratch_database: scratch,
            validations: [
              { name: 'users-count', kind: 'row_count', table: 'users', tolerance_percent: 1 },
              { name: 'ledger-sum', kind: 'checksum', query: 'SELECT sum(amount) FROM ledger' },
              { name: 'sneaky', kind: 'checksum', query: 'WITH gone AS (DELETE FROM users RETURNING 1) SELECT count(*) FROM gone' },
            ],
          },
        }),
      ],
    }));
    try {
      assert.equal((await h.service.run('backup', 'enbek-db'))[0]!.ok, true);
      await admin((c) => c.query(`INSERT INTO users SELECT g, 'late' || g FROM generate_series(10001, 10010) g`), source);
      try {
        const [d] = await h.service.run('drill', 'enbek-db');
        assert.equal(d!.ok, false);
        assert.equal(d!.reasonCode, 'validation_failed');
        const reasons = d!.reason!.split('; ');
        assert.deepEqual(reasons.slice(0, 2), [
          'validation "users-count" failed: 500 rows restored but 510 in the source (2.0% apart, tolerance 1%)',
          'validation "ledger-sum" failed: query failed: relation "ledger" does not exist',
        ]);
        // A query that would write is refused: validations run read-only (PostgreSQL names the CTE's SELECT here).
        assert.match(reasons[2]!, /^validation "sneaky" failed: query failed: cannot execute \w+ in a read-only transaction$/);
        assert.equal(await admin(async (c) => Number((await c.query('SELECT count(*) AS n FROM users')).rows[0].n), source), 510, 'the source is untouched');
        const s = h.sink.last('drill')!;
        assert.equal(s.status, 'firing');
        assert.equal(s.labels.reason, 'validation_failed');
        assert.equal(s.labels.runbook, 'backup-failed');
        assert.equal(await dbExists(scratch), false);
      } finally {
        await admin((c) => c.query('DELETE FROM users WHERE id > 10000'), source);
      }
    } finally {
      await h.close();
    }
  });

  test("a scratch database kuzet did not create is neither used nor dropped; one it left behind is cleaned up", async () => {
    const h = await harness((dir) => ({ jobs: [job(dir)] }));
    try {
      assert.equal((await h.service.run('backup', 'enbek-db'))[0]!.ok, true);
      await admin((c) => c.query(`CREATE DATABASE "${scratch}"`));
      let [d] = await h.service.run('drill', 'enbek-db');
      assert.equal(d!.reasonCode, 'scratch_exists');
      assert.equal(d!.reason, `scratch database "${scratch}" already exists and was not created by kuzet; refusing to use or drop it`);
      assert.equal(await dbExists(scratch), true, 'not ours: left alone');
      assert.equal(h.sink.last('drill')!.labels.reason, 'scratch_exists');

      // A leftover of a killed drill carries kuzet's comment: the next drill drops it and goes on.
      await admin((c) => c.query(`COMMENT ON DATABASE "${scratch}" IS '${SCRATCH_COMMENT}'`));
      [d] = await h.service.run('drill', 'enbek-db');
      assert.equal(d!.ok, true, d!.reason);
      assert.equal(d!.detail.droppedLeftover, true);
      assert.equal(await dbExists(scratch), false);
    } finally {
      await dropDb(scratch);
      await h.close();
    }
  });

  test('a source database that is down fails the backup with the reason and leaves no file', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const h = await harness((dir) => ({ jobs: [job(dir, { postgres: { ...serverConn(), port, database: source } })] }));
    try {
      const [r] = await h.service.run('backup', 'enbek-db');
      assert.equal(r!.ok, false);
      assert.equal(r!.reasonCode, 'source_unreachable');
      assert.match(r!.reason!, /^pg_dump exited with code 1: .*connection to server at "127\.0\.0\.1", port \d+ failed: Connection refused/);
      assert.deepEqual(await readdir(join(h.dir, 'out')), []);
      assert.equal(h.sink.last('backup')!.labels.reason, 'source_unreachable');
      assert.deepEqual(await completeArtifacts(h.store, 'enbek-db'), []);
    } finally {
      await h.close();
    }
  });

  test('a full disk during pg_dump fails the backup with the reason and leaves no partial file (tmpfs of 64 KiB)', async (t) => {
    const big = uniqueDbName('kz_bk_big');
    await createSourceDb(big, 300, 1024);
    const h = await harness((dir) => ({ jobs: [job(dir, { postgres: { ...serverConn(), database: big } })] }));
    const mnt = join(h.dir, 'out');
    try {
      await mkdir(mnt);
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
      } catch {
        t.skip('mounting a tmpfs is not permitted here (needs root / CAP_SYS_ADMIN)');
        return;
      }
      try {
        const [r] = await h.service.run('backup', 'enbek-db');
        assert.equal(r!.ok, false);
        assert.equal(r!.reasonCode, 'disk_full', r!.reason);
        assert.match(r!.reason!, /^cannot write .*\.dump: ENOSPC: no space left on device/);
        assert.deepEqual(await readdir(mnt), []);
        assert.equal(h.sink.last('backup')!.labels.reason, 'disk_full');
        assert.deepEqual(await completeArtifacts(h.store, 'enbek-db'), []);
      } finally {
        execFileSync('umount', [mnt]);
      }
    } finally {
      await h.close();
      await dropDb(big);
    }
  });

  test('kill -9 during a backup: the next run recovers and the partial file is not counted', async () => {
    const h = await harness((dir) => ({ jobs: [job(dir)] }));
    try {
      await killedMidway(h);
      await recovers(h);
    } finally {
      await h.close();
    }
  });

  async function killedMidway(h: Harness): Promise<void> {
    const cfg = { jobs: [job(h.dir)] };
    const schema = (await h.store.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    // Hold a lock pg_dump must wait for, so the kill lands while the dump is open, whatever the machine's speed.
    const { default: pg } = await import('pg');
    const locker = new pg.Client({ ...serverConn(), database: source });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
    const watcher = new pg.Client({ ...serverConn(), database: 'postgres' });
    await watcher.connect();
    const script = fileURLToPath(new URL('./child-backup.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify({ url: testDatabaseUrl, schema, config: cfg, job: 'enbek-db' })], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      // Wait (bounded) until pg_dump is blocked on the lock with its partial file open.
      let blocked = false;
      for (let i = 0; i < 300 && !blocked; i++) {
        await new Promise((r) => setTimeout(r, 100));
        // Not on `locker`: inside its transaction pg_stat_activity is a snapshot that never changes.
        const waiting = await watcher.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump' AND wait_event_type = 'Lock'`, [source]);
        const partials = (await readdir(join(h.dir, 'out')).catch(() => [] as string[])).filter((n) => n.startsWith('.partial-'));
        blocked = waiting.rows.length > 0 && partials.length === 1;
      }
      assert.ok(blocked, 'pg_dump started and waits on the lock');
    } finally {
      process.kill(-child.pid!, 'SIGKILL'); // the node process and its pg_dump, as a machine dying would
      await exited;
      await locker.query('ROLLBACK').catch(() => {});
      await locker.end();
      await watcher.end();
    }
  }

  async function recovers(h: Harness): Promise<void> {
    assert.equal((await artifactsInState(h.store, 'enbek-db', 'writing')).length, 1, 'the dead run left its artifact in writing');
    // The dead session's advisory lock goes with its connection; allow the server a moment to notice.
    let r = (await h.service.run('backup', 'enbek-db'))[0]!;
    for (let i = 0; i < 50 && r.busy; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = (await h.service.run('backup', 'enbek-db'))[0]!;
    }
    assert.equal(r.ok, true, r.reason);
    const complete = await completeArtifacts(h.store, 'enbek-db');
    assert.equal(complete.length, 1, 'only the new backup counts');
    const failed = await artifactsInState(h.store, 'enbek-db', 'failed');
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.error!, /^interrupted/);
    assert.deepEqual(await readdir(join(h.dir, 'out')), [complete[0]!.path.split('/').at(-1)], 'no partial file is left');
    const runs = await listRuns(h.store, { job: 'enbek-db', task: 'backup', limit: 5 });
    assert.deepEqual(runs.map((x) => `${x.status}/${x.reasonCode}`), ['ok/null', 'failed/interrupted']);
  }
});
