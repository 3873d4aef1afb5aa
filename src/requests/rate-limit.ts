import type { Clock } from '../clock.ts';

// Per-client limit on intake: at most `max` submissions in any window of `windowMs` (two fixed windows, weighted:
// the usual sliding-window approximation). Memory is bounded: at most `maxClients` are tracked, oldest dropped first.

export interface RateDecision {
  allowed: boolean;
  /** When refused: milliseconds until a submission would be accepted. */
  retryAfterMs: number;
}

interface Slot {
  windowStart: number;
  current: number;
  previous: number;
}

export class RateLimiter {
  readonly #clients = new Map<string, Slot>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #maxClients: number;

  constructor(opts: { max: number; windowMs: number; clock: Clock; maxClients?: number }) {
    this.#max = opts.max;
    this.#windowMs = opts.windowMs;
    this.#clock = opts.clock;
    this.#maxClients = opts.maxClients ?? 50_000;
  }

  /** Count one submission by `key` and say whether it is allowed. A refused one is not counted. */
  take(key: string): RateDecision {
    const now = this.#clock.now();
    const w = this.#windowMs;
    const start = Math.floor(now / w) * w;
    let slot = this.#clients.get(key);
    if (!slot) {
      if (this.#clients.size >= this.#maxClients) this.#evict(start);
      slot = { windowStart: start, current: 0, previous: 0 };
    } else {
      this.#clients.delete(key); // re-inserted below: the map stays in least-recently-used order
      if (slot.windowStart !== start) {
        slot.previous = slot.windowStart === start - w ? slot.current : 0;
        slot.current = 0;
        slot.windowStart = start;
      }
    }
    this.#clients.set(key, slot);
    const weight = 1 - (now - start) / w;
    const used = slot.previous * weight + slot.current;
    if (used + 1 > this.#max) {
      // Enough of the previous window must slide out, or the next window must begin.
      const needPrev = slot.previous > 0 ? (used + 1 - this.#max) / slot.previous : 1;
      const retry = slot.current + 1 > this.#max ? start + w - now : Math.ceil(needPrev * w);
      return { allowed: false, retryAfterMs: Math.max(1000, Math.min(retry, w)) };
    }
    slot.current++;
    return { allowed: true, retryAfterMs: 0 };
  }

  #evict(start: number): void {
    for (const [k, s] of this.#clients) if (s.windowStart < start - this.#windowMs) this.#clients.delete(k);
    while (this.#clients.size >= this.#maxClients) {
      const oldest = this.#clients.keys().next().value;
      if (oldest === undefined) break;
      this.#clients.delete(oldest);
    }
  }

  get size(): number {
    return this.#clients.size;
  }
}

/**
 * A per-client daily byte budget (attachments of the public form). Days are Asia/Almaty days (UTC+5). Memory is
 * bounded: at most `maxClients` clients are tracked; past that, entries of earlier days go first, then the oldest.
 */
export class ByteBudget {
  readonly #used = new Map<string, { day: number; bytes: number }>();

  constructor(private readonly opts: { perDay: number; clock: Clock; maxClients?: number }) {}

  #day(): number {
    return Math.floor((this.opts.clock.now() + 5 * 3_600_000) / 86_400_000);
  }

  /** Bytes `key` has sent today. */
  spent(key: string): number {
    const e = this.#used.get(key);
    return e && e.day === this.#day() ? e.bytes : 0;
  }

  /** Whether `bytes` more fit in today's budget of `key` (nothing is counted). */
  allows(key: string, bytes: number): boolean {
    return this.spent(key) + bytes <= this.opts.perDay;
  }

  charge(key: string, bytes: number): void {
    const day = this.#day();
    const max = this.opts.maxClients ?? 50_000;
    if (!this.#used.has(key) && this.#used.size >= max) {
      for (const [k, e] of this.#used) if (e.day !== day) this.#used.delete(k);
      if (this.#used.size >= max) this.#used.delete(this.#used.keys().next().value as string);
    }
    this.#used.set(key, { day, bytes: this.spent(key) + bytes });
  }
}
