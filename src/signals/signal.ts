import { createHash } from 'node:crypto';

// The one record shape every source emits (DESIGN.md). A source knows nothing about incidents.

export const SEVERITIES = ['info', 'warning', 'minor', 'major', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type SignalStatus = 'firing' | 'resolved';
export const SOURCES = ['user', 'staff', 'probe', 'log', 'soc', 'alertmanager', 'backup', 'check'] as const;
export type SourceKind = (typeof SOURCES)[number];

export interface Signal {
  source: SourceKind;
  system: string;
  check: string;
  /** Identity of the failing thing; signals with the same fingerprint belong to one incident. */
  fingerprint: string;
  severity: Severity;
  status: SignalStatus;
  summary: string;
  labels: Record<string, string>;
  payload: Record<string, unknown>;
  /** When the source saw it (ms since epoch). */
  observedAt: number;
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, minor: 2, major: 3, critical: 4 };
export const severityRank = (s: Severity): number => RANK[s];
export const higherSeverity = (a: Severity, b: Severity): Severity => (RANK[b] > RANK[a] ? b : a);

const ALIASES: Record<string, Severity> = {
  info: 'info', informational: 'info', none: 'info', low: 'minor', warning: 'warning', warn: 'warning',
  minor: 'minor', medium: 'minor', moderate: 'minor', major: 'major', high: 'major', error: 'major',
  critical: 'critical', crit: 'critical', page: 'critical', emergency: 'critical', fatal: 'critical',
};

/** Map the many spellings sources use (SOC "high", Prometheus "page") onto kuzet's five levels. */
export function normalizeSeverity(text: string | undefined, fallback: Severity = 'warning'): Severity {
  if (!text) return fallback;
  return ALIASES[text.trim().toLowerCase()] ?? fallback;
}

/** A stable fingerprint from the parts that identify a failing thing. */
export function fingerprintOf(parts: Record<string, string>): string {
  const keys = Object.keys(parts).sort();
  const h = createHash('sha256');
  for (const k of keys) h.update(k).update('\u0000').update(parts[k]!).update('\u0001');
  return h.digest('hex').slice(0, 32);
}

/** Hash of what makes two signals "the same": a repeat with an equal hash is folded in the ledger. */
export function contentHash(s: Signal): string {
  return createHash('sha256').update(stableJson([s.status, s.severity, s.summary, s.labels, s.payload])).digest('hex').slice(0, 32);
}

export function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
}

export const LIMITS = { text: 256, summary: 4096, labels: 64, labelValue: 1024, payloadBytes: 64 * 1024 } as const;

/** Check a signal built by a source; returns a list of problems (empty when valid). */
export function signalProblems(s: Signal): string[] {
  const p: string[] = [];
  const short = (name: string, v: unknown) => {
    if (typeof v !== 'string' || v.length === 0) p.push(`${name}: expected a non-empty string`);
    else if (v.length > LIMITS.text) p.push(`${name}: longer than ${LIMITS.text} characters`);
  };
  if (!(SOURCES as readonly string[]).includes(s.source)) p.push(`source: expected one of ${SOURCES.join(', ')}`);
  short('system', s.system);
  short('check', s.check);
  short('fingerprint', s.fingerprint);
  if (!(SEVERITIES as readonly string[]).includes(s.severity)) p.push(`severity: expected one of ${SEVERITIES.join(', ')}`);
  if (s.status !== 'firing' && s.status !== 'resolved') p.push('status: expected firing or resolved');
  if (typeof s.summary !== 'string') p.push('summary: expected a string');
  else if (s.summary.length > LIMITS.summary) p.push(`summary: longer than ${LIMITS.summary} characters`);
  const labels = Object.entries(s.labels ?? {});
  if (labels.length > LIMITS.labels) p.push(`labels: more than ${LIMITS.labels} labels`);
  for (const [k, v] of labels) {
    if (typeof v !== 'string') p.push(`labels.${k}: expected a string`);
    else if (v.length > LIMITS.labelValue) p.push(`labels.${k}: longer than ${LIMITS.labelValue} characters`);
  }
  if (JSON.stringify(s.payload ?? {}).length > LIMITS.payloadBytes) p.push(`payload: larger than ${LIMITS.payloadBytes} bytes`);
  if (!Number.isFinite(s.observedAt)) p.push('observed_at: expected a time');
  return p;
}
