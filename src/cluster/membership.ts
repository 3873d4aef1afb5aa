import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import { withTimeout, type Queryable, type Store } from '../store/store.ts';

// Membership of several kuzet instances sharing one store. PostgreSQL is the only coordination engine:
// each instance keeps a row in cluster_instances and refreshes it every `heartbeatMs` of the injected clock,
// over one dedicated connection whose backend (pid and start) the row names.
//
// - Dead, noticed within one heartbeat period: the instance's session is gone while the server kept running
//   (kill -9, a crash, a closed connection: the server ends the backend at once). Every instance re-reads the
//   table on each of its own heartbeats, so that is seen at the next one.
// - Dead, by age: an instance whose heartbeat has stood still for DEAD_AFTER_BEATS (2) of its own periods (hung,
//   or cut off without the connection closing), as watched on this instance's own clock, so instances whose clocks
//   differ still agree. Also the only rule when the server restarted since the session began, since every
//   session ended then.
// - A clean stop sets stopped_at: the others notice that at their next heartbeat.
// - Fenced: an instance that lost its session (the store unreachable, partitioned) while it last saw others alive
//   counts itself out at once, since the others now count it dead, and owns nothing until a write succeeds again.
//   An instance that was alone keeps running everything (nobody else would).
// - Ownership: rendezvous (highest random weight) hashing over the ids of the live instances of this
//   instance's location. Every instance that sees the same members computes the same owner; when a member
//   joins or leaves only the probes it owned (or will own) move.

export const DEAD_AFTER_BEATS = 2;

export interface Member {
  id: string;
  location: string;
  version: string;
  startedAt: number;
  heartbeatAt: number;
  heartbeatMs: number;
  stoppedAt?: number;
  status: 'live' | 'dead' | 'stopped';
}

export interface MembershipOptions {
  store: Store;
  clock: Clock;
  id: string;
  location: string;
  version: string;
  heartbeatMs: number;
  logger?: Logger;
  /**
   * After every heartbeat (and on start); `changed` when the live members of this location changed, `departed`
   * the other instances that were live at the previous heartbeat and are not now (dead or stopped).
   */
  onBeat?: (changed: boolean, departed: readonly string[]) => void | Promise<void>;
  /** Rows of instances dead or stopped for longer than this are deleted (default one day). */
  forgetAfterMs?: number;
}

interface Row {
  id: string;
  location: string;
  version: string;
  started_at: number;
  heartbeat_at: number;
  heartbeat_ms: number;
  stopped_at: number | null;
  session_alive: boolean;
}

/**
 * SQL: the session `t` names is still connected, or says nothing (none recorded, or it began before the server
 * did). Rows are written by instances of one role; a backend of another role shows no start, and counts.
 */
export const SESSION_ALIVE = (t: string) =>
  `(${t}.session_pid IS NULL OR ${t}.session_started < pg_postmaster_start_time() OR EXISTS (SELECT 1 FROM pg_stat_activity a
     WHERE a.pid = ${t}.session_pid AND (a.backend_start IS NULL OR a.backend_start = ${t}.session_started)))`;

/** SQL: `t` is live at `$<nowParam>` (ms): not stopped, its session alive, and a heartbeat young enough. */
export const LIVE = (t: string, nowParam = 1) =>
  `(${t}.stopped_at IS NULL AND ${t}.heartbeat_at >= to_timestamp($${nowParam}::float8 / 1000.0) - make_interval(secs => ${DEAD_AFTER_BEATS} * ${t}.heartbeat_ms / 1000.0)
    AND ${SESSION_ALIVE(t)})`;

const COLUMNS = `id, location, version, (EXTRACT(EPOCH FROM started_at) * 1000)::float8 AS started_at,
  (EXTRACT(EPOCH FROM heartbeat_at) * 1000)::float8 AS heartbeat_at, heartbeat_ms,
  (EXTRACT(EPOCH FROM stopped_at) * 1000)::float8 AS stopped_at, ${SESSION_ALIVE('i')} AS session_alive`;
