import { parseDuration } from '../clock.ts';
import type { KuzetConfig } from '../config/schema.ts';
import { higherSeverity, type Severity, type Signal } from '../signals/signal.ts';

// The incident lifecycle as one pure function: (state, signal, now) -> (state, events).
// The engine loads state, runs this for each signal in arrival order, and writes the result.

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';

export interface IncidentState {
  id: number; // negative until the store allocates one
  isNew: boolean;
  fingerprint: string;
  source: string;
  system: string;
  check: string;
  title: string;
  severity: Severity;
  status: IncidentStatus;
  labels: Record<string, string>;
  flapping: boolean;
  /** Times (ms) of recent state flips (resolve, reopen), pruned to the flapping window. */
  flips: number[];
  openedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  resolvedAt: number | null;
  resolvedBy: string | null;
  reopenCount: number;
  signalCount: number;
  lastSignalAt: number;
  headSignalId: number | null;
  headHash: string | null;
  updatedAt: number;
}

export type ChangeKind =
  | 'opened'
  | 'reopened'
  | 'severity_raised'
  | 'resolved'
  | 'acknowledged'
  | 'flapping_started'
  | 'flapping_stopped'
  | 'maintenance_ended'
  | 'note';

export interface IncidentEvent {
  kind: ChangeKind;
  at: number;
  actor: string;
  detail: Record<string, unknown>;
  /** Whether this change is worth paging for (false while flapping: repeat paging is held). */
  page: boolean;
}

export interface LifecyclePolicy {
  /** A firing signal within this long after resolution reopens the incident instead of opening a new one. */
  reopenWindowMs: number;
  /** This many flips within flapWindowMs mark the incident flapping. */
  flapFlips: number;
  flapWindowMs: number;
  /**
   * A resolve by a signal is told to the people paged only after this long (absent or 0: at once). A failure back
   * within it continues the same episode: no new page, no "resolved" message. Flapping costs one page and one
   * "resolved", whatever the number of flips.
   */
  resolvedHoldMs?: number;
}

/** The policy from the `incidents:` section of the config (durations already validated by the schema). */
export function lifecyclePolicy(incidents: KuzetConfig['incidents']): LifecyclePolicy {
  return {
    reopenWindowMs: parseDuration(incidents.reopen_window)!,
    flapFlips: incidents.flapping.flips,
    flapWindowMs: parseDuration(incidents.flapping.window)!,
    resolvedHoldMs: parseDuration(incidents.flapping.settle)!,
  };
}

export interface Transition {
  /** The incident the signal belongs to after the step (null: a resolve with nothing to resolve). */
  incident: IncidentState | null;
  /** True when `incident` is a new one replacing `prev` (prev stays as it was). */
  opened: boolean;
  events: IncidentEvent[];
}

const actorOf = (s: Signal) => `${s.source}`;

/** A signal raised inside a maintenance window is recorded, but does not page. */
const inMaintenance = (labels: Record<string, string>) => labels.maintenance === 'true';

function recordFlip(st: IncidentState, now: number, policy: LifecyclePolicy, events: IncidentEvent[], actor: string): void {
  st.flips = [...st.flips.filter((t) => t > now - policy.flapWindowMs), now];
  if (!st.flapping && policy.flapFlips > 0 && st.flips.length >= policy.flapFlips) {
    st.flapping = true;
    events.push({ kind: 'flapping_started', at: now, actor, detail: { flips: st.flips.length, window_ms: policy.flapWindowMs }, page: false });
  }
}

/** Clear the flapping mark once no flip happened for a whole window. */
export function settleFlapping(st: IncidentState, now: number, policy: LifecyclePolicy): IncidentEvent | null {
  if (!st.flapping) return null;
  const recent = st.flips.filter((t) => t > now - policy.flapWindowMs);
  if (recent.length > 0) return null;
  st.flapping = false;
  st.flips = [];
  st.updatedAt = now;
  return { kind: 'flapping_stopped', at: now, actor: 'kuzet', detail: {}, page: false };
}

