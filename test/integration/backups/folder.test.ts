// Backups of a folder (tar), verification, retention, schedules and bad input. Runs on PGlite and
// PostgreSQL stores alike; needs only tar (and mount, for the full-disk case).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { resolveBackupsConfig, type BackupJobConfig } from '../../../src/backups/config.ts';
import { BackupService } from '../../../src/backups/service.ts';
import { PARTIAL_PREFIX } from '../../../src/backups/files.ts';
import { artifactsInState, completeArtifacts } from '../../../src/backups/repo.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, harness as makeHarness, metricValue } from './helpers.ts';

const HOUR = 3_600_000;

let store: Store;
before(async () => {
  store = await freshStore();
});
after(async () => {
  await store.close();
});
const harness = (cfg: Parameters<typeof makeHarness>[0], opts: Parameters<typeof makeHarness>[1] = {}) => makeHarness(cfg, { ...opts, store });

async function seedFolder(root: string, files = 5, bytes = 20_000): Promise<string> {
  const src = join(root, 'src');
  await mkdir(join(src, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++) await writeFile(join(src, i % 2 ? 'sub' : '', `f${i}.bin`), randomBytes(bytes));
  return src;
}

const folderJob = (dir: string, over: Partial<BackupJobConfig> = {}): BackupJobConfig => ({
  name: 'uploads',
  system: 'enbek',
  kind: 'folder',
  dir: join(dir, 'out'),
  folder: { path: join(dir, 'src') },
  verify: { rpo: '26h', max_shrink_percent: 50 },
  retention: { keep_last: 3 },
  ...over,
});

test('folder backup: written, verified, measured; a flipped byte fails verification and a new good backup resolves it', async () => {
  const h = await harness((dir) => ({ jobs: [folderJob(dir)] }));
  try {
    await seedFolder(h.dir);
    const [r] = await h.service.run('backup', 'uploads', { progress: (l) => h.lines.push(l) });
    assert.equal(r!.ok, true, r!.reason);
    assert.deepEqual((r!.detail.verification as { ok: boolean }).ok, true);
    const [a] = await completeArtifacts(h.store, 'uploads');
    assert.match(a!.path, /\/out\/uploads-\d{8}T\d{6}Z-[0-9a-f]{6}\.tar\.gz$/);
    assert.equal(a!.verifyOk, true);
    assert.equal(a!.sha256!.length, 64);
    assert.equal(execFileSync('sha256sum', [a!.path], { encoding: 'utf8' }).split(' ')[0], a!.sha256);
    assert.ok(h.lines.some((l) => l.startsWith('[uploads] wrote ')), h.lines.join('\n'));
    assert.deepEqual((await readdir(join(h.dir, 'out'))).filter((n) => n.startsWith(PARTIAL_PREFIX)), []);
    assert.equal(h.sink.signals.length, 0, 'a success with nothing open emits nothing');

    h.clock.advance(2 * HOUR);
    assert.equal(await metricValue(h.registry, 'kuzet_backup_age_seconds', 'uploads'), 7200);
    assert.equal(await metricValue(h.registry, 'kuzet_backup_verify_success', 'uploads'), 1);

    // Flip one byte in the middle of the archive.
    const buf = await readFile(a!.path);
    buf[buf.length >> 1] = buf[buf.length >> 1]! ^ 0xff;
    await writeFile(a!.path, buf);
    const [v] = await h.service.run('verify', 'uploads');
    assert.equal(v!.ok, false);
    assert.equal(v!.reasonCode, 'checksum_mismatch');
    assert.match(v!.reason!, /^SHA-256 mismatch: recorded [0-9a-f]{64}, file has [0-9a-f]{64}/);
    const fired = h.sink.last('verify')!;
    assert.equal(fired.status, 'firing');
    assert.equal(fired.labels.reason, 'checksum_mismatch');
    assert.equal(fired.labels.runbook, 'backup-failed');
    assert.equal(await metricValue(h.registry, 'kuzet_backup_verify_success', 'uploads'), 0);

    const [again] = await h.service.run('backup', 'uploads');
    assert.equal(again!.ok, true);
    const resolved = h.sink.last('verify')!;
    assert.equal(resolved.status, 'resolved');
    assert.equal(resolved.fingerprint, fired.fingerprint);

    // A restarted kuzet exports the recorded state at once.
    const registry = new Registry();
    const restarted = new BackupService({ store: h.store, clock: h.clock, sink: h.sink, registry, config: resolveBackupsConfig({ jobs: [folderJob(h.dir)] }) });
    await restarted.loadMetrics();
    assert.equal(await metricValue(registry, 'kuzet_backup_verify_success', 'uploads'), 1);
    assert.equal(await metricValue(registry, 'kuzet_backup_age_seconds', 'uploads'), 0);
  } finally {
    await h.close();
  }
});

test('a truncated, a missing and a stale backup each fail verification with their reason', async () => {
  const h = await harness((dir) => ({ jobs: [folderJob(dir)] }));
  try {
    await seedFolder(h.dir);
    await h.service.run('backup', 'uploads');
    const [a] = await completeArtifacts(h.store, 'uploads');
    await truncate(a!.path, a!.sizeBytes! - 100);
    let [v] = await h.service.run('verify', 'uploads');
    assert.equal(v!.reasonCode, 'checksum_mismatch');
    assert.equal(v!.reason, `file is ${a!.sizeBytes! - 100} bytes but ${a!.sizeBytes} were recorded (truncated or replaced)`);

    await rm(a!.path);
    [v] = await h.service.run('verify', 'uploads');
    assert.equal(v!.reasonCode, 'missing');
    assert.equal(v!.reason, `backup file ${a!.path} is missing`);

    await h.service.run('backup', 'uploads');
    h.clock.advance(27 * HOUR);
    [v] = await h.service.run('verify', 'uploads');
    assert.equal(v!.ok, false);
    assert.equal(v!.reasonCode, 'stale');
    assert.equal(v!.reason, 'the newest backup is 27.0 h old, older than the RPO of 26.0 h');
    assert.equal(h.sink.last('verify')!.labels.reason, 'stale');
    assert.equal(h.sink.last('verify')!.status, 'firing');
  } finally {
    await h.close();
  }
});

test('a backup much smaller than the previous one fails verification', async () => {
  const h = await harness((dir) => ({ jobs: [folderJob(dir)] }));
  try {
    const src = await seedFolder(h.dir, 6, 50_000);
    assert.equal((await h.service.run('backup', 'uploads'))[0]!.ok, true);
    for (const n of ['f0.bin', 'f2.bin', 'f4.bin']) await rm(join(src, n));
    await rm(join(src, 'sub'), { recursive: true });
    const [r] = await h.service.run('backup', 'uploads');
    assert.equal(r!.ok, true, 'the backup itself worked');
    const v = r!.detail.verification as { ok: boolean; reasonCode: string; reason: string };
    assert.equal(v.ok, false);
    assert.equal(v.reasonCode, 'shrunk');
    assert.match(v.reason, /^\d+\.\d% smaller than the previous backup \(.+ vs .+\), more than the allowed 50%$/);
  } finally {
    await h.close();
  }
});

test('retention deletes beyond keep_last but keeps the newest verified backup', async () => {
  const h = await harness((dir) => ({ jobs: [folderJob(dir, { retention: { keep_last: 1 } })] }));
  try {
    await seedFolder(h.dir);
    for (let i = 0; i < 2; i++) {
      assert.equal((await h.service.run('backup', 'uploads'))[0]!.ok, true);
      h.clock.advance(HOUR);
    }
    let kept = await completeArtifacts(h.store, 'uploads');
    assert.equal(kept.length, 1);
    assert.equal((await artifactsInState(h.store, 'uploads', 'deleted')).length, 1);
    assert.deepEqual(await readdir(join(h.dir, 'out')), [kept[0]!.path.split('/').at(-1)]);

    // The next backup fails verification (far smaller than before): the last verified one must stay.
    const verified = kept[0]!;
    await rm(join(h.dir, 'src'), { recursive: true });
    await mkdir(join(h.dir, 'src'));
    await writeFile(join(h.dir, 'src', 'tiny'), 'x');
    const [r] = await h.service.run('backup', 'uploads');
    assert.equal((r!.detail.verification as { reasonCode: string }).reasonCode, 'shrunk');
    kept = await completeArtifacts(h.store, 'uploads');
    assert.deepEqual(kept.map((a) => a.id), [r!.artifactId, verified.id], 'keep_last 1, plus the newest verified backup');
  } finally {
    await h.close();
  }
});

test('schedules are rows: a due backup runs when the clock reaches it, a late one is reported missed and run', async () => {
  const h = await harness((dir) => ({ timezone: 'Asia/Almaty', missed_after: '15m', jobs: [folderJob(dir, { schedule: '0 * * * *' })] }));
  try {
    await seedFolder(h.dir);
    await h.service.start();
    await h.service.start(); // idempotent
    const [row] = (await h.store.query<{ due: number }>(`SELECT (extract(epoch from due_at) * 1000)::float8 AS due FROM backup_schedules WHERE job = 'uploads'`)).rows;
    assert.equal(row!.due % HOUR, 0);
    assert.ok(row!.due > h.clock.now() && row!.due <= h.clock.now() + HOUR);

    h.clock.set(row!.due); // the sweeper's timer fires
    await h.service.stop(); // drains the sweep the timer started
    assert.equal((await completeArtifacts(h.store, 'uploads')).length, 1);
    assert.equal(h.sink.signals.length, 0);

    // kuzet was down for three hours: the next sweep finds the row overdue.
    h.clock.advance(3 * HOUR);
    const results = await h.service.sweep();
    assert.equal(results.length, 1);
    assert.equal(results[0]!.ok, true);
    const [missed, resolved] = h.sink.signals;
    assert.equal(missed!.status, 'firing');
    assert.equal(missed!.labels.reason, 'missed');
    assert.match(missed!.summary, /backup missed: the backup due at .+ did not run on time; running it now/);
    assert.equal(resolved!.status, 'resolved');
    assert.equal(resolved!.fingerprint, missed!.fingerprint);
    // The row moved to the next hour after now, not to each missed hour in turn.
    assert.deepEqual(await h.service.sweep(), []);
  } finally {
    await h.close();
  }
});

test('one run per job at a time; stop({ abort: true }) stops the tool and records the run as interrupted, without a signal', async () => {
  // A "tar" that never finishes on its own, first on PATH.
  const h = await harness((dir) => ({ jobs: [folderJob(dir)] }));
  try {
    await seedFolder(h.dir);
    const bin = join(h.dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'tar'), '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const service = new BackupService({ store: h.store, clock: h.clock, sink: h.sink, registry: new Registry(), config: resolveBackupsConfig({ jobs: [folderJob(h.dir)] }), env });
    const first = service.run('backup', 'uploads');
    // Bounded wait until the first run holds the job (its artifact row is being written).
    for (let i = 0; i < 200 && (await artifactsInState(h.store, 'uploads', 'writing')).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    const [second] = await service.run('backup', 'uploads');
    assert.equal(second!.busy, true);
    assert.equal(second!.reason, 'another run of this job is in progress');
    await service.stop({ abort: true });
    const [r] = await first;
    assert.equal(r!.ok, false);
    assert.equal(r!.reasonCode, 'interrupted');
    assert.match(r!.reason!, /^interrupted by shutdown: tar was stopped \(kuzet is shutting down\)/);
    assert.deepEqual(await readdir(join(h.dir, 'out')), [], 'no partial file');
    assert.equal(h.sink.signals.length, 0, 'a shutdown pages nobody');
  } finally {
    await h.close();
  }
});

test('a missing tool fails the run with a precise reason, a signal, and no file left behind', async () => {
  const h = await harness(
    (dir) => ({
      jobs: [folderJob(dir), { name: 'db', kind: 'postgres', dir: join(dir, 'out'), postgres: { host: '127.0.0.1', port: 1, database: 'nothing' } }],
    }),
    { env: { PATH: '/nonexistent-kuzet-bin' } },
  );
  try {
    await seedFolder(h.dir);
    for (const [name, tool] of [['uploads', 'tar'], ['db', 'pg_dump']] as const) {
      const [r] = await h.service.run('backup', name);
      assert.equal(r!.ok, false);
      assert.equal(r!.reasonCode, 'tool_missing');
      assert.match(r!.reason!, new RegExp(`^${tool} not found on PATH`));
      const s = h.sink.signals.find((x) => x.labels.job === name)!;
      assert.equal(s.labels.reason, 'tool_missing');
      assert.equal((await artifactsInState(h.store, name, 'failed')).length, 1);
    }
    assert.deepEqual(await readdir(join(h.dir, 'out')), []);
    assert.deepEqual(await completeArtifacts(h.store, 'uploads'), []);
  } finally {
    await h.close();
  }
});

test('a full disk during a backup fails it with the reason and leaves no partial file (tmpfs of 256 KiB)', async (t) => {
  const h = await harness((dir) => ({ jobs: [folderJob(dir, { folder: { path: join(dir, 'src'), compress: false } })] }));
  const mnt = join(h.dir, 'out');
  await mkdir(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
  } catch {
    await h.close();
    t.skip('mounting a tmpfs is not permitted here (needs root / CAP_SYS_ADMIN)');
    return;
  }
  try {
    await seedFolder(h.dir, 4, 200_000);
    const [r] = await h.service.run('backup', 'uploads');
    assert.equal(r!.ok, false);
    assert.equal(r!.reasonCode, 'disk_full', r!.reason);
    assert.match(r!.reason!, /^tar exited with code 2: .*\(the file system of .*\/out is full: \d+(\.\d)? [KMG]?i?B free\)$/);
    assert.deepEqual(await readdir(mnt), [], 'the partial file is removed');
    assert.equal((await artifactsInState(h.store, 'uploads', 'failed')).length, 1);
    assert.equal(h.sink.last('backup')!.labels.reason, 'disk_full');
  } finally {
    execFileSync('umount', [mnt]);
    await h.close();
  }
});

test("an external tool's backups: the newest file is recorded once, a stale heartbeat fails", async () => {
  const h = await harness((dir) => ({
    jobs: [
      {
        name: 'vendor',
        kind: 'external',
        external: { dir: join(dir, 'ext'), pattern: 'vendor-*.tar', format: 'tar', heartbeat_file: join(dir, 'ext', '.alive'), heartbeat_max_age: '1h' },
      },
    ],
  }));
  try {
    const ext = join(h.dir, 'ext');
    await mkdir(ext);
    let [r] = await h.service.run('backup', 'vendor');
    assert.equal(r!.reasonCode, 'heartbeat_stale');
    assert.match(r!.reason!, /heartbeat file .*\.alive of the backup tool is missing/);
    await writeFile(join(ext, '.alive'), '');
    [r] = await h.service.run('backup', 'vendor');
    assert.equal(r!.reasonCode, 'missing');
    assert.equal(r!.reason, `no file matching "vendor-*.tar" in ${ext}`);

    await seedFolder(h.dir, 2, 1000);
    execFileSync('tar', ['-cf', join(ext, 'vendor-1.tar'), '-C', join(h.dir, 'src'), '.']);
    await writeFile(join(ext, 'other.tar'), 'not ours');
    [r] = await h.service.run('backup', 'vendor');
    assert.equal(r!.ok, true, r!.reason);
    assert.equal((r!.detail.verification as { ok: boolean }).ok, true);
    [r] = await h.service.run('backup', 'vendor');
    assert.equal(r!.detail.unchanged, true);
    assert.equal((await completeArtifacts(h.store, 'vendor')).length, 1);

    h.clock.advance(2 * HOUR);
    [r] = await h.service.run('backup', 'vendor');
    assert.equal(r!.reasonCode, 'heartbeat_stale');
    assert.match(r!.reason!, /heartbeat .* is 1\d\d min old \(limit 60 min\)/);
  } finally {
    await h.close();
  }
});
