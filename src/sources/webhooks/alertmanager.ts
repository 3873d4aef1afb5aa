import { RE2JS } from 're2js';
import { fingerprintOf, normalizeSeverity, type Signal } from '../../signals/signal.ts';

// The body Prometheus (and Grafana, amtool) POSTs to an Alertmanager's /api/v2/alerts, mapped onto signals.
// endsAt in the past resolves; Go's zero time (0001-01-01T00:00:00Z, what amtool sends) means "not set".

export const postableAlertsSchema = {
  type: 'array',
  maxItems: 10_000,
  items: {
    type: 'object',
    required: ['labels'],
    properties: {
      labels: { type: 'object', minProperties: 1, maxProperties: 64, propertyNames: { pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }, additionalProperties: { type: 'string', maxLength: 1024 } },
      annotations: { type: 'object', maxProperties: 64, additionalProperties: { type: 'string', maxLength: 8192 } },
      startsAt: { type: 'string', format: 'date-time' },
      endsAt: { type: 'string', format: 'date-time' },
      generatorURL: { type: 'string', maxLength: 2048 },
    },
  },
} as const;

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

const ZERO_TIME = /^0001-01-01T00:00:00(\.0+)?Z$/;

export function alertToSignal(a: PostableAlert, nowMs: number, defaultSystem: string): Signal {
  const labels = a.labels;
  const ends = a.endsAt && !ZERO_TIME.test(a.endsAt) ? Date.parse(a.endsAt) : NaN;
  const resolved = Number.isFinite(ends) && ends <= nowMs;
  const starts = a.startsAt && !ZERO_TIME.test(a.startsAt) ? Date.parse(a.startsAt) : NaN;
  const ann = a.annotations ?? {};
  return {
    source: 'alertmanager',
    system: labels.system || labels.service || labels.job || defaultSystem,
    check: labels.alertname || 'unnamed',
    // Alertmanager's identity of an alert is its label set.
    fingerprint: fingerprintOf({ kind: 'am', ...labels }),
    severity: normalizeSeverity(labels.severity, 'warning'),
    status: resolved ? 'resolved' : 'firing',
    summary: ann.summary || ann.description || ann.message || labels.alertname || 'alert',
    labels: { ...labels },
    // endsAt is left out on purpose: Prometheus moves it forward on every re-send, and the ledger folds
    // a repeat only when nothing else changed.
    payload: { annotations: ann, ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}), ...(a.startsAt ? { startsAt: a.startsAt } : {}) },
    observedAt: resolved ? ends : Number.isFinite(starts) ? Math.min(starts, nowMs) : nowMs,
  };
}

/** Alertmanager's own identity of an alert: FNV-1a 64 over the sorted label names and values, 16 hex digits. */
export function amFingerprint(labels: Record<string, string>): string {
  // 64-bit FNV-1a in two 32-bit halves (offset basis 0xcbf29ce484222325, prime 2^40 + 0x1b3).
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  const add = (b: number) => {
    lo = (lo ^ b) >>> 0;
    const l = lo * 0x1b3;
    const h = hi * 0x1b3 + ((lo << 8) >>> 0) + Math.floor(l / 0x1_0000_0000);
    lo = l >>> 0;
    hi = h >>> 0;
  };
  for (const name of Object.keys(labels).sort()) {
    for (const b of Buffer.from(name, 'utf8')) add(b);
    add(0xff);
    for (const b of Buffer.from(labels[name]!, 'utf8')) add(b);
    add(0xff);
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** When an alert stops firing unless it is sent again: its endsAt, else `resolveTimeoutMs` after now (as Alertmanager). */
export function expiryOf(a: PostableAlert, nowMs: number, resolveTimeoutMs: number): number {
  return endOf(a) ?? nowMs + resolveTimeoutMs;
}

/** The alert's endsAt, or null when it is not set (absent, or Go's zero time). */
export function endOf(a: PostableAlert): number | null {
  const ends = a.endsAt && !ZERO_TIME.test(a.endsAt) ? Date.parse(a.endsAt) : NaN;
  return Number.isFinite(ends) ? ends : null;
}

/** When an alert began: its startsAt (never later than now), else now. */
export function startOf(a: PostableAlert, nowMs: number): number {
  const starts = a.startsAt && !ZERO_TIME.test(a.startsAt) ? Date.parse(a.startsAt) : NaN;
  return Number.isFinite(starts) ? Math.min(starts, nowMs) : nowMs;
}

/** One Alertmanager matcher, as the v2 API carries it in silences. */
export interface AmMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

const MATCHER_RE = /^\s*\{?\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*\}?\s*$/s;

/**
 * Parse a filter matcher as amtool and Grafana send it (`name="value"`, `name=~"re"`, `name!=value`, `name!~re`).
 * Returns an error text naming the problem instead of throwing.
 */
export function parseMatcher(text: string): AmMatcher | string {
  const m = MATCHER_RE.exec(text);
  if (!m) return `"${text.slice(0, 100)}" is not a matcher like name="value", name!="value", name=~"regex" or name!~"regex"`;
  let value = m[3]!;
  if (value.startsWith('"')) {
    if (value.length < 2 || !value.endsWith('"')) return `"${text.slice(0, 100)}": the quoted value is not closed`;
    try {
      value = JSON.parse(value) as string;
    } catch {
      return `"${text.slice(0, 100)}": the quoted value has a bad escape`;
    }
  }
  const op = m[2]!;
  return { name: m[1]!, value, isRegex: op.endsWith('~'), isEqual: !op.startsWith('!') };
}

/** A test of a label set against matchers (all must hold; a missing label is the empty string, as in Alertmanager). */
export function compileMatchers(ms: AmMatcher[]): ((labels: Record<string, string>) => boolean) | string {
  const tests: Array<(labels: Record<string, string>) => boolean> = [];
  for (const m of ms) {
    const want = m.isEqual !== false;
    if (m.isRegex) {
      let re: RE2JS;
      try {
        re = RE2JS.compile(m.value);
      } catch (err) {
        return `${m.name}: "${m.value.slice(0, 100)}" is not a valid RE2 regular expression (${(err as Error).message})`;
      }
      tests.push((l) => re.testExact(l[m.name] ?? '') === want);
    } else {
      tests.push((l) => ((l[m.name] ?? '') === m.value) === want);
    }
  }
  return (labels) => tests.every((t) => t(labels));
}
