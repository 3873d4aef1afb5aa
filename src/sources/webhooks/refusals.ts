import type { Clock, Timer } from '../../clock.ts';
import type { Logger } from '../../log.ts';

// Every refused webhook request is logged with its reason, the source name it named and the caller's address,
// but a flood (a scanner, a SIEM with a wrong secret retrying) must not flood the log: the first `perWindow`
// refusals of each window are logged one by one, the rest are counted and summed up in one line when the
// window ends (by reason, and the addresses that sent the most).

export interface Refusal {
  reason: string;
  status: number;
  source: string;
  address: string;
  detail?: string;
}

export interface RefusalLogOptions {
  perWindow?: number;
  windowMs?: number;
}

export class RefusalLog {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #what: string;
  readonly #perWindow: number;
  readonly #windowMs: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #logged = 0;
  #byReason = new Map<string, number>();
  #byAddress = new Map<string, number>();
  #flush: Timer | null = null;

  constructor(log: Logger, clock: Clock, what: string, opts: RefusalLogOptions = {}) {
    this.#log = log;
    this.#clock = clock;
    this.#what = what;
    this.#perWindow = opts.perWindow ?? 20;
    this.#windowMs = opts.windowMs ?? 60_000;
  }

  note(r: Refusal): void {
    const now = this.#clock.now();
    if (now - this.#windowStart >= this.#windowMs) {
      this.#summarize();
      this.#windowStart = now;
      this.#logged = 0;
    }
    if (this.#logged < this.#perWindow) {
      this.#logged++;
      this.#log.warn(`${this.#what}: request refused`, { ...r });
      return;
    }
    this.#byReason.set(r.reason, (this.#byReason.get(r.reason) ?? 0) + 1);
    if (this.#byAddress.has(r.address) || this.#byAddress.size < 1000) this.#byAddress.set(r.address, (this.#byAddress.get(r.address) ?? 0) + 1);
    this.#flush ??= this.#clock.setTimeout(() => {
      this.#flush = null;
      this.#summarize();
    }, this.#windowStart + this.#windowMs - now);
  }

  /** Stop the pending summary timer (the counts are logged now). */
  close(): void {
    this.#summarize();
  }

  #summarize(): void {
    this.#flush?.cancel();
    this.#flush = null;
    if (!this.#byReason.size) return;
    const total = [...this.#byReason.values()].reduce((a, b) => a + b, 0);
    const top = [...this.#byAddress.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
    this.#log.warn(`${this.#what}: more requests refused than are logged one by one`, {
      suppressed: total,
      window_s: this.#windowMs / 1000,
      by_reason: Object.fromEntries(this.#byReason),
      addresses: this.#byAddress.size,
      top_addresses: Object.fromEntries(top),
    });
    this.#byReason.clear();
    this.#byAddress.clear();
  }
}
