import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// Probe metrics on the given registry (never the global one).
// kuzet_probe_duration_seconds is labelled by system and kind, not by probe: with thousands of probes a
// per-probe histogram would be a hundred thousand series; per-probe latency lives in the store's roll-ups.

export interface ProbeMetrics {
  up: Gauge<'probe' | 'system'>;
  duration: Histogram<'system' | 'kind'>;
  results: Counter<'system' | 'kind' | 'outcome'>;
  lateness: Histogram<never>;
  skipped: Counter<never>;
  dropped: Gauge<never>;
}

export function probeMetrics(registry: Registry): ProbeMetrics {
  const existing = registry.getSingleMetric('kuzet_probe_up');
  if (existing) return (registry as unknown as { __kuzetProbeMetrics: ProbeMetrics }).__kuzetProbeMetrics;
  const m: ProbeMetrics = {
    up: new Gauge({ name: 'kuzet_probe_up', help: 'Whether the last run of the probe succeeded (1) or failed (0)', labelNames: ['probe', 'system'], registers: [registry] }),
    duration: new Histogram({
      name: 'kuzet_probe_duration_seconds',
      help: 'Duration of probe runs',
      labelNames: ['system', 'kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    results: new Counter({ name: 'kuzet_probe_results_total', help: 'Probe results by outcome', labelNames: ['system', 'kind', 'outcome'], registers: [registry] }),
    lateness: new Histogram({
      name: 'kuzet_probe_start_lateness_seconds',
      help: 'How late probe runs start after their due time',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    skipped: new Counter({ name: 'kuzet_probe_skipped_total', help: 'Probe runs skipped because the previous run was still going', registers: [registry] }),
    dropped: new Gauge({ name: 'kuzet_probe_results_dropped', help: 'Probe results dropped because the store could not keep up', registers: [registry] }),
  };
  (registry as unknown as { __kuzetProbeMetrics: ProbeMetrics }).__kuzetProbeMetrics = m;
  return m;
}
