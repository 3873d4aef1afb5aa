import type { LookupFunction } from 'node:net';
import { systemClock, type Clock } from '../../clock.ts';
import { createProbe, runWithRetries } from './factory.ts';
import { HttpAgents } from './http-client.ts';
import { HeartbeatBook } from './kinds/heartbeat.ts';
import type { HostSampler } from './kinds/host.ts';
import type { ProbeFile, ProbeResult } from './types.ts';
import { resolveProbe } from './validate.ts';
import type { Queryable } from '../../store/store.ts';

// `kuzet probe NAME`: run one probe once, print every assertion and step, exit 0 when it passed,
// 1 when it failed, 2 when there is no such probe. Nothing is stored and no signal is sent.

export interface RunOnceOutput {
  text: string;
  exitCode: 0 | 1 | 2;
  result?: ProbeResult;
}

export interface RunOnceDeps {
  clock?: Clock;
  lookup?: LookupFunction;
  hostSampler?: HostSampler;
  /** For heartbeat probes: read the last ping from the store. */
  store?: Queryable;
}

export async function runProbeOnce(name: string, config: readonly ProbeFile[], deps: RunOnceDeps = {}): Promise<RunOnceOutput> {
  const all = config.flatMap((f) => f.probes ?? []);
  const def = all.find((p) => p.name === name);
  if (!def) {
    const near = all.map((p) => p.name).filter((n) => n.includes(name) || name.includes(n)).slice(0, 5);
    return { text: `no probe named "${name}"${near.length ? `; did you mean ${near.join(', ')}?` : ''}\n`, exitCode: 2 };
  }
  const clock = deps.clock ?? systemClock;
  const agents = new HttpAgents({ lookup: deps.lookup });
  const heartbeats = new HeartbeatBook(clock, deps.store);
  try {
    await heartbeats.load().catch(() => {});
    const resolved = resolveProbe(def);
    const probe = createProbe(def, { clock, agents, heartbeats, lookup: deps.lookup, hostSampler: deps.hostSampler });
    const result = await runWithRetries(probe, resolved, clock);
    return { text: formatResult(resolved.name, `${def.kind}, system ${def.system}`, result), exitCode: result.ok ? 0 : 1, result };
  } finally {
    await agents.close();
  }
}

const mark = (ok: boolean) => (ok ? 'ok  ' : 'FAIL');

export function formatResult(name: string, what: string, r: ProbeResult): string {
  const lines = [`probe ${name} (${what})`];
  if (r.steps) {
    for (const s of r.steps) {
      lines.push(`  step ${s.name}: ${s.ok ? 'ok' : 'FAIL'} in ${Math.round(s.durationMs)} ms${s.reason && !s.ok ? ` — ${s.reason}` : ''}`);
      for (const a of s.assertions) lines.push(`    ${mark(a.ok)} ${a.name}${a.actual ? ` (${a.actual})` : ''}`);
    }
  } else {
    for (const a of r.assertions) lines.push(`  ${mark(a.ok)} ${a.name}${a.actual ? ` (${a.actual})` : ''}`);
  }
  const attempts = r.attempts && r.attempts > 1 ? `, ${r.attempts} attempts` : '';
  lines.push(r.ok ? `UP in ${Math.round(r.durationMs)} ms${attempts}` : `DOWN: ${r.reason ?? 'failed'} (${Math.round(r.durationMs)} ms${attempts}${r.severity ? `, severity ${r.severity}` : ''})`);
  return `${lines.join('\n')}\n`;
}
