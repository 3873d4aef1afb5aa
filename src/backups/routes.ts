// GET /api/v1/backups: every job with its newest backup, last runs and open alerts, plus the run
// history (newest first, paged with `before`). Read-only; role viewer.

import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import type { Artifact, Run } from './repo.ts';
import type { BackupService, JobStatus } from './service.ts';

export interface BackupRoutesDeps {
  service: BackupService;
  authorize: (role: 'viewer' | 'reporter' | 'soc' | 'oncall' | 'admin') => preHandlerHookHandler;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function artifactJson(a: Artifact | null) {
  if (!a) return null;
  return {
    id: a.id,
    path: a.path,
    format: a.format,
    status: a.status,
    size_bytes: a.sizeBytes,
    sha256: a.sha256,
    started_at: iso(a.startedAt),
    completed_at: iso(a.completedAt),
    verified_at: iso(a.verifiedAt),
    verify_ok: a.verifyOk,
    verify_reason: a.verifyReason,
  };
}

export function runJson(r: Run | null) {
  if (!r) return null;
  return {
    id: r.id,
    job: r.job,
    task: r.task,
    trigger: r.trigger,
    status: r.status,
    artifact_id: r.artifactId,
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    duration_seconds: r.durationMs === null ? null : r.durationMs / 1000,
    reason_code: r.reasonCode,
    reason: r.reason,
    detail: r.detail,
  };
}

function jobJson(j: JobStatus) {
  return {
    name: j.name,
    system: j.system,
    kind: j.kind,
    latest_backup: artifactJson(j.latest),
    last_backup_run: runJson(j.lastBackup),
    last_verify_run: runJson(j.lastVerify),
    last_drill_run: runJson(j.lastDrill),
    schedules: j.schedules.map((s) => ({ task: s.task, cron: s.expr, due_at: iso(s.dueAt) })),
    firing: j.firing,
  };
}

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    job: { type: 'string', minLength: 1, maxLength: 63 },
    task: { enum: ['backup', 'verify', 'drill'] },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    before: { type: 'integer', minimum: 1 },
  },
} as const;

export async function registerBackupRoutes(app: FastifyInstance, deps: BackupRoutesDeps): Promise<void> {
  const { service } = deps;
  app.get<{ Querystring: { job?: string; task?: 'backup' | 'verify' | 'drill'; limit: number; before?: number } }>(
    '/api/v1/backups',
    { preHandler: deps.authorize('viewer'), schema: { querystring: querySchema }, attachValidation: true },
    async (req, reply) => {
      if (req.validationError) {
        return reply.code(400).send({ error: { code: 'KZ_ERR_VALIDATION', message: `invalid query: ${req.validationError.message}` } });
      }
      const { job, task, limit, before } = req.query;
      if (job !== undefined && !service.job(job)) {
        return reply.code(404).send({ error: { code: 'KZ_ERR_NOT_FOUND', message: `backup job "${job}" not found` } });
      }
      const jobs = (await service.status()).filter((j) => job === undefined || j.name === job);
      const history = await service.history({ job, task, limit, beforeId: before });
      return {
        jobs: jobs.map(jobJson),
        history: history.map(runJson),
        next_before: history.length === limit ? history[history.length - 1]!.id : null,
      };
    },
  );
}
