import type { Severity } from '../signals/signal.ts';
import type { IncidentState, IncidentStatus } from './lifecycle.ts';

// Mapping between incident rows in the store and IncidentState in memory.

export interface IncidentRow {
  id: number;
  fingerprint: string;
  source: string;
  system: string;
  check_name: string;
  title: string;
  severity: Severity;
  status: IncidentStatus;
  labels: Record<string, string>;
  flapping: boolean;
  flips: number[];
  opened_at: Date | string;
  acknowledged_at: Date | string | null;
  acknowledged_by: string | null;
  resolved_at: Date | string | null;
  resolved_by: string | null;
  reopen_count: number;
  signal_count: number;
  last_signal_at: Date | string;
  head_signal_id: number | null;
  head_hash: string | null;
  updated_at: Date | string;
}

const ms = (v: Date | string): number => new Date(v).getTime();
const msOrNull = (v: Date | string | null): number | null => (v === null ? null : ms(v));
export const iso = (v: number | null): string | null => (v === null ? null : new Date(v).toISOString());

export function rowToState(r: IncidentRow): IncidentState {
  return {
    id: Number(r.id),
    isNew: false,
    fingerprint: r.fingerprint,
    source: r.source,
    system: r.system,
    check: r.check_name,
    title: r.title,
    severity: r.severity,
    status: r.status,
    labels: r.labels ?? {},
    flapping: r.flapping,
    flips: Array.isArray(r.flips) ? r.flips.map(Number) : [],
    openedAt: ms(r.opened_at),
    acknowledgedAt: msOrNull(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by,
    resolvedAt: msOrNull(r.resolved_at),
    resolvedBy: r.resolved_by,
    reopenCount: Number(r.reopen_count),
    signalCount: Number(r.signal_count),
    lastSignalAt: ms(r.last_signal_at),
    headSignalId: r.head_signal_id === null ? null : Number(r.head_signal_id),
    headHash: r.head_hash,
    updatedAt: ms(r.updated_at),
  };
}

/** The record written by jsonb_to_recordset in the engine's batch statements. */
export function stateToRecord(s: IncidentState): Record<string, unknown> {
  return {
    id: s.id,
    fingerprint: s.fingerprint,
    source: s.source,
    system: s.system,
    check_name: s.check,
    title: s.title,
    severity: s.severity,
    status: s.status,
    labels: s.labels,
    flapping: s.flapping,
    flips: s.flips,
    opened_at: iso(s.openedAt),
    acknowledged_at: iso(s.acknowledgedAt),
    acknowledged_by: s.acknowledgedBy,
    resolved_at: iso(s.resolvedAt),
    resolved_by: s.resolvedBy,
    reopen_count: s.reopenCount,
    signal_count: s.signalCount,
    last_signal_at: iso(s.lastSignalAt),
    head_signal_id: s.headSignalId,
    head_hash: s.headHash,
    updated_at: iso(s.updatedAt),
  };
}

export const INCIDENT_RECORD_TYPE = `x(id bigint, fingerprint text, source text, system text, check_name text, title text,
  severity text, status text, labels jsonb, flapping boolean, flips jsonb, opened_at timestamptz,
  acknowledged_at timestamptz, acknowledged_by text, resolved_at timestamptz, resolved_by text, reopen_count integer,
  signal_count bigint, last_signal_at timestamptz, head_signal_id bigint, head_hash text, updated_at timestamptz)`;

export const INCIDENT_COLUMNS = `id, fingerprint, source, system, check_name, title, severity, status, labels, flapping, flips,
  opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, reopen_count, signal_count, last_signal_at,
  head_signal_id, head_hash, updated_at`;

/** The public (API) shape of an incident. */
export function toPublic(s: IncidentState) {
  return {
    id: s.id,
    fingerprint: s.fingerprint,
    source: s.source,
    system: s.system,
    check: s.check,
    title: s.title,
    severity: s.severity,
    status: s.status,
    labels: s.labels,
    flapping: s.flapping,
    opened_at: iso(s.openedAt),
    acknowledged_at: iso(s.acknowledgedAt),
    acknowledged_by: s.acknowledgedBy,
    resolved_at: iso(s.resolvedAt),
    resolved_by: s.resolvedBy,
    reopen_count: s.reopenCount,
    signal_count: s.signalCount,
    last_signal_at: iso(s.lastSignalAt),
  };
}
export type PublicIncident = ReturnType<typeof toPublic>;
