// Making a backup: pg_dump -Fc or tar into a temp name in the job's folder, fsync, hash, rename,
// record. Or, for an external tool's backups, record the newest file it left. A failure removes the
// temp file and marks the artifact row failed: nothing half-written is ever recorded as complete.

import { readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../store/store.ts';
import type { BackupJob } from './config.ts';
import { pgEnv, runTool, type ExecResult } from './exec.ts';
import {
  artifactName,
  durableRename,
  ensureDir,
  fsyncPath,
  globToRegExp,
  humanBytes,
  partialPathFor,
  removeIfExists,
  sha256File,
  statFile,
  strayPartials,
} from './files.ts';
import { artifactsInState, completeArtifact, failArtifact, findArtifactByPath, insertArtifact } from './repo.ts';
import type { ReasonCode } from './signals.ts';
import type { TaskContext, TaskOutcome } from './task.ts';

/** Clean up after a run that died (kill -9, power cut). Call only while holding the job's lock. */
export async function recoverInterrupted(store: Store, job: BackupJob, ctx: TaskContext): Promise<string[]> {
  const notes: string[] = [];
  for (const a of await artifactsInState(store, job.name, 'writing')) {
    await removeIfExists(a.path).catch(() => false);
    await failArtifact(store, a.id, 'interrupted: the process writing it stopped before it finished');
    notes.push(`discarded the unfinished backup ${a.path} of an interrupted run`);
  }
  if (job.dir) {
    for (const p of await strayPartials(job.dir, job.name)) {
      if (await removeIfExists(p).catch(() => false)) notes.push(`removed the stray partial file ${p}`);
    }
  }
  for (const n of notes) ctx.progress(n);
  return notes;
}

export async function produceBackup(store: Store, job: BackupJob, ctx: TaskContext): Promise<TaskOutcome> {
  if (job.kind === 'external') return recordExternal(store, job, ctx);
  const dir = job.dir!;
  try {
    await ensureDir(dir);
  } catch (err) {
    return failed(classifyFsError(err), `cannot create the backup folder ${dir}: ${(err as Error).message}`);
  }
  const startedAt = ctx.clock.now();
  const ext = job.kind === 'postgres' ? '.dump' : job.folder!.compress ? '.tar.gz' : '.tar';
  const finalPath = join(dir, artifactName(job.name, startedAt, ext));
  const partial = partialPathFor(finalPath);
  const id = await insertArtifact(store, { job: job.name, kind: job.kind, format: job.format, path: partial, status: 'writing', startedAt });
  const t0 = ctx.monotonic();

  const fail = async (code: ReasonCode, reason: string): Promise<TaskOutcome> => {
    // Tools do not always say ENOSPC (tar: "Wrote only 6144 of 10240 bytes"): ask the file system
    // before the partial file is removed and the space comes back.
    const free = await freeBytes(dir);
    if (free !== undefined && free < LOW_SPACE_BYTES && (code === 'dump_failed' || code === 'disk_full')) {
      code = 'disk_full';
      reason = `${reason} (the file system of ${dir} is full: ${humanBytes(free)} free)`;
    }
    await removeIfExists(partial).catch(() => false);
    await failArtifact(store, id, reason);
    return { ...failed(code, reason), artifactId: id };
  };

  ctx.progress(`${job.kind === 'postgres' ? 'dumping' : 'archiving'} into ${finalPath}`);
  const res = job.kind === 'postgres' ? await runPgDump(job, partial, ctx) : await runTar(job, partial, ctx);
  if (!res.ok) return fail(classifyToolFailure(res), res.reason ?? 'the tool failed');

  try {
    await fsyncPath(partial);
    const st = await statFile(partial);
    if (!st) return fail('dump_failed', `the tool reported success but left no file at ${partial}`);
    const sha256 = res.sha256 !== undefined && res.bytes === st.size ? res.sha256 : await sha256File(partial);
    await durableRename(partial, finalPath);
    const completedAt = ctx.clock.now();
    await completeArtifact(store, id, { path: finalPath, sizeBytes: st.size, sha256, completedAt });
    const seconds = (ctx.monotonic() - t0) / 1000;
    ctx.progress(`wrote ${humanBytes(st.size)} in ${seconds.toFixed(1)} s, sha256 ${sha256.slice(0, 16)}…`);
    return { ok: true, artifactId: id, detail: { path: finalPath, sizeBytes: st.size, sha256, seconds, warnings: res.stderr ? [res.stderr.slice(-500)] : [] } };
  } catch (err) {
    return fail(classifyFsError(err), `could not finish ${finalPath}: ${(err as Error).message}`);
  }
}

function runPgDump(job: BackupJob, out: string, ctx: TaskContext): Promise<ExecResult> {
  const pgc = job.postgres!;
  // -w: never prompt for a password (there is no terminal); the password comes in PGPASSWORD.
  // The dump streams through kuzet into the file, hashed on the way (no second read of a large file).
  const args = ['-Fc', '-w', ...pgc.extra_args, '--', pgc.database];
  return runTool('pg_dump', args, { env: pgEnv(ctx.env, pgc), timeoutMs: job.timeoutMs, signal: ctx.abort, stdoutTo: out });
}

async function runTar(job: BackupJob, out: string, ctx: TaskContext): Promise<ExecResult> {
  const f = job.folder!;
  const args = ['-c', ...(f.compress ? ['-z'] : []), '-f', out, ...f.exclude.map((e) => `--exclude=${e}`), '-C', f.path, '.'];
  const r = await runTool('tar', args, { env: ctx.env, timeoutMs: job.timeoutMs, signal: ctx.abort });
  // GNU tar exits 1 when a file changed while it was read: the archive is complete, keep it and say so.
  if (!r.ok && r.code === 1 && /file changed as we read it/i.test(r.stderr)) return { ...r, ok: true, reason: undefined };
  return r;
}

/** An external tool makes the backups: record the newest file it left (and check its heartbeat). */
async function recordExternal(store: Store, job: BackupJob, ctx: TaskContext): Promise<TaskOutcome> {
  const ex = job.external!;
  if (ex.heartbeatFile && ex.heartbeatMaxAgeMs !== undefined) {
    const hb = await statFile(ex.heartbeatFile);
    if (!hb) return failed('heartbeat_stale', `the heartbeat file ${ex.heartbeatFile} of the backup tool is missing`);
    const age = ctx.clock.now() - hb.mtimeMs;
    if (age > ex.heartbeatMaxAgeMs) {
      return failed('heartbeat_stale', `the backup tool's heartbeat ${ex.heartbeatFile} is ${Math.round(age / 60_000)} min old (limit ${Math.round(ex.heartbeatMaxAgeMs / 60_000)} min)`);
    }
  }
  let names: string[];
  try {
    names = await readdir(ex.dir);
  } catch (err) {
    return failed('missing', `cannot read the backup tool's folder ${ex.dir}: ${(err as Error).message}`);
  }
  const re = globToRegExp(ex.pattern);
  let newest: { path: string; size: number; mtimeMs: number } | undefined;
  for (const n of names) {
    if (n.startsWith('.') || !re.test(n)) continue;
    const st = await statFile(join(ex.dir, n));
    if (st && (!newest || st.mtimeMs > newest.mtimeMs)) newest = { path: join(ex.dir, n), ...st };
  }
  if (!newest) return failed('missing', `no file matching "${ex.pattern}" in ${ex.dir}`);
  const known = await findArtifactByPath(store, job.name, newest.path);
  if (known && known.sizeBytes === newest.size && known.sourceMtime !== null && Math.abs(known.sourceMtime - newest.mtimeMs) < 1) {
    ctx.progress(`no new backup since ${newest.path}`);
    return { ok: true, artifactId: known.id, detail: { path: newest.path, unchanged: true } };
  }
  const sha256 = await sha256File(newest.path);
  const after = await statFile(newest.path);
  if (!after || after.size !== newest.size || after.mtimeMs !== newest.mtimeMs) {
    ctx.progress(`${newest.path} is still being written; looking again at the next run`);
    return { ok: true, detail: { path: newest.path, stillWriting: true } };
  }
  const now = ctx.clock.now();
  const id = await insertArtifact(store, { job: job.name, kind: job.kind, format: job.format, path: newest.path, status: 'writing', startedAt: newest.mtimeMs });
  await completeArtifact(store, id, { path: newest.path, sizeBytes: newest.size, sha256, completedAt: now, sourceMtime: newest.mtimeMs });
  ctx.progress(`recorded ${newest.path} (${humanBytes(newest.size)})`);
  return { ok: true, artifactId: id, detail: { path: newest.path, sizeBytes: newest.size, sha256 } };
}

const LOW_SPACE_BYTES = 1 << 20;

async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

const failed = (reasonCode: ReasonCode, reason: string): TaskOutcome => ({ ok: false, reasonCode, reason });

export function classifyToolFailure(r: ExecResult): ReasonCode {
  if (r.spawnError === 'ENOENT') return 'tool_missing';
  if (/No space left on device|File too large|Disk quota exceeded/i.test(r.stderr)) return 'disk_full';
  if (r.reason?.includes('did not finish within')) return 'timeout';
  if (
    /connection to server|could not connect|Connection refused|could not translate host|timeout expired|password authentication failed|database ".*" does not exist|no pg_hba\.conf entry|the database system is (starting up|shutting down)/i.test(
      r.stderr,
    )
  ) {
    return 'source_unreachable';
  }
  return 'dump_failed';
}

function classifyFsError(err: unknown): ReasonCode {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG' ? 'disk_full' : 'dump_failed';
}
