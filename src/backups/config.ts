// The `backups:` config section: its JSON Schema (the lead's loader validates with it) and the
// resolved, frozen form the rest of src/backups works from (durations in ms, defaults filled in).

import { CronExpressionParser } from 'cron-parser';
import { parseDuration } from '../clock.ts';

export type BackupKind = 'postgres' | 'folder' | 'external';
export type ArtifactFormat = 'pg_custom' | 'tar' | 'file';
export type ValidationKind = 'row_count' | 'checksum' | 'freshness';

export interface PostgresConnectionConfig {
  host?: string;
  port?: number;
  user?: string;
  database: string;
  /** Secret: the loader resolves "${ENV}" or `password_file`; handed to children as PGPASSWORD. */
  password?: string;
  sslmode?: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
}

export interface ValidationConfig {
  name: string;
  kind: ValidationKind;
  /** row_count / freshness: the table (optionally schema-qualified). */
  table?: string;
  /** row_count: allowed difference from the source, in percent of the source's count. Default 0. */
  tolerance_percent?: number;
  /** checksum: a query returning one value, run on the source and the restore; the two must be equal. */
  query?: string;
  /** freshness: the timestamp column whose newest value must be recent. */
  column?: string;
  /** freshness: the newest value may be at most this much older than the backup's start ("26h"). */
  max_lag?: string;
}

export interface BackupJobConfig {
  name: string;
  /** The system the backup belongs to (signal `system`); defaults to the job name. */
  system?: string;
  kind: BackupKind;
  /** Cron expression (5 or 6 fields) for backups (or, for `external`, for looking at the location). */
  schedule?: string;
  /** Where kuzet writes its backups (postgres, folder). */
  dir?: string;
  postgres?: PostgresConnectionConfig & { extra_args?: string[] };
  folder?: { path: string; compress?: boolean; exclude?: string[] };
  external?: { dir: string; pattern?: string; format?: ArtifactFormat; heartbeat_file?: string; heartbeat_max_age?: string };
  timeout?: string;
  verify?: { schedule?: string; rpo?: string; max_shrink_percent?: number };
  drill?: {
    schedule?: string;
    /** Where the scratch database is created; defaults to the source server. */
    target?: Omit<PostgresConnectionConfig, 'database'> & { maintenance_database?: string };
    scratch_database?: string;
    /** A restore slower than this fails the drill (the recovery time objective). */
    rto?: string;
    jobs?: number;
    validations?: ValidationConfig[];
  };
  retention?: { keep_last?: number; max_age?: string };
  severity?: 'warning' | 'minor' | 'major' | 'critical';
}

export interface BackupsConfig {
  timezone?: string;
  /** A scheduled run that starts later than this after its due time counts as missed (a signal). */
  missed_after?: string;
  jobs?: BackupJobConfig[];
}

const duration = { type: 'string', format: 'duration' } as const;
const name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' } as const;
const connectionProps = {
  host: { type: 'string', minLength: 1 },
  port: { type: 'integer', minimum: 1, maximum: 65535 },
  user: { type: 'string', minLength: 1 },
  password: { type: 'string' },
  sslmode: { enum: ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] },
} as const;

