import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/store.ts';

// Request metrics on the given registry (never the global one). The gauges are read from the store at scrape time;
// a failed read leaves them unchanged rather than failing the scrape.

export interface RequestMetrics {
  received(form: string, channel: string): void;
  refused(reason: string): void;
}

export function registerRequestMetrics(registry: Registry, deps: { store: Store; clock: Clock }): RequestMetrics {
  const received = new Counter({
    name: 'kuzet_requests_received_total', help: 'Requests taken in, by form and channel.', labelNames: ['form', 'channel'] as const, registers: [registry],
  });
  const refused = new Counter({
    name: 'kuzet_requests_refused_total', help: 'Intake attempts refused, by reason.', labelNames: ['reason'] as const, registers: [registry],
  });
  const open = new Gauge({
    name: 'kuzet_requests_open', help: 'Open requests (received, acknowledged, in progress), by form and whether past due.',
    labelNames: ['form', 'overdue'] as const, registers: [registry],
    async collect() {
      try {
        const r = await deps.store.query<{ form: string; overdue: boolean; n: number }>(
          `SELECT form, due_at < $1::timestamptz AS overdue, count(*)::int AS n FROM requests
           WHERE status IN ('received', 'acknowledged', 'in_progress') GROUP BY 1, 2`, [new Date(deps.clock.now()).toISOString()]);
        this.reset();
        for (const row of r.rows) this.set({ form: row.form, overdue: String(row.overdue) }, Number(row.n));
      } catch {
        // the store is down: /metrics still answers, and kuzet's own store probe reports the outage
      }
    },
  });
  void open;
  return {
    received: (form, channel) => received.inc({ form, channel }),
    refused: (reason) => refused.inc({ reason }),
  };
}
