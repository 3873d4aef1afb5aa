// The probe source's public surface, for the composition root, the config loader, the CLI and HTTP.
export { probeFileSchema, probeSchema, maintenanceSchema, PROBE_DEFAULTS } from './schema.ts';
export { schemaProblems, probeSetProblems, resolveProbe, type ProbeProblem, type ResolvedProbe } from './validate.ts';
export { loadProbeDir, type LoadedProbeFiles } from './files.ts';
export { ProbeService, probesSectionSchema, type ProbesSection, type ProbeServiceDeps, type ProbeStatus } from './service.ts';
export { registerHeartbeatRoutes, type HeartbeatRouteDeps } from './routes.ts';
export { runProbeOnce, formatResult, type RunOnceOutput, type RunOnceDeps } from './run-once.ts';
export { rollupHours, rollupDays, pruneResults } from './results.ts';
export { probeFingerprint } from './signals.ts';
export type * from './types.ts';