/** JSON Schema (draft-07; no `$schema` key, as it is embedded in the config schema) of the `backups:` section. */
export const backupsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    timezone: { type: 'string', minLength: 1, default: 'Asia/Almaty' },
    missed_after: { ...duration, default: '15m' },
    jobs: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'kind'],
        properties: {
          name,
          system: { type: 'string', minLength: 1, maxLength: 256 },
          kind: { enum: ['postgres', 'folder', 'external'] },
          schedule: { type: 'string', minLength: 1 },
          dir: { type: 'string', minLength: 1 },
          timeout: duration,
          severity: { enum: ['warning', 'minor', 'major', 'critical'], default: 'major' },
          postgres: {
            type: 'object',
            additionalProperties: false,
            required: ['database'],
            properties: {
              ...connectionProps,
              database: { type: 'string', minLength: 1 },
              extra_args: { type: 'array', items: { type: 'string' } },
            },
          },
          folder: {
            type: 'object',
            additionalProperties: false,
            required: ['path'],
            properties: {
              path: { type: 'string', minLength: 1 },
              compress: { type: 'boolean', default: true },
              exclude: { type: 'array', items: { type: 'string', minLength: 1 } },
            },
          },
          external: {
            type: 'object',
            additionalProperties: false,
            required: ['dir'],
            properties: {
              dir: { type: 'string', minLength: 1 },
              pattern: { type: 'string', minLength: 1, default: '*' },
              format: { enum: ['pg_custom', 'tar', 'file'], default: 'file' },
              heartbeat_file: { type: 'string', minLength: 1 },
              heartbeat_max_age: duration,
            },
          },
          verify: {
            type: 'object',
            additionalProperties: false,
            properties: {
              schedule: { type: 'string', minLength: 1 },
              rpo: { ...duration, default: '26h' },
              max_shrink_percent: { type: 'number', minimum: 0, maximum: 100, default: 50 },
            },
          },
          drill: {
            type: 'object',
            additionalProperties: false,
            properties: {
              schedule: { type: 'string', minLength: 1 },
              target: {
                type: 'object',
                additionalProperties: false,
                properties: { ...connectionProps, maintenance_database: { type: 'string', minLength: 1 } },
              },
              scratch_database: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$' },
              rto: duration,
              jobs: { type: 'integer', minimum: 1, maximum: 64 },
              validations: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['name', 'kind'],
                  properties: {
                    name: { type: 'string', minLength: 1, maxLength: 128 },
                    kind: { enum: ['row_count', 'checksum', 'freshness'] },
                    table: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?$' },
                    tolerance_percent: { type: 'number', minimum: 0, maximum: 100 },
                    query: { type: 'string', minLength: 1 },
                    column: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
                    max_lag: duration,
                  },
                },
              },
            },
          },
          retention: {
            type: 'object',
            additionalProperties: false,
            properties: {
              keep_last: { type: 'integer', minimum: 1, default: 7 },
              max_age: duration,
            },
          },
        },
      },
    },
  },
} as const;

/** A job with defaults applied and durations in milliseconds. Frozen. */
export interface BackupJob {
  name: string;
  system: string;
  kind: BackupKind;
  format: ArtifactFormat;
  schedule?: string;
  dir?: string;
  postgres?: PostgresConnectionConfig & { extra_args: string[] };
  folder?: { path: string; compress: boolean; exclude: string[] };
  external?: { dir: string; pattern: string; heartbeatFile?: string; heartbeatMaxAgeMs?: number };
  timeoutMs: number;
  severity: 'warning' | 'minor' | 'major' | 'critical';
  verify: { schedule?: string; rpoMs: number; maxShrinkPercent: number };
  drill?: {
    schedule?: string;
    target: Omit<PostgresConnectionConfig, 'database'> & { maintenance_database: string };
    scratchDatabase: string;
    rtoMs?: number;
    jobs: number;
    validations: (ValidationConfig & { maxLagMs?: number })[];
  };
  retention: { keepLast: number; maxAgeMs?: number };
}

export interface ResolvedBackups {
  timezone: string;
  missedAfterMs: number;
  jobs: readonly BackupJob[];
}

/** Checks beyond the schema (cron syntax, cross-field rules); returns problems with their paths. */
export function backupsConfigProblems(cfg: BackupsConfig): string[] {
  const p: string[] = [];
  const tz = cfg.timezone ?? 'Asia/Almaty';
  if (!validTimeZone(tz)) p.push(`backups.timezone: unknown time zone ${JSON.stringify(tz)}`);
  const seen = new Set<string>();
  (cfg.jobs ?? []).forEach((j, i) => {
    const at = `backups.jobs[${i}]`;
    if (seen.has(j.name)) p.push(`${at}.name: duplicate job name ${JSON.stringify(j.name)}`);
    seen.add(j.name);
    for (const [field, expr] of [['schedule', j.schedule], ['verify.schedule', j.verify?.schedule], ['drill.schedule', j.drill?.schedule]] as const) {
      if (expr !== undefined) {
        const e = cronProblem(expr, tz);
        if (e) p.push(`${at}.${field}: ${e}`);
      }
    }
    if (j.kind === 'postgres' && !j.postgres) p.push(`${at}.postgres: required for kind "postgres"`);
    if (j.kind === 'folder' && !j.folder) p.push(`${at}.folder: required for kind "folder"`);
    if (j.kind === 'external' && !j.external) p.push(`${at}.external: required for kind "external"`);
    if (j.kind !== 'external' && !j.dir) p.push(`${at}.dir: required for kind "${j.kind}" (where backups are written)`);
    const format = formatOf(j);
    if (j.drill && format !== 'pg_custom') p.push(`${at}.drill: restore drills need a PostgreSQL custom-format backup (kind "postgres", or "external" with format "pg_custom")`);
    if (j.drill && j.kind === 'external' && !j.drill.target) p.push(`${at}.drill.target: required for an external backup (there is no source connection to borrow)`);
    j.drill?.validations?.forEach((v, k) => {
      const vat = `${at}.drill.validations[${k}]`;
      if (v.kind === 'row_count' && !v.table) p.push(`${vat}.table: required for kind "row_count"`);
      if (v.kind === 'checksum' && !v.query) p.push(`${vat}.query: required for kind "checksum"`);
      if (v.kind === 'freshness' && (!v.table || !v.column || !v.max_lag)) p.push(`${vat}: kind "freshness" needs table, column and max_lag`);
      if ((v.kind === 'row_count' || v.kind === 'checksum') && j.kind === 'external') p.push(`${vat}: kind "${v.kind}" compares with the source, which an external backup does not have`);
    });
  });
  return p;
}

