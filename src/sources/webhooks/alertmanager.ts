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
