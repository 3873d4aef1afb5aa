import type { SchemaPlugins } from './config/load.ts';
import { escalationConfigProblems } from './escalation/check.ts';
import { escalationConfigSchema, type EscalationConfig } from './escalation/config.ts';
import { REQUESTS_CONFIG_SCHEMA } from './requests/config.ts';
import { logsConfigProblems, logsConfigSchema, type LogsConfig } from './sources/logs/index.ts';
import { probeFileSchema, probeSetProblems, probesSectionSchema, type ProbeFile } from './sources/probes/index.ts';
import { intakeSchema } from './sources/webhooks/schema.ts';

const withoutMeta = (s: object): object => {
  const { $schema: _drop, ...rest } = s as { $schema?: string };
  return rest;
};

// The config sections owned by later stages, plugged into the one schema. (Composition, like app.ts.)
export const schemaPlugins: SchemaPlugins = {
  sections: { intake: intakeSchema, requests: withoutMeta(REQUESTS_CONFIG_SCHEMA), escalation: withoutMeta(escalationConfigSchema), probes: probesSectionSchema, logs: withoutMeta(logsConfigSchema) },
  probeFile: probeFileSchema,
  probeChecks: [(files) => probeSetProblems(files.map((f) => ({ file: f.file, data: f.data as unknown as ProbeFile }))).map((p) => ({ file: p.file, path: p.segments, message: p.message }))],
  checks: [(k) => escalationConfigProblems(k.escalation as EscalationConfig), (k, dir) => logsConfigProblems(k.logs as LogsConfig, dir)],
};