/** The next time `expr` fires strictly after `after` (ms), read in time zone `tz`. */
export function nextCronTime(expr: string, after: number, tz: string): number {
  return CronExpressionParser.parse(expr, { currentDate: new Date(after), tz }).next().getTime();
}

function cronProblem(expr: string, tz: string): string | undefined {
  try {
    CronExpressionParser.parse(expr, { tz: validTimeZone(tz) ? tz : 'UTC' }).next();
    return undefined;
  } catch (err) {
    return `invalid cron expression ${JSON.stringify(expr)}: ${(err as Error).message}`;
  }
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function formatOf(j: BackupJobConfig): ArtifactFormat {
  if (j.kind === 'postgres') return 'pg_custom';
  if (j.kind === 'folder') return 'tar';
  return j.external?.format ?? 'file';
}

const ms = (text: string | undefined, fallback?: number): number | undefined => (text === undefined ? fallback : parseDuration(text) ?? fallback);

/** Apply defaults; call after the schema and `backupsConfigProblems` passed. */
export function resolveBackupsConfig(cfg: BackupsConfig): ResolvedBackups {
  const jobs = (cfg.jobs ?? []).map((j): BackupJob => {
    const job: BackupJob = {
      name: j.name,
      system: j.system ?? j.name,
      kind: j.kind,
      format: formatOf(j),
      schedule: j.schedule,
      dir: j.dir,
      postgres: j.postgres ? { ...j.postgres, extra_args: j.postgres.extra_args ?? [] } : undefined,
      folder: j.folder ? { path: j.folder.path, compress: j.folder.compress ?? true, exclude: j.folder.exclude ?? [] } : undefined,
      external: j.external
        ? { dir: j.external.dir, pattern: j.external.pattern ?? '*', heartbeatFile: j.external.heartbeat_file, heartbeatMaxAgeMs: ms(j.external.heartbeat_max_age) }
        : undefined,
      timeoutMs: ms(j.timeout, 6 * 3_600_000)!,
      severity: j.severity ?? 'major',
      verify: { schedule: j.verify?.schedule, rpoMs: ms(j.verify?.rpo, 26 * 3_600_000)!, maxShrinkPercent: j.verify?.max_shrink_percent ?? 50 },
      drill: j.drill
        ? {
            schedule: j.drill.schedule,
            target: {
              host: j.drill.target?.host ?? j.postgres?.host,
              port: j.drill.target?.port ?? j.postgres?.port,
              user: j.drill.target?.user ?? j.postgres?.user,
              password: j.drill.target?.password ?? j.postgres?.password,
              sslmode: j.drill.target?.sslmode ?? j.postgres?.sslmode,
              maintenance_database: j.drill.target?.maintenance_database ?? 'postgres',
            },
            scratchDatabase: j.drill.scratch_database ?? `kuzet_drill_${j.name.replace(/-/g, '_')}`.slice(0, 63),
            rtoMs: ms(j.drill.rto),
            jobs: j.drill.jobs ?? 1,
            validations: (j.drill.validations ?? []).map((v) => ({ ...v, maxLagMs: ms(v.max_lag) })),
          }
        : undefined,
      retention: { keepLast: j.retention?.keep_last ?? 7, maxAgeMs: ms(j.retention?.max_age) },
    };
    return deepFreeze(job);
  });
  return Object.freeze({ timezone: cfg.timezone ?? 'Asia/Almaty', missedAfterMs: ms(cfg.missed_after, 15 * 60_000)!, jobs: Object.freeze(jobs) });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
