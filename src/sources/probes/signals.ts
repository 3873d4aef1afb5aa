// How a probe's confirmed change becomes the one Signal shape (the only file here that builds signals).
import { fingerprintOf, type Signal } from '../../signals/signal.ts';
import type { SignalSink } from '../../signals/sink.ts';
import type { ProbeResult, ProbeSeverity } from './types.ts';
import type { ResolvedProbe } from './validate.ts';

export type { Signal, SignalSink };

const clip = (s: string | undefined, n: number) => (s && s.length > n ? `${s.slice(0, n)}…` : s);

/** The fingerprint of a probe's signals: one incident per probe. */
export const probeFingerprint = (name: string) => fingerprintOf({ source: 'probe', probe: name });

/**
 * The signal for a confirmed change of a probe. In a maintenance window it carries
 * labels.maintenance = "true" (and the window's name): recorded, not paged.
 */
export function buildSignal(p: ResolvedProbe, status: 'firing' | 'resolved', r: ProbeResult, windowName: string | undefined, severity?: ProbeSeverity): Signal {
  const labels: Record<string, string> = { ...p.labels, probe: p.name, kind: p.kind };
  if (windowName !== undefined) {
    labels.maintenance = 'true';
    labels.maintenance_window = clip(windowName, 200)!;
  }
  const failed = r.assertions.filter((a) => !a.ok).slice(0, 20);
  return {
    source: 'probe',
    system: p.system,
    check: p.name,
    fingerprint: probeFingerprint(p.name),
    severity: severity ?? r.severity ?? p.severity,
    status,
    summary: status === 'firing' ? clip(`${p.name}: ${r.reason ?? 'failing'}`, 4000)! : `${p.name}: recovered${r.reason ? ` (${r.reason})` : ''}`,
    labels,
    payload: {
      reason: clip(r.reason, 2000),
      duration_ms: r.durationMs,
      attempts: r.attempts ?? 1,
      failed_assertions: failed.map((a) => ({ name: clip(a.name, 300), actual: clip(a.actual, 300) })),
      steps: r.steps?.slice(0, 20).map((s) => ({ name: clip(s.name, 200), ok: s.ok, duration_ms: s.durationMs, reason: clip(s.reason, 500) })),
      confirm: { failures: p.confirm.failures, of: p.confirm.of, recover: p.recoverSuccesses },
    },
    observedAt: r.startedAt,
  };
}

/** A resolved signal for a probe that no longer exists (removed from the files while kuzet was stopped). */
export function orphanResolved(name: string, system: string, now: number): Signal {
  return {
    source: 'probe',
    system,
    check: name,
    fingerprint: probeFingerprint(name),
    severity: 'info',
    status: 'resolved',
    summary: `${name}: recovered (probe removed from the configuration)`,
    labels: { probe: name },
    payload: { reason: 'probe removed from the configuration' },
    observedAt: now,
  };
}