export function newIncident(s: Signal, id: number, now: number): IncidentState {
  return {
    id,
    isNew: true,
    fingerprint: s.fingerprint,
    source: s.source,
    system: s.system,
    check: s.check,
    title: s.summary || `${s.system}/${s.check}`,
    severity: s.severity,
    status: 'open',
    labels: { ...s.labels },
    flapping: false,
    flips: [],
    openedAt: now,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    reopenCount: 0,
    signalCount: 0,
    lastSignalAt: now,
    headSignalId: null,
    headHash: null,
    updatedAt: now,
  };
}

/**
 * Apply one signal to the latest incident of its fingerprint (`prev`, possibly resolved or absent).
 * `prev` is mutated in place when the signal belongs to it.
 */
export function applySignal(
  prev: IncidentState | null,
  s: Signal,
  now: number,
  policy: LifecyclePolicy,
  allocateId: () => number,
): Transition {
  const events: IncidentEvent[] = [];
  const actor = actorOf(s);

  if (s.status === 'resolved') {
    if (!prev) return { incident: null, opened: false, events };
    prev.signalCount += 1;
    prev.lastSignalAt = now;
    prev.updatedAt = now;
    if (prev.status === 'resolved') return { incident: prev, opened: false, events }; // a repeated resolve is harmless
    prev.status = 'resolved';
    prev.resolvedAt = now;
    prev.resolvedBy = actor;
    const hold = policy.resolvedHoldMs ?? 0;
    // notify_after: when escalation may tell the people paged (it holds the message until then).
    events.push({ kind: 'resolved', at: now, actor, detail: { by: 'signal', summary: s.summary, ...(hold > 0 ? { notify_after: now + hold } : {}) }, page: !prev.flapping });
    recordFlip(prev, now, policy, events, actor);
    return { incident: prev, opened: false, events };
  }

  // firing
  if (prev && prev.status !== 'resolved') {
    prev.signalCount += 1;
    prev.lastSignalAt = now;
    prev.updatedAt = now;
    const raised = higherSeverity(prev.severity, s.severity);
    if (raised !== prev.severity) {
      events.push({ kind: 'severity_raised', at: now, actor, detail: { from: prev.severity, to: raised }, page: !prev.flapping && !inMaintenance(prev.labels) });
      prev.severity = raised;
    }
    if (inMaintenance(prev.labels) && !inMaintenance(s.labels)) {
      // Still failing after the window: from now on it is an ordinary incident, and it pages.
      const { maintenance: _m, maintenance_window: window, ...rest } = prev.labels;
      prev.labels = rest;
      events.push({ kind: 'maintenance_ended', at: now, actor, detail: window ? { window } : {}, page: !prev.flapping });
    }
    const settled = settleFlapping(prev, now, policy);
    if (settled) events.push(settled);
    return { incident: prev, opened: false, events };
  }

  if (prev && prev.status === 'resolved' && prev.resolvedAt !== null && now - prev.resolvedAt <= policy.reopenWindowMs) {
    prev.status = 'open';
    prev.reopenCount += 1;
    prev.resolvedAt = null;
    prev.resolvedBy = null;
    prev.acknowledgedAt = null;
    prev.acknowledgedBy = null;
    prev.signalCount += 1;
    prev.lastSignalAt = now;
    prev.updatedAt = now;
    const wasFlapping = prev.flapping;
    recordFlip(prev, now, policy, events, actor);
    prev.labels = { ...s.labels };
    events.unshift({ kind: 'reopened', at: now, actor, detail: { summary: s.summary, reopen_count: prev.reopenCount }, page: !wasFlapping && !prev.flapping && !inMaintenance(s.labels) });
    const raised = higherSeverity(prev.severity, s.severity);
    if (raised !== prev.severity) {
      events.push({ kind: 'severity_raised', at: now, actor, detail: { from: prev.severity, to: raised }, page: false });
      prev.severity = raised;
    }
    return { incident: prev, opened: false, events };
  }

  const inc = newIncident(s, allocateId(), now);
  inc.signalCount = 1;
  const maintenance = inMaintenance(s.labels);
  events.push({ kind: 'opened', at: now, actor, detail: { summary: s.summary, severity: s.severity, source: s.source, ...(maintenance ? { maintenance: true } : {}) }, page: !maintenance });
  return { incident: inc, opened: true, events };
}
