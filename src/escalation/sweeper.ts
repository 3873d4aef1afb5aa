import type { Clock, Timer } from '../clock.ts';
import { nullLogger, type Logger } from '../log.ts';
import { withTimeout, type Queryable, type Store } from '../store/store.ts';

// Runs the escalation sweep on exactly one instance: the one holding a PostgreSQL session-level
// advisory lock on a dedicated `store.session`. If that connection dies, the lock goes with it and
// another instance takes over at its next tick.
// Leadership is belt and braces: timers are also claimed with SKIP LOCKED and pages carry
// idempotency keys, so two sweepers overlapping for a moment still page once.

export const LEADER_LOCK_KEY = 7_305_030;
/** A leader silent for this many intervals (by the server's clock) is taken to be cut off. */
export const STALE_INTERVALS = 5;

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
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = null;
    await this.#inflight?.catch(() => {});
    await this.#dropSession(); // also after bare tick() calls, which open the session too
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
        await this.#bounded(this.#session!.query('SELECT 1')); // still connected, so still holding the lock
        return true;
      }
      const r = await this.#bounded(this.#session!.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK_KEY]));
      this.#unreachable = false;
      if (r.rows[0]?.ok !== true) await this.#endStaleLeader();
      return this.#setLeader(r.rows[0]?.ok === true);
    } catch (err) {
      // Once per outage, not once a second while the store is down.
      if (!this.#unreachable) this.#log.warn(this.#leader ? 'escalation leadership lost' : 'escalation leadership: the store is out of reach', { err });
      this.#unreachable = true;
      await this.#dropSession();
      return this.#setLeader(false);
    }
  }

  get #intervalMs(): number {
    return this.#deps.intervalMs ?? 1000;
  }

  /**
   * A leader's session check that does not return (a silent partition) counts as lost: a few intervals at most.
   * An I/O timeout, so on the process's own timers, not the injected clock.
   */
  #bounded<T>(q: Promise<T>): Promise<T> {
    return withTimeout(q, Math.max(1000, 3 * this.#intervalMs), 'the store');
  }

  /**
   * The lock's holder has said nothing for STALE_INTERVALS of our intervals by the server's clock (a leader checks
   * every interval): it is cut off without its connection closing, and the server would keep the lock for it until
   * TCP gives up (hours). End that session so the lock is free at the next try. The holder, if it comes back, finds
   * its session gone and steps down; SKIP LOCKED and idempotency keys cover the overlap.
   */
  async #endStaleLeader(): Promise<void> {
    const r = await this.#bounded(
      this.#session!.query<{ pid: number; ended: boolean }>(
        `SELECT l.pid, pg_terminate_backend(l.pid) AS ended FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1 AND l.pid <> pg_backend_pid()
           AND a.state = 'idle' AND a.state_change < clock_timestamp() - make_interval(secs => $2)`,
        [LEADER_LOCK_KEY, (STALE_INTERVALS * this.#intervalMs) / 1000],
      ),
    );
    for (const row of r.rows) if (row.ended) this.#log.warn('escalation leader silent; its session ended so another instance can lead', { pid: row.pid });
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
