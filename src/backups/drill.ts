// A restore drill: restore the newest backup into a scratch database kuzet creates, run the
// validations from config against it (and the source), time the restore, and ALWAYS drop the scratch
// database again, also when anything on the way failed. A database of the same name that kuzet did
// not create is never dropped: the drill fails and says so.

import pg from 'pg';
import type { Store } from '../store/store.ts';
import type { BackupJob, PostgresConnectionConfig, ValidationConfig } from './config.ts';
import { pgEnv, runTool } from './exec.ts';
import { completeArtifacts } from './repo.ts';
import type { ReasonCode } from './signals.ts';
import type { TaskContext, TaskOutcome } from './task.ts';
import { integrityChecks } from './verify.ts';

/** Marks a database as kuzet's scratch: one left behind by a killed drill may be dropped by the next. */
export const SCRATCH_COMMENT = 'kuzet restore drill scratch database; safe to drop';

export interface ValidationResult {
  name: string;
  kind: ValidationConfig['kind'];
  ok: boolean;
  detail: string;
}

type Conn = Omit<PostgresConnectionConfig, 'database'> & { database: string };

function client(c: Conn, readOnly = false): pg.Client {
  const cl = new pg.Client({
    // Validation queries come from config: on the source they must not be able to change anything.
    ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    ssl: c.sslmode && c.sslmode !== 'disable' && c.sslmode !== 'prefer' ? { rejectUnauthorized: c.sslmode === 'verify-full' || c.sslmode === 'verify-ca' } : undefined,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30 * 60_000,
    application_name: 'kuzet-backup-drill',
  });
  cl.on('error', () => {}); // a dropped connection surfaces on the next query instead of crashing the process
  return cl;
}

const qi = (name: string) => `"${name.replace(/"/g, '""')}"`;
const qTable = (t: string) => t.split('.').map(qi).join('.');

export async function runDrill(store: Store, job: BackupJob, ctx: TaskContext): Promise<TaskOutcome> {
  const d = job.drill!;
  const [latest] = await completeArtifacts(store, job.name, 1);
  if (!latest) return { ok: false, reasonCode: 'no_backup', reason: `no complete backup of "${job.name}" to restore` };
  const detail: Record<string, unknown> = { path: latest.path, scratchDatabase: d.scratchDatabase };
  const fail = (reasonCode: ReasonCode, reason: string): TaskOutcome => ({ ok: false, reasonCode, reason, artifactId: latest.id, detail });

  ctx.progress(`checking ${latest.path} before restoring it`);
  const integrity = await integrityChecks(latest);
  const broken = integrity.find((c) => !c.ok);
  if (broken) return fail(broken.check === 'exists' ? 'missing' : 'checksum_mismatch', `refusing to restore: ${broken.detail}`);

  const admin = client({ ...d.target, database: d.target.maintenance_database });
  try {
    await admin.connect();
  } catch (err) {
    await admin.end().catch(() => {});
    return fail('scratch_failed', `cannot connect to the drill server to create the scratch database: ${(err as Error).message}`);
  }
  let created = false as boolean;
  let outcome: TaskOutcome;
  const body = async (): Promise<TaskOutcome> => {
    const existing = await admin.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [d.scratchDatabase],
    );
    if (existing.rows.length > 0) {
      if (existing.rows[0]!.comment !== SCRATCH_COMMENT) {
        return fail('scratch_exists', `scratch database "${d.scratchDatabase}" already exists and was not created by kuzet; refusing to use or drop it`);
      }
      ctx.progress(`dropping the scratch database "${d.scratchDatabase}" left by an interrupted drill`);
      await admin.query(`DROP DATABASE IF EXISTS ${qi(d.scratchDatabase)} WITH (FORCE)`);
      detail.droppedLeftover = true;
    }
    ctx.progress(`creating scratch database "${d.scratchDatabase}"`);
    try {
      await admin.query(`CREATE DATABASE ${qi(d.scratchDatabase)}`);
    } catch (err) {
      return fail((err as { code?: string }).code === '42P04' ? 'scratch_exists' : 'scratch_failed', `cannot create scratch database "${d.scratchDatabase}": ${(err as Error).message}`);
    }
    created = true;
    await admin.query(`COMMENT ON DATABASE ${qi(d.scratchDatabase)} IS '${SCRATCH_COMMENT}'`);

    ctx.progress(`restoring ${latest.path}`);
    const t0 = ctx.monotonic();
    const args = ['--no-owner', '--no-acl', '--exit-on-error', '-w', '-j', String(d.jobs), '-d', d.scratchDatabase, latest.path];
    const r = await runTool('pg_restore', args, { env: pgEnv(ctx.env, d.target), timeoutMs: job.timeoutMs, signal: ctx.abort });
    const restoreSeconds = (ctx.monotonic() - t0) / 1000;
    detail.restoreSeconds = restoreSeconds;
    if (!r.ok) return fail(r.spawnError === 'ENOENT' ? 'tool_missing' : 'restore_failed', `restore failed: ${r.reason}`);
    ctx.progress(`restored in ${restoreSeconds.toFixed(1)} s`);

    const results = await runValidations(job, d.scratchDatabase, latest.startedAt, ctx);
    detail.validations = results;
    const bad = results.filter((v) => !v.ok);
    if (bad.length) return fail('validation_failed', bad.map((v) => `validation "${v.name}" failed: ${v.detail}`).join('; '));
    if (d.rtoMs !== undefined && restoreSeconds * 1000 > d.rtoMs) {
      return fail('rto_exceeded', `restore took ${restoreSeconds.toFixed(1)} s, longer than the RTO of ${(d.rtoMs / 1000).toFixed(0)} s`);
    }
    return { ok: true, artifactId: latest.id, detail };
  };
  try {
    outcome = await body();
  } catch (err) {
    outcome = fail('scratch_failed', `drill failed: ${(err as Error).message}`);
  }
  if (created) {
    try {
      ctx.progress(`dropping scratch database "${d.scratchDatabase}"`);
      await admin.query(`DROP DATABASE IF EXISTS ${qi(d.scratchDatabase)} WITH (FORCE)`);
    } catch (err) {
      // The result must say the scratch database is still there, whatever else happened.
      const msg = `could not drop scratch database "${d.scratchDatabase}": ${(err as Error).message}`;
      outcome = fail(outcome.ok ? 'scratch_failed' : outcome.reasonCode!, outcome.ok ? msg : `${outcome.reason}; also ${msg}`);
    }
  }
  await admin.end().catch(() => {});
  return outcome;
}

