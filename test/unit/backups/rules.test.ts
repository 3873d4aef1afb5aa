import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveBackupsConfig } from '../../../src/backups/config.ts';
import { runTool } from '../../../src/backups/exec.ts';
import { globToRegExp, PARTIAL_PREFIX, partialPathFor } from '../../../src/backups/files.ts';
import { classifyToolFailure } from '../../../src/backups/produce.ts';
import type { Artifact } from '../../../src/backups/repo.ts';
import { selectForDeletion } from '../../../src/backups/retention.ts';
import { backupFingerprint, backupSignal } from '../../../src/backups/signals.ts';
import { shrinkProblem } from '../../../src/backups/verify.ts';
import { signalProblems } from '../../../src/signals/signal.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-01-20T00:00:00Z');

function art(id: number, daysAgo: number, verifyOk: boolean | null): Artifact {
  const t = NOW - daysAgo * DAY;
  return {
    id, job: 'j', kind: 'postgres', format: 'pg_custom', path: `/b/${id}`, status: 'complete', sizeBytes: 100, sha256: 'x',
    startedAt: t, completedAt: t, sourceMtime: null, verifiedAt: t, verifyOk, verifyReason: null, error: null,
  };
}

test('retention keeps the newest N and drops the old, but never the newest verified backup', () => {
  const list = [art(6, 0, false), art(5, 1, false), art(4, 2, true), art(3, 3, true), art(2, 40, true), art(1, 50, null)];
  // keep 2 by count: 4 would go, but it is the newest verified one
  assert.deepEqual(selectForDeletion(list, NOW, 2, undefined).map((a) => a.id), [3, 2, 1]);
  // by age only (30 days)
  assert.deepEqual(selectForDeletion(list, NOW, 100, 30 * DAY).map((a) => a.id), [2, 1]);
  // every backup old and none kept by count: the newest verified one survives all the same
  const old = [art(3, 90, false), art(2, 91, true), art(1, 92, true)];
  assert.deepEqual(selectForDeletion(old, NOW, 1, 30 * DAY).map((a) => a.id), [3, 1]);
  // nothing verified yet: count and age apply to all
  assert.deepEqual(selectForDeletion([art(2, 0, null), art(1, 1, null)], NOW, 1, undefined).map((a) => a.id), [1]);
});

test('the size rule flags a backup more than the allowed percentage smaller than the previous one', () => {
  assert.equal(shrinkProblem(80, 100, 20), undefined);
  assert.match(shrinkProblem(79, 100, 20)!, /^21\.0% smaller than the previous backup \(79 B vs 100 B\), more than the allowed 20%$/);
  assert.equal(shrinkProblem(10, undefined, 20), undefined, 'the first backup has nothing to compare with');
  assert.equal(shrinkProblem(1000, 100, 0), undefined, 'growth is fine');
});

test('backup signals are valid, carry the runbook label, and keep one fingerprint per job and stage', () => {
  const [job] = resolveBackupsConfig({ jobs: [{ name: 'enbek-db', system: 'enbek', kind: 'postgres', dir: '/b', postgres: { database: 'x' } }] }).jobs;
  const firing = backupSignal(job!, 'verify', { status: 'firing', reasonCode: 'checksum_mismatch', reason: 'SHA-256 mismatch' }, NOW);
  assert.deepEqual(signalProblems(firing), []);
  assert.equal(firing.source, 'backup');
  assert.equal(firing.system, 'enbek');
  assert.equal(firing.severity, 'major');
  assert.deepEqual(firing.labels, { job: 'enbek-db', kind: 'postgres', stage: 'verify', runbook: 'backup-failed', reason: 'checksum_mismatch' });
  assert.equal(firing.summary, 'Backup job "enbek-db": verification failed: SHA-256 mismatch');
  const resolved = backupSignal(job!, 'verify', { status: 'resolved' }, NOW);
  assert.equal(resolved.fingerprint, firing.fingerprint);
  assert.equal(resolved.status, 'resolved');
  assert.notEqual(backupFingerprint('enbek-db', 'drill'), firing.fingerprint);
  assert.notEqual(backupFingerprint('other', 'verify'), firing.fingerprint);
  const missed = backupSignal(job!, 'drill', { status: 'firing', reasonCode: 'missed', reason: 'due at X' }, NOW);
  assert.equal(missed.summary, 'Backup job "enbek-db": restore drill missed: due at X');
});

test('tool failures are classified from how they ended', () => {
  const base = { ok: false, code: 1, signal: null, stdout: '' } as const;
  assert.equal(classifyToolFailure({ ...base, code: null, stderr: '', spawnError: 'ENOENT' }), 'tool_missing');
  assert.equal(classifyToolFailure({ ...base, stderr: 'pg_dump: error: could not write to output file: No space left on device' }), 'disk_full');
  assert.equal(
    classifyToolFailure({ ...base, stderr: 'pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused' }),
    'source_unreachable',
  );
  assert.equal(classifyToolFailure({ ...base, stderr: 'pg_dump: error: query failed: ERROR: permission denied for table x' }), 'dump_failed');
});

test('a missing tool is a result with a reason, not an exception', async () => {
  const r = await runTool('pg_dump', ['--version'], { env: { PATH: '/nonexistent-kuzet-bin' } });
  assert.equal(r.ok, false);
  assert.equal(r.spawnError, 'ENOENT');
  assert.match(r.reason!, /^pg_dump not found on PATH/);
  const exit = await runTool('sh', ['-c', 'echo one >&2; echo two >&2; exit 3']);
  assert.equal(exit.ok, false);
  assert.equal(exit.code, 3);
  assert.equal(exit.reason, 'sh exited with code 3: one | two');
});

test('temp names hide partial files and globs match whole names', () => {
  assert.equal(partialPathFor('/b/job-20260101T000000Z-abc.dump'), `/b/${PARTIAL_PREFIX}job-20260101T000000Z-abc.dump`);
  const re = globToRegExp('enbek-*.dump');
  assert.ok(re.test('enbek-2026.dump'));
  assert.ok(!re.test('enbek-2026.dump.tmp'));
  assert.ok(!re.test('xenbek-1.dump'));
  assert.ok(globToRegExp('a?c').test('abc') && !globToRegExp('a.c').test('abc'));
});
