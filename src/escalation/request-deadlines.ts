import type { IncidentEngine } from '../incidents/engine.ts';
import { formatLocalShort } from '../requests/calendar.ts';
import type { DeadlineChange } from '../requests/service.ts';
import type { Severity, Signal } from '../signals/signal.ts';
import type { Queryable } from '../store/store.ts';
import type { Escalator } from './escalator.ts';
import { cancelTimers, scheduleTimers, type TimerRow } from './timers.ts';

// User requests run on the same escalation engine as incidents: each deadline's warnings (50 %, 75 % of the
// time) and its breach are durable timers; when one fires for a request still open, it becomes a signal on the
// request's own fingerprint, so the incident engine, the SLA policies, paging, acknowledgement and the
// runbooks treat an overdue answer like any other failure. Answering the request resolves it. Everything
// happens inside the transaction that made the decision (the request change, or the timer sweep).

export const REQUEST_TIMER = 'request_deadline';

interface Payload {
  number: string;
  system: string;
  form: string;
  kind: 'trouble' | 'access';
  fraction: number;
  dueAt: number;
}

const severityFor = (fraction: number): Severity => (fraction >= 1 ? 'critical' : fraction >= 0.75 ? 'major' : 'warning');
const fingerprintFor = (requestId: number) => `request:${requestId}`;

function deadlineSignal(requestId: number, p: Payload, now: number): Signal {
  const breach = p.fraction >= 1;
  const due = formatLocalShort(p.dueAt);
  return {
    source: 'user',
    system: p.system,
    check: 'request-deadline',
    fingerprint: fingerprintFor(requestId),
    severity: severityFor(p.fraction),
    status: 'firing',
    summary: breach
      ? `Request ${p.number} (${p.form}) missed its deadline ${due}`
      : `Request ${p.number} (${p.form}) is due ${due}: ${Math.round(p.fraction * 100)}% of the time used`,
    labels: { request: p.number, form: p.form, request_kind: p.kind, deadline: breach ? 'breach' : 'warning', runbook: 'request-deadline' },
    payload: { request_id: requestId, due_at: new Date(p.dueAt).toISOString(), fraction: p.fraction },
    observedAt: now,
  };
}

export interface RequestDeadlines {
  /** RequestService.onDeadline: (re)schedule the warnings and the breach, or stand down when answered. */
  onDeadline(q: Queryable, change: DeadlineChange): Promise<void>;
}

export function wireRequestDeadlines(
  escalator: Escalator,
  engine: IncidentEngine,
  clock: { now(): number },
  calendar?: () => { nextWorkingMoment(at: number): number },
): RequestDeadlines {
  escalator.registerTimerHandler(REQUEST_TIMER, async (q: Queryable, timer: TimerRow, now: number) => {
    const p = timer.payload as unknown as Payload;
    const r = await q.query<{ status: string; due_at: Date | string | null }>('SELECT status, due_at FROM requests WHERE id = $1', [timer.subjectId]);
    const row = r.rows[0];
    // Answered, closed, or moved (an extension re-schedules with a new version): nothing to say.
    if (!row || !['received', 'acknowledged', 'in_progress'].includes(row.status)) return;
    if (row.due_at === null || new Date(row.due_at).getTime() !== p.dueAt) return;
    // A warning that falls outside working hours reaches its owner at the start of the next working day (09:00),
    // unless the deadline comes first: then it is said now, while it can still help.
    if (p.fraction < 1 && calendar) {
      const at = calendar().nextWorkingMoment(now);
      if (at > now && at < p.dueAt) {
        await scheduleTimers(q, [{
          subjectKind: 'request', subjectId: timer.subjectId, kind: REQUEST_TIMER, dueAt: at,
          payload: { ...p, deferred: true } as unknown as Record<string, unknown>,
          dedupKey: `request:${timer.subjectId}:due${p.dueAt}:${p.fraction}:deferred`,
        }], now);
        return;
      }
    }
    await engine.applyInTx(q, [deadlineSignal(timer.subjectId, p, now)]);
  }, 'request');

  return {
    async onDeadline(q, c) {
      const now = clock.now();
      await cancelTimers(q, 'request', c.requestId, [REQUEST_TIMER]);
      const base = { number: c.number, system: c.system, form: c.form, kind: c.kind };
      if (c.dueAt === null) {
        const open = await q.query(`SELECT 1 FROM incidents WHERE fingerprint = $1 AND status <> 'resolved'`, [fingerprintFor(c.requestId)]);
        if (open.rows.length) {
          const s = deadlineSignal(c.requestId, { ...base, fraction: 0, dueAt: now }, now);
          await engine.applyInTx(q, [{ ...s, status: 'resolved', summary: `Request ${c.number} was answered` }]);
        }
        return;
      }
      const dueAt = c.dueAt;
      await scheduleTimers(
        q,
        [...c.warnAt.map((w) => ({ at: w.at, fraction: w.fraction })), { at: dueAt, fraction: 1 }]
          .filter((w) => w.at > now || w.fraction >= 1)
          .map((w) => ({
            subjectKind: 'request',
            subjectId: c.requestId,
            kind: REQUEST_TIMER,
            dueAt: w.at,
            payload: { ...base, fraction: w.fraction, dueAt } satisfies Payload,
            dedupKey: `request:${c.requestId}:v${c.version}:${w.fraction}`,
          })),
        now,
      );
    },
  };
}
