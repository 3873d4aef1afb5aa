import { fingerprintOf, normalizeSeverity, type Signal } from '../../signals/signal.ts';

// The SOC's alert, as the documented webhook schema defines it, and its mapping onto a signal.

export const socAlertSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'rule', 'severity', 'status', 'summary', 'observed_at'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 200, description: 'unique per delivery; a repeated id is accepted once' },
    rule: { type: 'string', minLength: 1, maxLength: 200, description: 'the detection rule; with asset/system it identifies the incident' },
    severity: { type: 'string', enum: ['info', 'low', 'medium', 'high', 'critical'] },
    status: { type: 'string', enum: ['firing', 'resolved'] },
    asset: { type: 'string', maxLength: 256 },
    system: { type: 'string', maxLength: 64 },
    summary: { type: 'string', minLength: 1, maxLength: 4000 },
    details: { type: 'object', maxProperties: 100 },
    observed_at: { type: 'string', format: 'date-time' },
  },
} as const;

export const socBodySchema = {
  oneOf: [socAlertSchema, { type: 'array', minItems: 1, maxItems: 1000, items: socAlertSchema }],
};

export interface SocAlert {
  id: string;
  rule: string;
  severity: 'info' | 'low' | 'medium' | 'high' | 'critical';
  status: 'firing' | 'resolved';
  asset?: string;
  system?: string;
  summary: string;
  details?: Record<string, unknown>;
  observed_at: string;
}

export function socToSignal(source: string, a: SocAlert, defaultSystem: string): Signal {
  const system = a.system || defaultSystem;
  return {
    source: 'soc',
    system,
    check: a.rule,
    fingerprint: fingerprintOf({ kind: 'soc', source, rule: a.rule, target: a.asset ?? system }),
    severity: normalizeSeverity(a.severity, 'major'),
    status: a.status,
    summary: a.summary,
    labels: { soc_source: source, rule: a.rule, ...(a.asset ? { asset: a.asset } : {}), runbook: 'soc-alert' },
    payload: a.details ? { details: a.details } : {},
    observedAt: Date.parse(a.observed_at),
  };
}
