// The one source of time. Nothing else in src/ reads Date.now(): tests pass a FakeClock and move it.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Run `fn` once after `ms` milliseconds of this clock's time. */
  setTimeout(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that only moves when told to; timers fire in due order as it advances. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers = new Map<number, { due: number; fn: () => void }>();

  constructor(start: number | string | Date = '2026-01-05T04:00:00Z') {
    this.#now = new Date(start).getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const id = ++this.#seq;
    this.#timers.set(id, { due: this.#now + Math.max(0, ms), fn });
    return { cancel: () => this.#timers.delete(id) };
  }

  /** Move time forward, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].due <= target && (!next || entry[1].due < next[1].due)) next = entry;
      }
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].due);
      next[1].fn();
    }
    this.#now = target;
  }

  /**
   * Step the wall clock by `ms`, either way (NTP, an operator), as a real host does: now() jumps, while the
   * pending timers keep their remaining delays (Node's timers are monotonic) and none fires because of the step.
   */
  step(ms: number): void {
    this.#now += ms;
    for (const t of this.#timers.values()) t.due += ms;
  }

  set(at: number | string | Date): void {
    const t = new Date(at).getTime();
    if (t < this.#now) throw new Error('FakeClock cannot go backwards');
    this.advance(t - this.#now);
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
export const DURATION_RE = /^(\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;

/** Parse "30s", "5m", "1h30m", "90d" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * UNITS[m[2]!]!;
  return total;
}

// Kazakhstan moved to one zone, UTC+05:00 all year, on 2024-03-01. Hosts with older ICU data still
// say +06:00 for Asia/Almaty, so the current rule is pinned here rather than trusted to the runtime.
export const FIXED_ZONES: Record<string, number> = { 'Asia/Almaty': 300, 'Asia/Qostanay': 300, UTC: 0, 'Etc/UTC': 0 };

/** The zone's UTC offset in minutes at instant `t`; "+05:00"-style zones are accepted too. */
export function zoneOffsetMinutes(zone: string, t: number): number {
  if (zone in FIXED_ZONES) return FIXED_ZONES[zone]!;
  const fixed = /^([+-])(\d{2}):(\d{2})$/.exec(zone);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3]));
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
    .formatToParts(new Date(t))
    .find((p) => p.type === 'timeZoneName')?.value;
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name ?? '');
  if (!m) return 0; // "GMT" alone: UTC
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}


/** The first instant of the local calendar month containing `t` in `zone`. */
export function localMonthStart(zone: string, t: number): number {
  const local = new Date(t + zoneOffsetMinutes(zone, t) * 60_000);
  const l = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1);
  return l - zoneOffsetMinutes(zone, l) * 60_000;
}

/** The local month start `months` months after the one containing `t` (negative: before). */
export function addLocalMonths(zone: string, t: number, months: number): number {
  const local = new Date(t + zoneOffsetMinutes(zone, t) * 60_000);
  const l = Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + months, 1);
  return l - zoneOffsetMinutes(zone, l) * 60_000;
}
