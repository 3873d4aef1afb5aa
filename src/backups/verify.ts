// Verification of the newest backup of a job: it exists, is fresh (within the RPO), is not
// suspiciously smaller than the one before, matches its recorded SHA-256, and the tool can read it.
// Every check runs (where it can) so the record says everything that is wrong, not just the first.

import type { Store } from '../store/store.ts';
import type { BackupJob } from './config.ts';
import { runTool } from './exec.ts';
import { humanBytes, sha256File, statFile } from './files.ts';
import { completeArtifacts, recordVerification, type Artifact } from './repo.ts';
import type { ReasonCode } from './signals.ts';
import type { TaskContext, TaskOutcome } from './task.ts';

export type CheckName = 'exists' | 'fresh' | 'size' | 'sha256' | 'readable';

export interface CheckResult {
  check: CheckName;
  ok: boolean;
  detail: string;
}

const REASON_OF: Record<CheckName, ReasonCode> = {
  exists: 'missing',
  fresh: 'stale',
  size: 'shrunk',
  sha256: 'checksum_mismatch',
  readable: 'unreadable',
};

/** Age of an artifact as verification sees it: an external tool's file by its mtime, ours by completion. */
export function artifactTime(a: Artifact): number {
  return a.sourceMtime ?? a.completedAt ?? a.startedAt;
}

/** The size rule on its own (pure): is `size` more than `maxShrinkPercent` below `previous`? */
export function shrinkProblem(size: number, previous: number | undefined, maxShrinkPercent: number): string | undefined {
  if (previous === undefined || previous <= 0) return undefined;
  const shrink = ((previous - size) / previous) * 100;
  if (shrink <= maxShrinkPercent) return undefined;
  return `${shrink.toFixed(1)}% smaller than the previous backup (${humanBytes(size)} vs ${humanBytes(previous)}), more than the allowed ${maxShrinkPercent}%`;
}

/**
 * Check that `a` is intact: on disk, the recorded size and SHA-256. Shared with the drill.
 * `hashedNow`: the caller computed the SHA-256 from this very file moments ago (the verification
 * right after a backup), so reading it again from the page cache would prove nothing new.
 */
export async function integrityChecks(a: Artifact, hashedNow = false): Promise<CheckResult[]> {
  const st = await statFile(a.path);
  if (!st) return [{ check: 'exists', ok: false, detail: `backup file ${a.path} is missing` }];
  const out: CheckResult[] = [{ check: 'exists', ok: true, detail: `${a.path} (${humanBytes(st.size)})` }];
  if (a.sizeBytes !== null && st.size !== a.sizeBytes) {
    out.push({ check: 'sha256', ok: false, detail: `file is ${st.size} bytes but ${a.sizeBytes} were recorded (truncated or replaced)` });
    return out;
  }
  if (hashedNow) {
    out.push({ check: 'sha256', ok: true, detail: `sha256 ${a.sha256?.slice(0, 16)}… computed from the file as it was written` });
    return out;
  }
  let actual: string;
  try {
    actual = await sha256File(a.path);
  } catch (err) {
    out.push({ check: 'sha256', ok: false, detail: `cannot read ${a.path}: ${(err as Error).message}` });
    return out;
  }
  out.push(
    actual === a.sha256
      ? { check: 'sha256', ok: true, detail: `sha256 ${actual.slice(0, 16)}… matches` }
      : { check: 'sha256', ok: false, detail: `SHA-256 mismatch: recorded ${a.sha256}, file has ${actual} (the file changed after it was written)` },
  );
  return out;
}

export async function verifyLatest(store: Store, job: BackupJob, ctx: TaskContext, hashedArtifactId?: number): Promise<TaskOutcome> {
  const [latest, previous] = await completeArtifacts(store, job.name, 2);
  if (!latest) return { ok: false, reasonCode: 'no_backup', reason: `no complete backup of "${job.name}" is recorded` };
  ctx.progress(`verifying ${latest.path}`);
  const checks: CheckResult[] = [];

  const age = ctx.clock.now() - artifactTime(latest);
  checks.push(
    age <= job.verify.rpoMs
      ? { check: 'fresh', ok: true, detail: `${formatAge(age)} old, within the RPO of ${formatAge(job.verify.rpoMs)}` }
      : { check: 'fresh', ok: false, detail: `the newest backup is ${formatAge(age)} old, older than the RPO of ${formatAge(job.verify.rpoMs)}` },
  );
  const shrink = latest.sizeBytes === null ? undefined : shrinkProblem(latest.sizeBytes, previous?.sizeBytes ?? undefined, job.verify.maxShrinkPercent);
  checks.push({ check: 'size', ok: !shrink, detail: shrink ?? 'size in line with the previous backup' });

  const integrity = await integrityChecks(latest, latest.id === hashedArtifactId);
  checks.push(...integrity);
  if (integrity.every((c) => c.ok)) checks.push(await readable(latest, ctx));

  for (const c of checks) ctx.progress(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`);
  const bad = checks.filter((c) => !c.ok);
  // Integrity problems matter more than age or size: they lead the reason.
  const order: CheckName[] = ['exists', 'sha256', 'readable', 'fresh', 'size'];
  bad.sort((a, b) => order.indexOf(a.check) - order.indexOf(b.check));
  const reason = bad.length ? bad.map((c) => c.detail).join('; ') : null;
  await recordVerification(store, latest.id, ctx.clock.now(), bad.length === 0, reason);
  return {
    ok: bad.length === 0,
    artifactId: latest.id,
    reasonCode: bad[0] ? REASON_OF[bad[0].check] : undefined,
    reason: reason ?? undefined,
    detail: { path: latest.path, checks },
  };
}

async function readable(a: Artifact, ctx: TaskContext): Promise<CheckResult> {
  if (a.format === 'file') return { check: 'readable', ok: true, detail: 'no reader for format "file"; checksum only' };
  const [cmd, args] = a.format === 'pg_custom' ? ['pg_restore', ['--list', a.path]] : ['tar', ['-tf', a.path]];
  const r = await runTool(cmd!, args as string[], { env: ctx.env, signal: ctx.abort });
  return r.ok
    ? { check: 'readable', ok: true, detail: `${cmd} ${a.format === 'pg_custom' ? '--list' : '-t'} reads it` }
    : { check: 'readable', ok: false, detail: `${cmd} cannot read it: ${r.reason}` };
}

export function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}
