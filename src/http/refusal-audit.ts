import type { AuditEntry } from '../access/audit.ts';
import type { Clock, Timer } from '../clock.ts';

// Refused requests from callers without a token are audited in aggregate: one row per address per minute, with the
// count and what was refused. 1,800 refusals in two seconds are one row, not 1,800. Memory is bounded: past
// MAX_ADDRESSES distinct addresses in a minute, the rest share one row (remote "(other addresses)").

const MINUTE = 60_000;
const MAX_ADDRESSES = 10_000;
const MAX_KINDS = 10;

interface Tally {
  minute: number;
  count: number;
  /** "POST /report -> 400": count, at most MAX_KINDS kinds (the rest under "other"). */
  kinds: Map<string, number>;
}

export class RefusalAudit {
  readonly #tallies = new Map<string, Tally>();
  #timer: Timer | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly write: (e: AuditEntry) => void,
  ) {}

  add(remote: string, action: string, outcome: string): void {
    const minute = Math.floor(this.clock.now() / MINUTE);
    let key = remote;
    const known = this.#tallies.get(key);
    if (known && known.minute !== minute) this.#emit(key, known);
    if (!this.#tallies.has(key) && this.#tallies.size >= MAX_ADDRESSES) key = '(other addresses)';
    let t = this.#tallies.get(key);
    if (t && t.minute !== minute) {
      this.#emit(key, t);
      t = undefined;
    }
    if (!t) {
      t = { minute, count: 0, kinds: new Map() };
      this.#tallies.set(key, t);
    }
    t.count++;
    const kind = `${action} -> ${outcome}`;
    const k = t.kinds.has(kind) || t.kinds.size < MAX_KINDS ? kind : 'other';
    t.kinds.set(k, (t.kinds.get(k) ?? 0) + 1);
    this.#timer ??= this.clock.setTimeout(() => {
      this.#timer = null;
      this.flush(false);
    }, (minute + 1) * MINUTE - this.clock.now());
  }

  /** Write the rows of minutes that are over (all of them when `all`). */
  flush(all: boolean): void {
    const minute = Math.floor(this.clock.now() / MINUTE);
    for (const [key, t] of [...this.#tallies]) if (all || t.minute < minute) this.#emit(key, t);
    if (all) {
      this.#timer?.cancel();
      this.#timer = null;
    } else if (this.#tallies.size && !this.#timer) {
      this.#timer = this.clock.setTimeout(() => {
        this.#timer = null;
        this.flush(false);
      }, (minute + 1) * MINUTE - this.clock.now());
    }
  }

  #emit(key: string, t: Tally): void {
    this.#tallies.delete(key);
    // The row reads like the one it stands for (the most frequent refusal); the detail holds the count and the rest.
    const [top] = [...t.kinds.entries()].sort((a, b) => b[1] - a[1]);
    const [action, outcome] = top ? top[0].split(' -> ') : ['refused', 'refused'];
    this.write({
      actor: 'anonymous',
      action: action!,
      target: null,
      remote: key,
      outcome: outcome!,
      detail: { aggregated: true, count: t.count, minute: new Date(t.minute * MINUTE).toISOString(), refused: Object.fromEntries(t.kinds) },
    });
  }
}
