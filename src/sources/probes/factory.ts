import type { LookupFunction } from 'node:net';
import type { Clock } from '../../clock.ts';
import type { HttpAgents } from './http-client.ts';
import { postgresProbe, sqlProbe } from './kinds/db.ts';
import { heartbeatProbe, type HeartbeatBook } from './kinds/heartbeat.ts';
import { hostProbe, type HostSampler } from './kinds/host.ts';
import { flowProbe, httpProbe } from './kinds/http.ts';
import { dnsProbe, tcpProbe, tlsProbe } from './kinds/net.ts';
import type { Probe, ProbeDefinition, ProbeResult, ProbeRunContext } from './types.ts';
import type { ResolvedProbe } from './validate.ts';

export interface ProbeDeps {
  clock: Clock;
  agents: HttpAgents;
  heartbeats: HeartbeatBook;
  /** DNS lookup for http/tcp/tls connections (tests; default: the system resolver). */
  lookup?: LookupFunction;
  hostSampler?: HostSampler;
}

/** Build the Probe for a definition. A definition that cannot be built yields a probe that always fails saying why. */
export function createProbe(def: ProbeDefinition, deps: ProbeDeps): Probe {
  try {
    switch (def.kind) {
      case 'http': return httpProbe(def.name, def.http, deps);
      case 'flow': return flowProbe(def.name, def.flow, deps);
      case 'tcp': return tcpProbe(def.name, def.tcp, deps);
      case 'tls': return tlsProbe(def.name, def.tls, deps);
      case 'dns': return dnsProbe(def.name, def.dns, deps);
      case 'postgres': return postgresProbe(def.name, def.postgres, deps);
      case 'sql': return sqlProbe(def.name, def.sql, deps);
      case 'host': return hostProbe(def.name, def.host, { clock: deps.clock, sampler: deps.hostSampler });
      case 'heartbeat': return heartbeatProbe(def.name, def.heartbeat, { clock: deps.clock, book: deps.heartbeats });
    }
  } catch (err) {
    const reason = `probe cannot be set up: ${(err as Error).message}`;
    return { name: def.name, kind: def.kind, run: async () => ({ ok: false, reason, startedAt: deps.clock.now(), durationMs: 0, assertions: [] }) };
  }
}

/**
 * Run a probe with its timeout and retries. Never rejects: a probe that throws (a bug) or that does not
 * return within a second after its timeout aborted it yields a failed result saying so.
 */
export async function runWithRetries(probe: Probe, p: Pick<ResolvedProbe, 'timeoutMs' | 'retries'>, clock: Clock, stop?: AbortSignal): Promise<ProbeResult> {
  let result: ProbeResult | undefined;
  let attempt = 0;
  for (; attempt <= p.retries; attempt++) {
    result = await runOnceGuarded(probe, p.timeoutMs, clock, stop);
    if (result.ok || stop?.aborted) break;
  }
  return { ...result!, attempts: Math.min(attempt + 1, p.retries + 1) };
}

async function runOnceGuarded(probe: Probe, timeoutMs: number, clock: Clock, stop?: AbortSignal): Promise<ProbeResult> {
  const ac = new AbortController();
  const onStop = () => ac.abort(new Error('stopping'));
  stop?.addEventListener('abort', onStop, { once: true });
  const startedAt = clock.now();
  let guard: { cancel(): void } | undefined;
  const timer = clock.setTimeout(() => {
    ac.abort(new Error('timeout'));
    guard = clock.setTimeout(() => settle({ ok: false, reason: `probe did not stop within 1 s after its ${timeoutMs} ms timeout`, startedAt, durationMs: timeoutMs, assertions: [] }), 1000);
  }, timeoutMs);
  let settle: (r: ProbeResult) => void = () => {};
  const stuck = new Promise<ProbeResult>((resolve) => (settle = resolve));
  const ctx: ProbeRunContext = { signal: ac.signal, timeoutMs };
  try {
    const run = probe.run(ctx).catch((err: unknown): ProbeResult => ({
      ok: false,
      reason: `probe error: ${(err as Error)?.message ?? String(err)}`,
      startedAt,
      durationMs: clock.now() - startedAt,
      assertions: [],
    }));
    return await Promise.race([run, stuck]);
  } finally {
    timer.cancel();
    guard?.cancel();
    stop?.removeEventListener('abort', onStop);
  }
}
