import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { addLocalMonths, localMonthStart, parseDuration, zoneOffsetMinutes } from '../../../clock.ts';
import { compare } from '../assertions.ts';
import { networkReason } from '../http-client.ts';
import type { AssertionOutcome, Cadence, PostgresSpec, Probe, ProbeResult, ProbeRunContext, SqlSpec } from '../types.ts';
import type { Clock } from '../../../clock.ts';

// postgres: connect and run a query within a budget. sql: a query whose result must satisfy
// conditions (data freshness: "days since the last row <= 35"; accounts idle over 60 days: "n == 0").
// Each run opens its own connection: connecting is part of what is probed.

export interface DbDeps {
  clock: Clock;
}

const ms = (t0: number) => Math.round((performance.now() - t0) * 100) / 100;

const PERIOD_MONTHS: Record<Cadence, number> = { monthly: 1, quarterly: 3, 'half-yearly': 6, yearly: 12 };

/**
 * The last finished period of a cadence at `now`: calendar months, quarters (Jan, Apr, Jul, Oct), halves (Jan, Jul)
 * or years, in `zone`. A feed "meets" a period when new data arrived within it.
 */
export function lastFinishedPeriod(cadence: Cadence, now: number, zone = 'Asia/Almaty'): { start: number; end: number } {
  const n = PERIOD_MONTHS[cadence];
  const monthStart = localMonthStart(zone, now);
  const local = new Date(monthStart + zoneOffsetMinutes(zone, monthStart) * 60_000);
  const intoPeriod = local.getUTCMonth() % n;
  const end = addLocalMonths(zone, monthStart, -intoPeriod);
  return { start: addLocalMonths(zone, end, -n), end };
}

/** $1, $2, … as the spec names them, from kuzet's clock. */
export function sqlParams(spec: SqlSpec, now: number): string[] {
  const period = spec.period ? lastFinishedPeriod(spec.period, now, spec.zone) : undefined;
  return (spec.params ?? []).map((p) => {
    if (p === 'now') return new Date(now).toISOString();
    if (!period) throw new Error(`parameter ${p} needs sql.period`);
    return new Date(p === 'period_start' ? period.start : period.end).toISOString();
  });
}

/** An account name as a report may show it: first and last character. */
export const maskName = (s: string): string => (s.length <= 2 ? '*'.repeat(s.length) : `${s[0]}${'*'.repeat(Math.min(s.length - 2, 6))}${s.at(-1)}`);

export function postgresProbe(name: string, spec: PostgresSpec, deps: DbDeps): Probe {
  return dbProbe(name, 'postgres', { ...spec, query: spec.query ?? 'SELECT 1' }, deps);
}

export function sqlProbe(name: string, spec: SqlSpec, deps: DbDeps): Probe {
  return dbProbe(name, 'sql', spec, deps);
}

function dbProbe(name: string, kind: 'postgres' | 'sql', spec: SqlSpec, deps: DbDeps): Probe {
  let target: URL;
  try {
    target = new URL(spec.url);
  } catch {
    target = new URL('postgres://invalid');
  }
  const budget = spec.latency_budget ? parseDuration(spec.latency_budget) : undefined;
  return {
    name,
    kind,
    async run(ctx: ProbeRunContext): Promise<ProbeResult> {
      const startedAt = deps.clock.now();
      const t0 = performance.now();
      let phase = 'connecting to';
      const client = new pg.Client({
        ...connectionOf(target),
        password: spec.password,
        connectionTimeoutMillis: ctx.timeoutMs,
        statement_timeout: ctx.timeoutMs,
        query_timeout: ctx.timeoutMs,
        application_name: 'kuzet-probe',
      });
      client.on('error', () => {}); // a late socket error after the run must not crash the process
      const onAbort = () => (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        await client.connect();
        phase = 'querying';
        const q0 = performance.now();
        const values = spec.params?.length ? sqlParams(spec, startedAt) : undefined;
        const res = await client.query(spec.query, values);
        const queryMs = ms(q0);
        const assertions: AssertionOutcome[] = [{ name: `connect ${target.host}`, ok: true }, { name: 'query ran', ok: true, actual: `${res.rowCount ?? res.rows.length} rows in ${queryMs} ms` }];
        if (budget !== undefined) assertions.push({ name: `query time <= ${spec.latency_budget}`, ok: queryMs <= budget, actual: `${queryMs} ms` });
        if (spec.rows) {
          assertions.push({ name: `rows ${spec.rows.op} ${spec.rows.value}`, ok: compare(res.rows.length, spec.rows.op, spec.rows.value), actual: `${res.rows.length} rows` });
        }
        const row = res.rows[0] as Record<string, unknown> | undefined;
        for (const c of spec.expect ?? []) {
          const has = row !== undefined && Object.hasOwn(row, c.column);
          const v = has ? row[c.column] : undefined;
          assertions.push({
            name: `${c.column} ${c.op} ${JSON.stringify(c.value)}`,
            ok: has && compare(v, c.op, c.value),
            actual: !row ? 'no rows' : has ? JSON.stringify(v instanceof Date ? v.toISOString() : v) : `no column "${c.column}"`,
          });
        }
        const bad = assertions.find((a) => !a.ok);
        let reason = bad && `${bad.name} failed: ${bad.actual}`;
        if (bad && spec.report_column) {
          const names = (res.rows as Array<Record<string, unknown>>).map((r) => maskName(String(r[spec.report_column!] ?? '')));
          reason += `: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ` and ${names.length - 20} more` : ''}`;
        }
        return { ok: !bad, reason, startedAt, durationMs: ms(t0), assertions };
      } catch (err) {
        const why = ctx.signal.aborted
          ? `timed out after ${ctx.timeoutMs} ms ${phase} ${target.host}`
          : (err as { code?: string }).code && /^[0-9A-Z]{5}$/.test((err as { code: string }).code)
            ? `PostgreSQL error ${(err as { code: string }).code}: ${(err as Error).message}`
            : /timeout/i.test((err as Error).message)
              ? `timed out after ${ctx.timeoutMs} ms ${phase} ${target.host}`
              : networkReason(err, target);
        return { ok: false, reason: why, startedAt, durationMs: ms(t0), assertions: [] };
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        await Promise.race([client.end().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
      }
    },
  };
}

/**
 * Connection fields from the URL. Not `connectionString`: pg lets the URL's (absent) password override
 * the `password` option. sslmode: disable (default), require (encrypt, do not verify), verify-full.
 */
function connectionOf(u: URL): pg.ClientConfig {
  const mode = u.searchParams.get('sslmode') ?? 'disable';
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.slice(1)) || undefined,
    user: decodeURIComponent(u.username) || undefined,
    ssl: mode === 'disable' ? false : mode === 'require' || mode === 'prefer' ? { rejectUnauthorized: false } : { rejectUnauthorized: true },
  };
}
