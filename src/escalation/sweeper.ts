import type { Clock, Timer } from '../clock.ts';
import { nullLogger, type Logger } from '../log.ts';
import type { Queryable, Store } from '../store/store.ts';

// Runs the escalation sweep on exactly one instance: the one holding a PostgreSQL session-level
// advisory lock on a dedicated `store.session`. If that connection dies, the lock goes with it and
// another instance takes over at its next tick.
// Leadership is belt and braces: timers are also claimed with SKIP LOCKED and pages carry
// idempotency keys, so two sweepers overlapping for a moment still page once.

export const LEADER_LOCK_KEY = 7_305_030;

export interface SweeperDeps {
  store: Store;
  clock: Clock;
  sweep: () => Promise<number>;
  log?: Logger;
  /** How often to try for leadership and look for due timers. */
  intervalMs?: number;
  onLeadership?: (leader: boolean) => void;
}

export class Sweeper {
  readonly #deps: SweeperDeps;
  readonly #log: Logger;
  #running = false;
  #leader = false;
  #session: Queryable | null = null;
  #release: (() => void) | null = null;
  #sessionDone: Promise<void> | null = null;
  #timer: Timer | null = null;
  #inflight: Promise<void> | null = null;
  #unreachable = false;

  constructor(deps: SweeperDeps) {
    this.#deps = deps;
    this.#log = deps.log ?? nullLogger;
  }

  get leader(): boolean {
    return this.#leader;
  }

  /** Idempotent. The first tick runs at once, so timers that fell due while kuzet was down fire on start. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.tick();
  }

  /** Idempotent; waits for an in-flight sweep and gives up the lock. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = null;
    await this.#inflight?.catch(() => {});
    await this.#dropSession();
  }

  /** One round: hold or take leadership, sweep if leader, arm the next round. Returns after the sweep. */
  tick(): Promise<void> {
    if (this.#inflight) return this.#inflight;
    this.#inflight = this.#round().finally(() => {
      this.#inflight = null;
      if (this.#running) {
        this.#timer?.cancel();
        this.#timer = this.#deps.clock.setTimeout(() => void this.tick(), this.#deps.intervalMs ?? 1000);
      }
    });
    return this.#inflight;
  }

  async #round(): Promise<void> {
    try {
      const lead = await this.#ensureLeadership();
      if (lead && this.#running) await this.#deps.sweep();
    } catch (err) {
      this.#log.error('escalation sweep failed', { err });
    }
  }

  async #ensureLeadership(): Promise<boolean> {
    try {
      if (!this.#session) await this.#openSession();
      if (this.#leader) {
        await this.#session!.query('SELECT 1'); // still connected, so still holding the lock
        return true;
      }
      const r = await this.#session!.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK_KEY]);
      this.#unreachable = false;
      return this.#setLeader(r.rows[0]?.ok === true);
    } catch (err) {
      // Once per outage, not once a second while the store is down.
      if (!this.#unreachable) this.#log.warn(this.#leader ? 'escalation leadership lost' : 'escalation leadership: the store is out of reach', { err });
      this.#unreachable = true;
      await this.#dropSession();
      return this.#setLeader(false);
    }
  }

  #setLeader(v: boolean): boolean {
    if (v !== this.#leader) {
      this.#leader = v;
      this.#deps.onLeadership?.(v);
      this.#log.info(v ? 'escalation leader: this instance' : 'escalation leader: another instance');
    }
    return v;
  }

  #openSession(): Promise<void> {
    return new Promise<void>((ready, fail) => {
      let opened = false;
      this.#sessionDone = this.#deps.store
        .session(async (q) => {
          this.#session = q;
          opened = true;
          ready();
          await new Promise<void>((r) => (this.#release = r));
          if (this.#leader) await q.query('SELECT pg_advisory_unlock($1)', [LEADER_LOCK_KEY]).catch(() => {});
        })
        .catch((err) => {
          if (!opened) fail(err);
        })
        .finally(() => {
          this.#session = null;
        });
    });
  }

  async #dropSession(): Promise<void> {
    this.#release?.();
    this.#release = null;
    await this.#sessionDone;
    this.#sessionDone = null;
    this.#session = null;
    this.#setLeader(false);
  }
}
