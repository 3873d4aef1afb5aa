import { createHash } from 'node:crypto';
import type { ReportKind } from './config.ts';
import type { Period } from './period.ts';

// What every report is, whatever the format: its period, the calendar facts it used, the version, a SHA-256
// of its data, summary figures, tables (one row per system or item) and bar charts. The renderers only lay
// this out; nothing is computed there.

export type Cell = string | number | boolean | null;

export interface Column {
  /** Stable key: the CSV header and the JSON field. Its label comes from i18n (falls back to the key). */
  key: string;
  /** How to show a number: a percentage with 3 decimals, minutes with 1, a local time, … */
  type?: 'text' | 'int' | 'pct' | 'min' | 'ms' | 'time' | 'bool' | 'hours';
}

export interface Table {
  id: string;
  columns: Column[];
  rows: Record<string, Cell>[];
}

export interface BarChart {
  id: string;
  /** Title as data: a system id or a label key. */
  title: string;
  /** 0..100 (percent); `label` is a day or a name. */
  bars: { label: string; value: number | null; note?: string }[];
  /** Axis floor for availability charts (e.g. 95 %), so small losses show. */
  min?: number;
}

export interface CalendarFact {
  /** i18n key of the fact's kind ("zone", "days", "working_days", "day_off", …) */
  key: string;
  value: string;
}

export interface TextSection {
  id: string;
  /** Filled in by a person (the NQS yearly analysis); empty means "to be written". */
  text: string;
}

export interface Report {
  kind: ReportKind;
  period: { label: string; first_day: string; last_day: string; from: string; to: string; observed_to: string; days: number };
  scope: { system: string | null; exclude_maintenance: boolean };
  generated_at: string;
  kuzet_version: string;
  calendar_facts: CalendarFact[];
  /** Key figures: [label key, value, type]. */
  summary: { key: string; value: Cell; type?: Column['type'] }[];
  /** The main table first: CSV is made of it. */
  tables: Table[];
  charts: BarChart[];
  sections: TextSection[];
  /** Definitions and what the data cannot show (i18n keys or text). */
  notes: string[];
  /** SHA-256 over everything above except generated_at and this field (canonical JSON). */
  data_sha256: string;
}

export function periodJson(p: Period, observedTo: number): Report['period'] {
  return {
    label: p.label,
    first_day: p.firstDay,
    last_day: p.lastDay,
    from: new Date(p.from).toISOString(),
    to: new Date(p.to).toISOString(),
    observed_to: new Date(observedTo).toISOString(),
    days: p.days,
  };
}

/** JSON with object keys sorted at every level: the same data always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function sealReport(r: Omit<Report, 'data_sha256'>): Report {
  const { generated_at: _g, ...data } = r;
  return { ...r, data_sha256: createHash('sha256').update(canonicalJson(data)).digest('hex') };
}
