import { fingerprintOf, normalizeSeverity, type Signal } from '../../signals/signal.ts';

// The SOC's alert, as the documented webhook schema defines it, and its mapping onto a signal. A SIEM adds
// fields without notice: a field the schema does not name is kept in `details` instead of refusing the alert.

export const socAlertSchema = {
  type: 'object',
  maxProperties: 200,
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

const KNOWN = new Set(Object.keys(socAlertSchema.properties));

/** `details` with every field the schema does not name added to it; one that collides with a details key keeps the details' value and is stored as `field:<name>`. */
export function detailsOf(a: SocAlert): Record<string, unknown> | undefined {
  let details: Record<string, unknown> | undefined = a.details ? { ...a.details } : undefined;
  for (const [k, v] of Object.entries(a)) {
    if (KNOWN.has(k)) continue;
    details ??= {};
    // defineProperty: a field named "__proto__" stays a plain field.
    Object.defineProperty(details, Object.hasOwn(details, k) ? `field:${k}` : k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return details;
}

export function socToSignal(source: string, a: SocAlert, defaultSystem: string): Signal {
  const system = a.system || defaultSystem;
  const details = detailsOf(a);
  return {
    source: 'soc',
    system,
    check: a.rule,
    fingerprint: fingerprintOf({ kind: 'soc', source, rule: a.rule, target: a.asset ?? system }),
    severity: normalizeSeverity(a.severity, 'major'),
    status: a.status,
    summary: a.summary,
    labels: { soc_source: source, rule: a.rule, ...(a.asset ? { asset: a.asset } : {}), runbook: 'soc-alert' },
    payload: details ? { details } : {},
    observedAt: Date.parse(a.observed_at),
  };
}
