// Backups proven by restoring them (issue 7): the surface the app, CLI, HTTP server and config use.

export { backupsConfigSchema, backupsConfigProblems, resolveBackupsConfig } from './config.ts';
export type { BackupsConfig, BackupJobConfig, BackupJob, ResolvedBackups } from './config.ts';
export { BackupService } from './service.ts';
export type { BackupServiceDeps, RunResult, RunOptions, JobStatus } from './service.ts';
export { backupCommand, BACKUP_ACTIONS } from './cli.ts';
export type { BackupAction, BackupCliDeps } from './cli.ts';
export { registerBackupRoutes } from './routes.ts';
export type { BackupRoutesDeps } from './routes.ts';
export { BACKUP_RUNBOOK, backupFingerprint } from './signals.ts';
export type { ReasonCode, Stage } from './signals.ts';
