import { Counter, type Registry } from 'prom-client';
import type { RuleMetrics } from './rules.ts';
import type { SyslogDropReason, SyslogMetrics } from './syslog-server.ts';
import type { TailDropReason, TailMetrics } from './tailer.ts';

// Counters of the log intake, registered on the registry the app gives (never the global one).

export type LogDropReason = TailDropReason | SyslogDropReason | 'rule_keys_full' | 'invalid_signal';

export interface LogMetrics {
  tail: TailMetrics;
  rules: RuleMetrics;
  syslog: (input: string) => SyslogMetrics;
  dropped(input: string, reason: LogDropReason, n: number): void;
}

/** A counter on `registry`, reused when an earlier intake (before a reload) registered it. */
function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function createLogMetrics(registry: Registry | undefined): LogMetrics | undefined {
  if (!registry) return undefined;
  const lines = counter(registry, 'kuzet_log_lines_read_total', 'Log lines read, by input', ['input']);
  const matched = counter(registry, 'kuzet_log_rule_matches_total', 'Log events matched, by rule', ['rule']);
  const dropped = counter(registry, 'kuzet_log_dropped_total', 'Log lines, messages or matches dropped, by input and reason', ['input', 'reason']);
  const received = counter(registry, 'kuzet_syslog_messages_received_total', 'Syslog messages received, by transport', ['transport']);
  const gaps = counter(registry, 'kuzet_log_gaps_total', 'Truncations of a log file that lost lines (written after the last read, before the truncation), by input', ['input']);
  const drop = (input: string, reason: LogDropReason, n: number) => dropped.inc({ input, reason }, n);
  return {
    tail: { linesRead: (input, n) => lines.inc({ input }, n), dropped: drop, gap: (input) => gaps.inc({ input }) },
    rules: { matched: (rule) => matched.inc({ rule }), dropped: (reason, n = 1) => drop('rules', reason, n) },
    syslog: (input) => ({
      received: (transport, n) => {
        received.inc({ transport }, n);
        lines.inc({ input }, n);
      },
      dropped: (reason, n) => drop(input, reason, n),
    }),
    dropped: drop,
  };
}
