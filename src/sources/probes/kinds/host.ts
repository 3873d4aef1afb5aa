import os from 'node:os';
import { performance } from 'node:perf_hooks';
import si from 'systeminformation';
import { parseDuration, type Clock } from '../../../clock.ts';
import type { AssertionOutcome, HostSpec, Probe, ProbeResult, ProbeRunContext } from '../types.ts';

// host: CPU, memory, load and disk use of the machine kuzet runs on, against thresholds that must be
// exceeded for a while (`for`) before the probe fails, so one busy second does not page anyone.

export interface HostSample {
  cpuPercent: number;
  memoryPercent: number;
  load1: number;
  disks: { mount: string; usedPercent: number }[];
}

export type HostSampler = () => Promise<HostSample>;

export const systemSampler: HostSampler = async () => {
  const [load, mem, fs] = await Promise.all([si.currentLoad(), si.mem(), si.fsSize()]);
  return {
    cpuPercent: load.currentLoad,
    memoryPercent: mem.total > 0 ? ((mem.total - mem.available) / mem.total) * 100 : 0,
    load1: os.loadavg()[0] ?? 0,
    disks: fs.map((d) => ({ mount: d.mount, usedPercent: d.use })),
  };
};

export function hostProbe(name: string, spec: HostSpec, deps: { clock: Clock; sampler?: HostSampler }): Probe {
  const holdMs = spec.for ? (parseDuration(spec.for) ?? 0) : 0;
  const sampler = deps.sampler ?? systemSampler;
  // When each threshold was first seen exceeded, in the current unbroken run of breaches.
  const since = new Map<string, number>();
  return {
    name,
    kind: 'host',
    async run(ctx: ProbeRunContext): Promise<ProbeResult> {
      const startedAt = deps.clock.now();
      const t0 = performance.now();
      let sample: HostSample;
      try {
        sample = await Promise.race([
          sampler(),
          new Promise<never>((_r, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })),
        ]);
      } catch (err) {
        const why = ctx.signal.aborted ? `timed out after ${ctx.timeoutMs} ms` : (err as Error).message;
        return { ok: false, reason: `could not sample the host: ${why}`, startedAt, durationMs: performance.now() - t0, assertions: [] };
      }
      const checks: { key: string; label: string; value: number | undefined; max: number }[] = [];
      if (spec.cpu_percent !== undefined) checks.push({ key: 'cpu', label: 'CPU %', value: sample.cpuPercent, max: spec.cpu_percent });
      if (spec.memory_percent !== undefined) checks.push({ key: 'mem', label: 'memory %', value: sample.memoryPercent, max: spec.memory_percent });
      if (spec.load1 !== undefined) checks.push({ key: 'load1', label: 'load average (1 min)', value: sample.load1, max: spec.load1 });
      for (const d of spec.disks ?? []) {
        checks.push({ key: `disk:${d.mount}`, label: `disk ${d.mount} %`, value: sample.disks.find((x) => x.mount === d.mount)?.usedPercent, max: d.max_percent });
      }
      const assertions: AssertionOutcome[] = [];
      for (const c of checks) {
        if (c.value === undefined) {
          assertions.push({ name: `${c.label} <= ${c.max}`, ok: false, actual: 'not found on this host' });
          continue;
        }
        const over = c.value > c.max;
        if (!over) since.delete(c.key);
        else if (!since.has(c.key)) since.set(c.key, startedAt);
        const heldMs = over ? startedAt - since.get(c.key)! : 0;
        const ok = !over || heldMs < holdMs;
        const shown = Math.round(c.value * 10) / 10;
        assertions.push({
          name: holdMs ? `${c.label} <= ${c.max} (or above for less than ${spec.for})` : `${c.label} <= ${c.max}`,
          ok,
          actual: over ? `${shown}, above for ${Math.round(heldMs / 1000)} s` : `${shown}`,
        });
      }
      const bad = assertions.find((a) => !a.ok);
      return { ok: !bad, reason: bad && `${bad.name} failed: ${bad.actual}`, startedAt, durationMs: Math.round((performance.now() - t0) * 100) / 100, assertions };
    },
  };
}
