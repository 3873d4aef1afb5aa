import { RE2JS } from 're2js';
import { parseDuration } from '../clock.ts';
import type { IncidentEngine } from '../incidents/engine.ts';
import type { Signal } from '../signals/signal.ts';
import type { Queryable } from '../store/store.ts';
import type { RequestsConfig } from './config.ts';
import type { ReceivedRequest } from './service.ts';

// A user report is a source of failure (REQUIREMENTS §2.1), not only a letter with a legal clock. At intake, in the
// request's own transaction: a report on a system with an open incident joins it; otherwise, when `threshold`
// trouble reports on that system arrived within `window` (or one report in a critical category), a signal of
// source `user` opens the system's user-reports incident at once, and every report of the window is linked to it.
// When any incident of a system opens, the reports filed within `window` before it are linked to it too.
// The request's legal clock is untouched: its warnings stay on the request's own timers.

export const userReportsFingerprint = (system: string) => `user-reports:${system}`;

interface Compiled {
  windowMs: number;
  threshold: number;
  criticalThreshold: number;
  categories: Array<{ name: string; re: RE2JS }>;
}

function compile(c: RequestsConfig['user_reports']): Compiled {
  return {
    windowMs: parseDuration(c.window) ?? 15 * 60_000,
    threshold: c.threshold,
    criticalThreshold: c.critical_threshold,
    categories: c.critical_categories.map((x) => ({ name: x.name, re: RE2JS.compile(x.pattern, RE2JS.CASE_INSENSITIVE) })),
  };
}

/** Problems of the section's patterns, for the config check. */
export function userReportsProblems(c: RequestsConfig['user_reports']): string[] {
  const out: string[] = [];
  c.critical_categories.forEach((x, i) => {
    try {
      RE2JS.compile(x.pattern);
    } catch (err) {
      out.push(`requests.user_reports.critical_categories[${i}].pattern: not an RE2 pattern: ${(err as Error).message}`);
    }
  });
  return out;
}

export interface UserReports {
  onReceived(q: Queryable, r: ReceivedRequest): Promise<void>;
}

export function wireUserReports(engine: IncidentEngine, config: () => RequestsConfig, clock: { now(): number }): UserReports {
  let cached: { from: RequestsConfig['user_reports']; c: Compiled } | undefined;
  const rules = () => {
    const cur = config().user_reports;
    if (cached?.from !== cur) cached = { from: cur, c: compile(cur) };
    return cached.c;
  };

  const linkRecent = async (q: Queryable, system: string, incidentId: number, now: number, windowMs: number) => {
    await q.query(
      `UPDATE requests SET incident_id = $1 WHERE system = $2 AND kind = 'trouble' AND incident_id IS NULL
         AND status IN ('received', 'acknowledged', 'in_progress') AND received_at >= $3`,
      [incidentId, system, new Date(now - windowMs).toISOString()],
    );
  };

  // Reports filed shortly before an incident of their system opens are linked to it when it opens: one statement for
  // the whole batch, and none when nothing opened (the first incident of a system in the batch takes its reports).
  engine.onChanges(async (q, changes) => {
    const opened = new Map<string, number>();
    for (const ch of changes) {
      if (ch.event.kind !== 'opened' && ch.event.kind !== 'reopened') continue;
      if (ch.incident.id <= 0 || opened.has(ch.incident.system)) continue;
      opened.set(ch.incident.system, ch.incident.id);
    }
    if (!opened.size) return;
    await q.query(
      `UPDATE requests AS r SET incident_id = x.incident_id
         FROM jsonb_to_recordset($1::jsonb) AS x(system text, incident_id bigint)
        WHERE r.system = x.system AND r.kind = 'trouble' AND r.incident_id IS NULL
          AND r.status IN ('received', 'acknowledged', 'in_progress') AND r.received_at >= $2`,
      [JSON.stringify([...opened].map(([system, incident_id]) => ({ system, incident_id }))), new Date(clock.now() - rules().windowMs).toISOString()],
    );
  });

  return {
    async onReceived(q, r) {
      if (r.kind !== 'trouble' || r.incidentId !== null) return; // joined an open incident already
      const c = rules();
      const text = `${r.subject}\n${r.body}`;
      const category = c.categories.find((x) => x.re.matcher(text).find())?.name;
      const since = new Date(r.receivedAt - c.windowMs).toISOString();
      const n = Number((await q.query<{ n: string }>(
        `SELECT count(*) AS n FROM requests WHERE system = $1 AND kind = 'trouble' AND received_at >= $2`, [r.system, since],
      )).rows[0]?.n ?? 0);
      const needed = category ? c.criticalThreshold : c.threshold;
      if (n < needed) return;
      const minutes = Math.round(c.windowMs / 60_000);
      const signal: Signal = {
        source: 'user',
        system: r.system,
        check: 'user-reports',
        fingerprint: userReportsFingerprint(r.system),
        severity: category ? 'critical' : 'major',
        status: 'firing',
        summary: category
          ? `User report ${r.number} on ${r.system}: ${category}`
          : `${n} user reports on ${r.system} within ${minutes} minutes`,
        labels: { runbook: 'portal-unavailable', reports: String(n), ...(category ? { category } : {}), request: r.number },
        payload: { request_id: r.id, reports_in_window: n, window_minutes: minutes },
        observedAt: r.receivedAt,
      };
      const [outcome] = await engine.applyInTx(q, [signal]);
      if (outcome?.incidentId) await linkRecent(q, r.system, outcome.incidentId, r.receivedAt, c.windowMs);
    },
  };
}
