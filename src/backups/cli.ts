// `kuzet backup run|verify|drill [NAME]` as a plain function: the lead wires it to commander.
// Progress goes to `out` line by line; the exit code is 0 when every run succeeded, 1 when one
// failed, 2 for bad usage (unknown action or job) or when a job was busy.

import type { BackupService, RunResult } from './service.ts';

export type BackupAction = 'run' | 'verify' | 'drill';
export const BACKUP_ACTIONS: readonly BackupAction[] = ['run', 'verify', 'drill'];

export interface BackupCliDeps {
  service: BackupService;
  out: (line: string) => void;
}

export async function backupCommand(action: string, name: string | undefined, deps: BackupCliDeps): Promise<number> {
  const { service, out } = deps;
  if (!(BACKUP_ACTIONS as readonly string[]).includes(action)) {
    out(`error: unknown backup action "${action}"; expected one of: ${BACKUP_ACTIONS.join(', ')}`);
    return 2;
  }
  if (name !== undefined && !service.job(name)) {
    const known = service.jobs.map((j) => j.name);
    out(`error: no backup job named "${name}"${known.length ? `; configured: ${known.join(', ')}` : '; none are configured'}`);
    return 2;
  }
  const job = name === undefined ? undefined : service.job(name)!;
  if (action === 'drill' && job && !job.drill) {
    out(`error: backup job "${name}" has no drill configured (backups.jobs[].drill)`);
    return 2;
  }
  const task = action === 'run' ? 'backup' : (action as 'verify' | 'drill');
  let results: RunResult[];
  try {
    results = await service.run(task, name, { trigger: 'manual', progress: out });
  } catch (err) {
    // The store (or something else kuzet itself needs) failed, not the backup: say so, do not crash.
    out(`error: ${action} could not be recorded: ${(err as Error).message}`);
    return 1;
  }
  if (results.length === 0) {
    out(task === 'drill' ? 'no backup job has a drill configured' : 'no backup jobs are configured');
    return 2;
  }
  for (const r of results) out(summaryLine(r));
  if (results.some((r) => r.busy)) return 2;
  const verifyFailed = (r: RunResult) => (r.detail.verification as { ok?: boolean } | undefined)?.ok === false;
  return results.every((r) => r.ok && !verifyFailed(r)) ? 0 : 1;
}

export function summaryLine(r: RunResult): string {
  const secs = (r.durationMs / 1000).toFixed(1);
  if (r.busy) return `${r.job}: ${r.task} skipped: ${r.reason}`;
  if (!r.ok) return `${r.job}: ${r.task} FAILED after ${secs} s (${r.reasonCode}): ${r.reason}`;
  const v = r.detail.verification as { ok: boolean; reason?: string } | undefined;
  const extra = v ? (v.ok ? ', verified' : `, but verification FAILED: ${v.reason}`) : '';
  return `${r.job}: ${r.task} ok in ${secs} s${extra}`;
}
