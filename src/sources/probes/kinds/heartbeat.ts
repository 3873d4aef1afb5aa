import { parseDuration, type Clock } from '../../../clock.ts';
import type { Queryable } from '../../../store/store.ts';
import type { HeartbeatSpec, Probe, ProbeResult } from '../types.ts';

// heartbeat: external jobs (cron, backups) call a push URL; the probe fails when no ping came within
// period + grace, or when the last ping reported a failure. Pings are written through to the store
// so a restart neither forgets a ping nor fires at once.

export interface HeartbeatPing {
  at: number;
  status: 'ok' | 'fail';
}

export class HeartbeatBook {
  #last = new Map<string, HeartbeatPing>();
  readonly #since: number;

  constructor(
    private readonly clock: Clock,
    private readonly store?: Queryable,
  ) {
    this.#since = clock.now();
  }

  /** Read the last pings from the store (call once at start). */
  async load(): Promise<void> {
    if (!this.store) return;
    const r = await this.store.query<{ name: string; at: number; status: 'ok' | 'fail' }>(
      `SELECT name, (EXTRACT(EPOCH FROM last_ping_at) * 1000)::float8 AS at, last_status AS status FROM probe_heartbeats`,
    );
    for (const row of r.rows) this.#last.set(row.name, { at: Number(row.at), status: row.status });
  }

  async ping(name: string, status: 'ok' | 'fail' = 'ok'): Promise<HeartbeatPing> {
    const p: HeartbeatPing = { at: this.clock.now(), status };
    if (this.store) {
      await this.store.query(
        `INSERT INTO probe_heartbeats (name, last_ping_at, last_status, ping_count) VALUES ($1, to_timestamp($2 / 1000.0), $3, 1)
         ON CONFLICT (name) DO UPDATE SET last_ping_at = EXCLUDED.last_ping_at, last_status = EXCLUDED.last_status,
           ping_count = probe_heartbeats.ping_count + 1`,
        [name, p.at, status],
      );
    }
    this.#last.set(name, p);
    return p;
  }

  last(name: string): HeartbeatPing | undefined {
    return this.#last.get(name);
  }

  /** When the book started: the baseline for a heartbeat that never pinged. */
  get since(): number {
    return this.#since;
  }
}

const human = (ms: number) => {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 360) / 10} h`;
};

export function heartbeatProbe(name: string, spec: HeartbeatSpec, deps: { clock: Clock; book: HeartbeatBook }): Probe {
  const periodMs = parseDuration(spec.period) ?? 0;
  const graceMs = parseDuration(spec.grace ?? '0s') ?? 0;
  return {
    name,
    kind: 'heartbeat',
    async run(): Promise<ProbeResult> {
      const now = deps.clock.now();
      const last = deps.book.last(name);
      const age = now - (last?.at ?? deps.book.since);
      const inTime = age <= periodMs + graceMs;
      const assertions = [
        { name: `a ping within ${spec.period}${spec.grace ? ` + ${spec.grace}` : ''}`, ok: inTime, actual: last ? `last ping ${human(age)} ago` : `no ping since start ${human(age)} ago` },
      ];
      if (last) assertions.push({ name: 'last ping reports success', ok: last.status === 'ok', actual: last.status });
      const bad = assertions.find((a) => !a.ok);
      return { ok: !bad, reason: bad && `${bad.name} failed: ${bad.actual}`, startedAt: now, durationMs: 0, assertions };
    },
  };
}
