import { catalogueProblems, probeCatalogueProblems } from './config/catalogue.ts';
import { bootstrapTokenProblems } from './access/tokens.ts';
import type { SchemaPlugins } from './config/load.ts';
import { resolveRequestsConfig, type RequestsConfigInput } from './requests/config.ts';
import { userReportsProblems } from './requests/user-reports.ts';
import { backupsConfigProblems, backupsConfigSchema, type BackupsConfig } from './backups/index.ts';
import { escalationConfigProblems } from './escalation/check.ts';
import { escalationConfigSchema, type EscalationConfig } from './escalation/config.ts';
import { REQUESTS_CONFIG_SCHEMA } from './requests/config.ts';
import cron from 'node-cron';
import { reportsConfigProblems, reportsConfigSchema, type ReportsConfig } from './reports/config.ts';
import { logsConfigProblems, logsConfigSchema, type LogsConfig } from './sources/logs/index.ts';
import { probeFileSchema, probeSetProblems, probesSectionSchema, type ProbeFile } from './sources/probes/index.ts';
import { intakeSchema } from './sources/webhooks/schema.ts';

/** "backups.jobs[0].schedule: message" -> { path: ['backups', 'jobs', 0, 'schedule'], message }. */
function located(text: string): { path: Array<string | number>; message: string } {
  const m = /^([a-z_]+(?:\.[a-z_]+|\[\d+\])*): (.*)$/s.exec(text);
  if (!m) return { path: [], message: text };
  const path = [...m[1]!.matchAll(/([a-z_]+)|\[(\d+)\]/g)].map((x) => (x[2] !== undefined ? Number(x[2]) : x[1]!));
  return { path, message: m[2]! };
}

const withoutMeta = (s: object): object => {
  const { $schema: _drop, ...rest } = s as { $schema?: string };
  return rest;
};

// The config sections owned by later stages, plugged into the one schema. (Composition, like app.ts.)
export const schemaPlugins: SchemaPlugins = {
  sections: { intake: intakeSchema, requests: withoutMeta(REQUESTS_CONFIG_SCHEMA), escalation: withoutMeta(escalationConfigSchema), probes: probesSectionSchema, logs: withoutMeta(logsConfigSchema), backups: withoutMeta(backupsConfigSchema), reports: reportsConfigSchema },
  probeFile: probeFileSchema,
  probeChecks: [
    (files) => probeSetProblems(files.map((f) => ({ file: f.file, data: f.data as unknown as ProbeFile }))).map((p) => ({ file: p.file, path: p.segments, message: p.message })),
    (files, kuzet) => probeCatalogueProblems(files, kuzet),
  ],
  checks: [
    catalogueProblems,
    (k) => userReportsProblems(resolveRequestsConfig(k.requests as RequestsConfigInput).user_reports).map(located),
    (k) => bootstrapTokenProblems(k.auth.bootstrap_token),
    (k) => escalationConfigProblems(k.escalation as EscalationConfig),
    (k, dir) => logsConfigProblems(k.logs as LogsConfig, dir),
    (k) => backupsConfigProblems(k.backups as BackupsConfig).map(located),
    (k) => reportsConfigProblems(k.reports as Partial<ReportsConfig>, (e) => cron.validate(e)),
  ],
};
