// Backup outcomes as signals. One fingerprint per (job, stage): a failed or missed backup, verification
// or drill fires it; the next success of that stage resolves it. Labels carry `runbook: backup-failed`
// so the incident side can pick the runbook, and `reason` says which check failed.

import { fingerprintOf, LIMITS, type Signal } from '../signals/signal.ts';
import type { BackupJob } from './config.ts';

export type Stage = 'backup' | 'verify' | 'drill';

/** Why a run failed; stable words for labels, metrics and the API. */
export type ReasonCode =
  | 'tool_missing'
  | 'source_unreachable'
  | 'disk_full'
  | 'dump_failed'
  | 'timeout'
  | 'interrupted'
  | 'missing'
  | 'stale'
  | 'shrunk'
  | 'checksum_mismatch'
  | 'unreadable'
  | 'no_backup'
  | 'heartbeat_stale'
  | 'scratch_exists'
  | 'scratch_failed'
  | 'restore_failed'
  | 'validation_failed'
  | 'rto_exceeded'
  | 'missed'
  | 'error';

export const BACKUP_RUNBOOK = 'backup-failed';

export function backupFingerprint(job: string, stage: Stage): string {
  return fingerprintOf({ source: 'backup', job, stage });
}

const STAGE_WORDS: Record<Stage, string> = { backup: 'backup', verify: 'verification', drill: 'restore drill' };

export function backupSignal(
  job: BackupJob,
  stage: Stage,
  outcome: { status: 'firing' | 'resolved'; reasonCode?: ReasonCode; reason?: string; payload?: Record<string, unknown> },
  at: number,
): Signal {
  const what = STAGE_WORDS[stage];
  const summary =
    outcome.status === 'firing'
      ? `Backup job "${job.name}": ${what} ${outcome.reasonCode === 'missed' ? 'missed' : 'failed'}: ${outcome.reason ?? outcome.reasonCode ?? 'unknown reason'}`
      : `Backup job "${job.name}": ${what} succeeded again`;
  const labels: Record<string, string> = { job: job.name, kind: job.kind, stage, runbook: BACKUP_RUNBOOK };
  if (outcome.reasonCode) labels.reason = outcome.reasonCode;
  return {
    source: 'backup',
    system: job.system.slice(0, LIMITS.text),
    check: `backup-${stage}`,
    fingerprint: backupFingerprint(job.name, stage),
    severity: outcome.status === 'firing' ? job.severity : 'info',
    status: outcome.status,
    summary: summary.slice(0, LIMITS.summary),
    labels,
    payload: outcome.payload ?? {},
    observedAt: at,
  };
}