const SELECT = `SELECT ${COLUMNS} FROM cluster_instances i`;

function toMember(r: Row, now: number): Member {
  const heartbeatAt = Number(r.heartbeat_at);
  const stoppedAt = r.stopped_at === null ? undefined : Number(r.stopped_at);
  const status = stoppedAt !== undefined ? 'stopped' : !r.session_alive || now - heartbeatAt > DEAD_AFTER_BEATS * r.heartbeat_ms ? 'dead' : 'live';
  return { id: r.id, location: r.location, version: r.version, startedAt: Number(r.started_at), heartbeatAt, heartbeatMs: r.heartbeat_ms, stoppedAt, status };
}

/** All registered instances, with their status as seen at `now`. */
export async function listMembers(store: Store, now: number): Promise<Member[]> {
  const r = await store.query<Row>(`${SELECT} ORDER BY location, id`);
  return r.rows.map((row) => toMember(row, now));
}

export class Membership {
  readonly #o: MembershipOptions;
  readonly startedAt: number;
  #live: string[] = [];
  #lastWritten = -Infinity;
  #fenced = false;
  #timer?: Timer;
  #started = false;
  #chain: Promise<void> = Promise.resolve();
  #owners = new Map<string, boolean>();
  #session: Queryable | null = null;
  #release: ((err?: Error) => void) | null = null;
  #sessionDone: Promise<void> | null = null;
  #sessionPid?: number;
  #watch = new Map<string, { value: number; since: number; changed: boolean }>();
  #lastObserved?: number;

  constructor(o: MembershipOptions) {
    this.#o = o;
    this.startedAt = o.clock.now();
  }

  get id(): string {
    return this.#o.id;
  }

  get location(): string {
    return this.#o.location;
  }

  /** Ids of the live instances of this location (sorted), as of the last heartbeat. */
  get live(): readonly string[] {
    return this.#live;
  }

