import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// kuzet's own metrics on one registry per app (tests run several apps in one process).

export interface CoreMetrics {
  registry: Registry;
  signals: Counter<'source'>;
  incidentsOpen: Gauge<'system' | 'severity'>;
  incidentDuration: Histogram;
  httpErrors: Counter<'code'>;
}

export function createMetrics(openCounts: () => Promise<Array<{ system: string; severity: string; n: number }>>): CoreMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const signals = new Counter({ name: 'kuzet_signals_total', help: 'Signals accepted into the ledger, by source', labelNames: ['source'], registers: [registry] });
  const incidentsOpen = new Gauge({
    name: 'kuzet_incidents_open',
    help: 'Unresolved incidents by system and severity',
    labelNames: ['system', 'severity'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const r of await openCounts()) this.set({ system: r.system, severity: r.severity }, r.n);
      } catch {
        // the store is unreachable: /readyz says so; the gauge stays empty rather than failing the scrape
      }
    },
  });
  const incidentDuration = new Histogram({
    name: 'kuzet_incident_duration_seconds',
    help: 'Time from opening to resolution of incidents',
    buckets: [60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200, 604800],
    registers: [registry],
  });
  // Event-loop lag since the previous scrape (its own histogram: prom-client's default lag metrics reset theirs).
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  new Gauge({
    name: 'kuzet_event_loop_lag_seconds',
    help: 'Event-loop delay since the previous scrape: p50, p99 and max (quantile="1")',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      const q = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
      this.set({ quantile: '0.5' }, q(lag.percentile(50)));
      this.set({ quantile: '0.99' }, q(lag.percentile(99)));
      this.set({ quantile: '1' }, q(lag.max));
      lag.reset();
    },
  });
  const httpErrors = new Counter({ name: 'kuzet_http_errors_total', help: 'HTTP requests refused, by error code', labelNames: ['code'], registers: [registry] });
  return { registry, signals, incidentsOpen, incidentDuration, httpErrors };
}
