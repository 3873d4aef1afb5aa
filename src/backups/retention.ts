// Retention: keep the newest `keepLast` backups and none older than `maxAge`, but NEVER delete the
// newest backup that passed verification: when everything since has failed, it is the one to restore.
// Files of an external tool are never deleted by kuzet (that tool owns them).

import type { Store } from '../store/store.ts';
import type { BackupJob } from './config.ts';
import { removeIfExists } from './files.ts';
import { completeArtifacts, markDeleted, type Artifact } from './repo.ts';
import { artifactTime } from './verify.ts';

/** Which of `newestFirst` to delete (pure). */
export function selectForDeletion(newestFirst: Artifact[], now: number, keepLast: number, maxAgeMs: number | undefined): Artifact[] {
  const lastVerified = newestFirst.find((a) => a.verifyOk === true);
  return newestFirst.filter((a, i) => {
    if (a === lastVerified) return false;
    const tooMany = i >= keepLast;
    const tooOld = maxAgeMs !== undefined && now - artifactTime(a) > maxAgeMs;
    return tooMany || tooOld;
  });
}

export async function applyRetention(store: Store, job: BackupJob, now: number, progress: (line: string) => void): Promise<string[]> {
  if (job.kind === 'external') return [];
  const doomed = selectForDeletion(await completeArtifacts(store, job.name), now, job.retention.keepLast, job.retention.maxAgeMs);
  const removed: string[] = [];
  for (const a of doomed) {
    try {
      await removeIfExists(a.path);
    } catch (err) {
      progress(`retention: could not delete ${a.path}: ${(err as Error).message}`);
      continue;
    }
    await markDeleted(store, a.id, now);
    removed.push(a.path);
    progress(`retention: deleted ${a.path}`);
  }
  return removed;
}
