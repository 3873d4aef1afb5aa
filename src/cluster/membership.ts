import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';

// Membership of several kuzet instances sharing one store. PostgreSQL is the only coordination engine:
// each instance keeps a row in cluster_instances and refreshes it every `heartbeatMs` of the injected clock.
//
// - Dead: an instance whose last heartbeat is older than DEAD_AFTER_BEATS (2) of its own periods, i.e. it
//   missed two heartbeats in a row. Every instance re-reads the table on each of its own heartbeats, so a
//   dead peer is noticed within one heartbeat period of becoming dead. A clean stop sets stopped_at: the
//   others notice that at their next heartbeat.
// - Fenced: an instance that could not write its own heartbeat for as long (store unreachable, partitioned)
//   while it last saw others alive counts itself out and owns nothing until a write succeeds again, since the
//   others have taken over. An instance that was alone keeps running everything (nobody else would).
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
  /** After every heartbeat (and on start); `changed` when the live members of this location changed. */
  onBeat?: (changed: boolean) => void | Promise<void>;
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
}

const SELECT = `SELECT id, location, version, (EXTRACT(EPOCH FROM started_at) * 1000)::float8 AS started_at,
  (EXTRACT(EPOCH FROM heartbeat_at) * 1000)::float8 AS heartbeat_at, heartbeat_ms,
  (EXTRACT(EPOCH FROM stopped_at) * 1000)::float8 AS stopped_at FROM cluster_instances`;

function toMember(r: Row, now: number): Member {
  const heartbeatAt = Number(r.heartbeat_at);
  const stoppedAt = r.stopped_at === null ? undefined : Number(r.stopped_at);
  const status = stoppedAt !== undefined ? 'stopped' : now - heartbeatAt > DEAD_AFTER_BEATS * r.heartbeat_ms ? 'dead' : 'live';
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
    if (!this.#started) return;
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#chain;
    await this.#o.store
      .query('UPDATE cluster_instances SET stopped_at = to_timestamp($2::float8 / 1000.0) WHERE id = $1', [this.#o.id, this.#o.clock.now()])
      .catch((err: unknown) => this.#o.logger?.warn('could not record the stop of this instance', { err }));
  }

  /** Stop heartbeating without a word (what a crash looks like to the others; tests). */
  halt(): void {
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
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
    try {
      rows = await o.store.tx(async (q) => {
        await q.query(
          `INSERT INTO cluster_instances (id, location, version, started_at, heartbeat_at, heartbeat_ms)
           VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000.0), to_timestamp($5::float8 / 1000.0), $6)
           ON CONFLICT (id) DO UPDATE SET location = EXCLUDED.location, version = EXCLUDED.version, started_at = EXCLUDED.started_at,
             heartbeat_at = EXCLUDED.heartbeat_at, heartbeat_ms = EXCLUDED.heartbeat_ms, stopped_at = NULL`,
          [o.id, o.location, o.version, this.startedAt, now, o.heartbeatMs],
        );
        await q.query(
          `DELETE FROM cluster_instances WHERE id <> $1 AND COALESCE(stopped_at, heartbeat_at) < to_timestamp($2::float8 / 1000.0)`,
          [o.id, now - (o.forgetAfterMs ?? 86_400_000)],
        );
        return (await q.query<Row>(`${SELECT} WHERE location = $1`, [o.location])).rows;
      });
      this.#lastWritten = now;
      this.#fenced = false;
    } catch (err) {
      o.logger?.warn('cluster heartbeat not written; will retry', { err });
    }
    let live: string[];
    if (rows) {
      live = rows.map((r) => toMember(r, now)).filter((m) => m.status === 'live').map((m) => m.id);
      if (!live.includes(o.id)) live.push(o.id);
      live.sort();
    } else if (this.#fenced || (now - this.#lastWritten > DEAD_AFTER_BEATS * o.heartbeatMs && this.#live.some((id) => id !== o.id))) {
      live = []; // fenced: the others count us dead and have taken over
      this.#fenced = true;
    } else {
      live = this.#live.length ? this.#live : [o.id]; // not written yet, and nobody else known: run everything
    }
    const changed = live.join('\n') !== this.#live.join('\n');
    if (changed) {
      o.logger?.info('cluster members changed', { location: o.location, live, was: this.#live });
      this.#live = live;
      this.#owners.clear();
    }
    await o.onBeat?.(changed);
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
