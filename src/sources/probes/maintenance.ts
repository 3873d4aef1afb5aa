import { CronExpressionParser } from 'cron-parser';
import { parseDuration } from '../../clock.ts';
import type { MaintenanceWindow } from './types.ts';

// Maintenance windows: one-off (start..end) or recurring (a cron expression for the start, in a time
// zone, lasting `duration`). A probe in a window still runs and its results and signals are recorded;
// its signals carry labels.maintenance = "true" so they do not page.

interface Compiled {
  name: string;
  systems?: Set<string>;
  probes?: Set<string>;
  activeAt(at: number): boolean;
}

export class MaintenanceCalendar {
  readonly #windows: Compiled[];

  constructor(windows: readonly MaintenanceWindow[]) {
    this.#windows = windows.map(compile);
  }

  /** The name of a window covering this probe at `at`, or undefined. */
  active(probe: { name: string; system: string }, at: number): string | undefined {
    for (const w of this.#windows) {
      if (w.systems && !w.systems.has(probe.system)) continue;
      if (w.probes && !w.probes.has(probe.name)) continue;
      if (w.activeAt(at)) return w.name;
    }
    return undefined;
  }

  get size(): number {
    return this.#windows.length;
  }
}

function compile(w: MaintenanceWindow): Compiled {
  const base = {
    name: w.name,
    systems: w.systems?.length ? new Set(w.systems) : undefined,
    probes: w.probes?.length ? new Set(w.probes) : undefined,
  };
  if (w.start && w.end) {
    const s = Date.parse(w.start);
    const e = Date.parse(w.end);
    return { ...base, activeAt: (at) => at >= s && at < e };
  }
  const dur = parseDuration(w.duration ?? '0s') ?? 0;
  const cron = w.cron ?? '';
  const tz = w.timezone ?? 'UTC';
  // Cache the answer until the next boundary: thousands of probes ask every few seconds.
  let from = Infinity;
  let until = -Infinity;
  let answer = false;
  return {
    ...base,
    activeAt(at) {
      if (at >= from && at < until) return answer;
      const start = lastStartAtOrBefore(cron, tz, at);
      if (start !== undefined && at < start + dur) {
        answer = true;
        from = start;
        until = start + dur;
      } else {
        answer = false;
        from = start === undefined ? at : Math.max(at, start + dur);
        until = nextStartAfter(cron, tz, at) ?? Infinity;
      }
      return answer;
    },
  };
}

function lastStartAtOrBefore(cron: string, tz: string, at: number): number | undefined {
  try {
    // prev() is strictly before currentDate; step past `at` by one second (cron's resolution), then check.
    const it = CronExpressionParser.parse(cron, { tz, currentDate: new Date(at + 1000) });
    for (let i = 0; i < 3; i++) {
      const t = it.prev().getTime();
      if (t <= at) return t;
    }
  } catch {
    // no earlier occurrence
  }
  return undefined;
}

function nextStartAfter(cron: string, tz: string, at: number): number | undefined {
  try {
    return CronExpressionParser.parse(cron, { tz, currentDate: new Date(at) }).next().getTime();
  } catch {
    return undefined;
  }
}