async function runValidations(job: BackupJob, scratch: string, backupStartedAt: number, ctx: TaskContext): Promise<ValidationResult[]> {
  const d = job.drill!;
  const vs = d.validations;
  if (vs.length === 0) return [];
  const restored = client({ ...d.target, database: scratch }, true);
  const needsSource = vs.some((v) => v.kind !== 'freshness');
  const source = needsSource && job.postgres ? client(job.postgres, true) : undefined;
  const out: ValidationResult[] = [];
  try {
    await restored.connect();
    let sourceError: string | undefined;
    if (source) await source.connect().catch((err: Error) => (sourceError = `cannot connect to the source database: ${err.message}`));
    for (const v of vs) {
      const r = await validate(v, restored, sourceError ? undefined : source, sourceError, backupStartedAt).catch(
        (err: Error): ValidationResult => ({ name: v.name, kind: v.kind, ok: false, detail: `query failed: ${err.message}` }),
      );
      ctx.progress(`  ${r.ok ? 'ok  ' : 'FAIL'} ${v.name}: ${r.detail}`);
      out.push(r);
    }
  } finally {
    await restored.end().catch(() => {});
    await source?.end().catch(() => {});
  }
  return out;
}

async function one(c: pg.Client, sql: string): Promise<unknown> {
  const r = await c.query({ text: sql, rowMode: 'array' });
  return (r.rows[0] as unknown[] | undefined)?.[0] ?? null;
}

async function validate(v: ValidationConfig & { maxLagMs?: number }, restored: pg.Client, source: pg.Client | undefined, sourceError: string | undefined, backupStartedAt: number): Promise<ValidationResult> {
  const res = (ok: boolean, detail: string): ValidationResult => ({ name: v.name, kind: v.kind, ok, detail });
  if (v.kind === 'freshness') {
    const newest = await one(restored, `SELECT max(${qi(v.column!)}) FROM ${qTable(v.table!)}`);
    if (newest === null) return res(false, `${v.table}.${v.column} has no values`);
    const at = newest instanceof Date ? newest.getTime() : new Date(String(newest)).getTime();
    const limit = backupStartedAt - (v.maxLagMs ?? 0);
    return at >= limit
      ? res(true, `newest ${v.column} ${new Date(at).toISOString()}`)
      : res(false, `newest ${v.table}.${v.column} is ${new Date(at).toISOString()}, older than ${new Date(limit).toISOString()} (backup start minus ${v.max_lag})`);
  }
  if (!source) return res(false, sourceError ?? 'no source database to compare with');
  if (v.kind === 'row_count') {
    const sql = `SELECT count(*)::bigint FROM ${qTable(v.table!)}`;
    const [want, got] = [Number(await one(source, sql)), Number(await one(restored, sql))];
    const diff = (Math.abs(got - want) / Math.max(want, 1)) * 100;
    const tol = v.tolerance_percent ?? 0;
    return diff <= tol
      ? res(true, `${got} rows restored, ${want} in the source`)
      : res(false, `${got} rows restored but ${want} in the source (${diff.toFixed(1)}% apart, tolerance ${tol}%)`);
  }
  const [want, got] = [String(await one(source, v.query!)), String(await one(restored, v.query!))];
  return want === got ? res(true, `checksum ${got.slice(0, 32)} matches the source`) : res(false, `checksum ${got.slice(0, 64)} differs from the source's ${want.slice(0, 64)}`);
}