  /** Register and take the first look at the others; then heartbeat on the clock. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.beat();
    this.#arm();
  }

  /** Stop heartbeating and say so in the store, so the others take over at their next heartbeat. */
  async stop(): Promise<void> {
    if (!this.#started) return this.#dropSession(); // halted: only the session is left to close
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#chain;
    await this.#o.store
      .query('UPDATE cluster_instances SET stopped_at = to_timestamp($2::float8 / 1000.0) WHERE id = $1', [this.#o.id, this.#o.clock.now()])
      .catch((err: unknown) => this.#o.logger?.warn('could not record the stop of this instance', { err }));
    await this.#dropSession();
  }

  /** Stop heartbeating without a word, the session left open (what a hung process looks like to the others; tests). */
  halt(): void {
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Stop heartbeating and close the session without a word (what kill -9 looks like to the others; tests). */
  async abandon(): Promise<void> {
    this.halt();
    await this.#chain;
    const pid = this.#sessionPid;
    await this.#dropSession(new Error('abandoned'));
    // The server ends the backend as soon as it reads the closed socket; wait (bounded) until it has.
    for (let i = 0; pid !== undefined && i < 200; i++) {
      const r = await this.#o.store.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]).catch(() => ({ rowCount: 0 }));
      if (!r.rowCount) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** One heartbeat: write ours, read everyone's. Calls are serialised; the clock's timer calls it too. */
  beat(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#beatOnce());
    return this.#chain;
  }

  /** Resolves when the heartbeats started so far have finished (tests). */
  settled(): Promise<void> {
    return this.#chain;
  }

  /** Whether this instance runs `name`: the rendezvous winner among the live instances of its location. */
  owns(name: string): boolean {
    let v = this.#owners.get(name);
    if (v === undefined) {
      v = ownerOf(name, this.#live) === this.#o.id;
      this.#owners.set(name, v);
    }
    return v;
  }

  #arm(): void {
    if (!this.#started) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#started) return;
      void this.beat().finally(() => this.#arm());
    }, this.#o.heartbeatMs);
  }

  async #beatOnce(): Promise<void> {
    const o = this.#o;
    const now = o.clock.now();
    let rows: Row[] | undefined;
    let lost = false;
    try {
      if (this.#session) {
        const q = this.#session;
        // Bounded: on a silent partition the statements never return; half a period, so we count ourselves out
        // before the others count us dead by the heartbeat's age (two periods).
        rows = await this.#bounded(async () => {
          await q.query('BEGIN');
          try {
            const r = await this.#write(q, now, true);
            await q.query('COMMIT');
            return r;
          } catch (err) {
            await q.query('ROLLBACK').catch(() => {});
            throw err;
          }
        });
      } else {
        rows = await o.store.tx((q) => this.#write(q, now, false));
        // Others share the store: from now on our liveness is also our session's (see the top of this file).
        if (rows.some((r) => r.id !== o.id && this.#isLive(r, now))) {
          await this.#openSession();
          const named = await this.#session!.query<{ pid: number }>(
            `UPDATE cluster_instances SET session_pid = a.pid, session_started = a.backend_start
             FROM pg_stat_activity a WHERE a.pid = pg_backend_pid() AND id = $1 RETURNING a.pid`,
            [o.id],
          );
          this.#sessionPid = named.rows[0]?.pid;
        }
      }
      this.#lastWritten = now;
      this.#fenced = false;
    } catch (err) {
      o.logger?.warn('cluster heartbeat not written; will retry', { err });
      // A session that failed is done: its backend ends, and with it our liveness in the others' eyes.
      lost = this.#session !== null;
      await this.#dropSession(err instanceof Error ? err : new Error(String(err)));
      if (lost) rows = undefined;
    }
    let live: string[];
    if (rows) {
      live = rows.filter((r) => r.location === o.location && (r.id === o.id || this.#isLive(r, now))).map((r) => r.id);
      if (!live.includes(o.id)) live.push(o.id);
      live.sort();
    } else if (this.#fenced || (lost && this.#live.some((id) => id !== o.id)) || (now - this.#lastWritten > DEAD_AFTER_BEATS * o.heartbeatMs && this.#live.some((id) => id !== o.id))) {
      live = []; // fenced: the others count us dead and take over
      this.#fenced = true;
    } else {
      live = this.#live.length ? this.#live : [o.id]; // not written yet, and nobody else known: run everything
    }
    const changed = live.join('\n') !== this.#live.join('\n');
    const departed = live.length ? this.#live.filter((id) => id !== o.id && !live.includes(id)) : [];
    if (changed) {
      o.logger?.info('cluster members changed', { location: o.location, live, was: this.#live });
      this.#live = live;
      this.#owners.clear();
    }
    await o.onBeat?.(changed, departed);
  }

  /** An I/O timeout, so on the process's own timers, not the injected clock. */
  #bounded<T>(work: () => Promise<T>): Promise<T> {
    return withTimeout(work(), Math.max(500, Math.floor(this.#o.heartbeatMs / 2)), 'the heartbeat');
  }

  /** Our heartbeat (naming our session's backend when `onSession`), old rows forgotten; every row read back. */
  async #write(q: Queryable, now: number, onSession: boolean): Promise<Row[]> {
    const o = this.#o;
    await q.query(
      `INSERT INTO cluster_instances (id, location, version, started_at, heartbeat_at, heartbeat_ms, session_pid, session_started)
       SELECT $1, $2, $3, to_timestamp($4::float8 / 1000.0), to_timestamp($5::float8 / 1000.0), $6, a.pid, a.backend_start
       FROM (SELECT 1) one LEFT JOIN pg_stat_activity a ON $7 AND a.pid = pg_backend_pid()
       ON CONFLICT (id) DO UPDATE SET location = EXCLUDED.location, version = EXCLUDED.version, started_at = EXCLUDED.started_at,
         heartbeat_at = EXCLUDED.heartbeat_at, heartbeat_ms = EXCLUDED.heartbeat_ms, stopped_at = NULL,
         session_pid = EXCLUDED.session_pid, session_started = EXCLUDED.session_started`,
      [o.id, o.location, o.version, this.startedAt, now, o.heartbeatMs, onSession],
    );
    await q.query(`DELETE FROM cluster_instances WHERE id <> $1 AND COALESCE(stopped_at, heartbeat_at) < to_timestamp($2::float8 / 1000.0)`, [
      o.id,
      now - (o.forgetAfterMs ?? 86_400_000),
    ]);
    const read = await q.query<Row & { me: number }>(`SELECT ${COLUMNS}, pg_backend_pid() AS me FROM cluster_instances i`);
    if (onSession) this.#sessionPid = read.rows[0]?.me;
    this.#observe(read.rows, now);
    return read.rows;
  }

  /**
   * Note when each other instance's heartbeat last changed, by our own clock. Its age is then judged by how long we
   * have watched it stand still, not by comparing its clock with ours: instances whose clocks differ (one stepped
   * an hour) still see each other live. Until we have seen a heartbeat change, its timestamp is all we have. A
   * jump of our own clock (backwards, or far more than a period between two heartbeats) restarts the watch.
   */
  #observe(rows: readonly Row[], now: number): void {
    const last = this.#lastObserved;
    if (last !== undefined && (now < last || now - last > 3 * this.#o.heartbeatMs)) for (const w of this.#watch.values()) w.since = now;
    this.#lastObserved = now;
    const present = new Set<string>();
    for (const r of rows) {
      present.add(r.id);
      const value = Number(r.heartbeat_at);
      const w = this.#watch.get(r.id);
      if (!w) this.#watch.set(r.id, { value, since: now, changed: false });
      else if (w.value !== value) this.#watch.set(r.id, { value, since: now, changed: true });
    }
    for (const id of this.#watch.keys()) if (!present.has(id)) this.#watch.delete(id);
  }

  #isLive(r: Row, now: number): boolean {
    if (r.stopped_at !== null || !r.session_alive) return false;
    const limit = DEAD_AFTER_BEATS * r.heartbeat_ms;
    const w = this.#watch.get(r.id);
    // Watched: it stood still at our last two reads since it changed (its beat may land just after a read of ours,
    // so a change is seen up to a period late). Not yet watched: its timestamp against our clock.
    return w?.changed ? now - w.since < limit : now - Number(r.heartbeat_at) <= limit;
  }

  #openSession(): Promise<void> {
    return new Promise<void>((ready, fail) => {
      let opened = false;
      this.#sessionDone = this.#o.store
        .session(async (q) => {
          this.#session = q;
          opened = true;
          ready();
          const err = await new Promise<Error | undefined>((r) => (this.#release = r));
          if (err) throw err;
        }, { outsidePool: true })
        .catch((err: unknown) => {
          if (!opened) fail(err);
        })
        .finally(() => {
          this.#session = null;
        });
    });
  }

  async #dropSession(err?: Error): Promise<void> {
    this.#release?.(err);
    this.#release = null;
    await this.#sessionDone;
    this.#sessionDone = null;
    this.#session = null;
    this.#sessionPid = undefined;
  }
}

/** Rendezvous hashing: the id with the highest weight for `name` (ties: the smaller id). */
export function ownerOf(name: string, ids: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestW = -1;
  for (const id of ids) {
    const w = weight(id, name);
    if (w > bestW || (w === bestW && best !== undefined && id < best)) {
      best = id;
      bestW = w;
    }
  }
  return best;
}

/** A well-mixed 32-bit weight of (id, name): FNV-1a over both, then the murmur3 finaliser. */
function weight(id: string, name: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  h = Math.imul(h ^ 0, 16777619);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
