import { parseDuration, type Clock, type Timer } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { Signal } from '../../signals/signal.ts';
import type { Queryable, Store } from '../../store/store.ts';
import { alertToSignal, endOf, startOf, type PostableAlert } from './alertmanager.ts';
import type { IntakeConfig } from './schema.ts';

// What kuzet holds of the alerts received through the Alertmanager API: one row per label set with the time it
// expires (its endsAt, or the last send plus resolve_timeout). The intake attaches each alert's row to its signal
// and the group commit writes the rows in the signals' own transaction, so an accepted alert always has its expiry
// stored and a refused one (503) leaves nothing; a sweeper on the injected clock turns every expiry that passed
// without a re-send into a resolved signal, in one transaction with marking the row.

export interface StoredAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorURL: string | null;
  startsAt: number;
  endsAt: number | null;
  expiresAt: number;
  updatedAt: number;
}

interface Row {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generator_url: string | null;
  starts_at: Date | string;
  ends_at: Date | string | null;
  expires_at: Date | string;
  updated_at: Date | string;
}

const COLUMNS = 'fingerprint, labels, annotations, generator_url, starts_at, ends_at, expires_at, updated_at';
const ms = (v: Date | string) => new Date(v).getTime();
const toAlert = (r: Row): StoredAlert => ({
  fingerprint: r.fingerprint,
  labels: r.labels,
  annotations: r.annotations,
  generatorURL: r.generator_url,
  startsAt: ms(r.starts_at),
  endsAt: r.ends_at === null ? null : ms(r.ends_at),
  expiresAt: ms(r.expires_at),
  updatedAt: ms(r.updated_at),
});

const upsertSql = (param: string) => `
INSERT INTO alertmanager_alerts AS a (${COLUMNS}, resolved_at)
SELECT ${COLUMNS}, resolved_at FROM jsonb_to_recordset(${param}::jsonb) AS x(fingerprint text, labels jsonb,
  annotations jsonb, generator_url text, starts_at timestamptz, ends_at timestamptz, expires_at timestamptz,
  updated_at timestamptz, resolved_at timestamptz)
ON CONFLICT (fingerprint) DO UPDATE SET
  annotations = EXCLUDED.annotations, generator_url = EXCLUDED.generator_url,
  starts_at = CASE WHEN a.resolved_at IS NULL THEN least(a.starts_at, EXCLUDED.starts_at) ELSE EXCLUDED.starts_at END,
  ends_at = EXCLUDED.ends_at, expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at,
  resolved_at = CASE WHEN EXCLUDED.resolved_at IS NULL THEN NULL ELSE coalesce(a.resolved_at, EXCLUDED.resolved_at) END`;

const attached = new WeakMap<Signal, Record<string, unknown>>();

/** Give each alert's signal (`signals[i]` is the signal of `alerts[i]`) the row to store with it: its expiry. */
export function attachAlertRows(alerts: PostableAlert[], signals: Signal[], nowMs: number, resolveTimeoutMs: number): void {
  alerts.forEach((a, i) => {
    const s = signals[i]!;
    const ends = endOf(a);
    const expires = ends ?? nowMs + resolveTimeoutMs;
    attached.set(s, {
      fingerprint: s.fingerprint,
      labels: a.labels,
      annotations: a.annotations ?? {},
      generator_url: a.generatorURL ?? null,
      starts_at: new Date(startOf(a, nowMs)).toISOString(),
      ends_at: ends === null ? null : new Date(ends).toISOString(),
      expires_at: new Date(expires).toISOString(),
      updated_at: new Date(nowMs).toISOString(),
      resolved_at: s.status === 'resolved' ? new Date(expires).toISOString() : null,
    });
  });
}

/** The rows attached to these signals, one per label set, in fingerprint order. */
function attachedRows(signals: Signal[]): Array<Record<string, unknown>> {
  // One row per label set: the last copy wins (one statement may not update a row twice).
  const byFp = new Map<string, Record<string, unknown>>();
  for (const s of signals) {
    const row = attached.get(s);
    if (row) byFp.set(s.fingerprint, row);
  }
  // In fingerprint order: instances sharing a database lock rows in the same order and cannot deadlock on them.
  return [...byFp.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([, r]) => r);
}

/** Store (or refresh) the rows attached to these signals, inside the transaction that commits them. */
export async function writeAlertRows(q: Queryable, signals: Signal[]): Promise<void> {
  const rows = attachedRows(signals);
  if (rows.length) await q.query(upsertSql('$1'), [JSON.stringify(rows)]);
}

/**
 * The same write as one data-modifying statement the incident engine sends with its read (its BatchPrelude): the
 * rows go in the batch's transaction, before the engine's lock, without a round trip of their own. Null when no
 * signal carries a row.
 */
export function alertRowsPrelude(signals: Signal[]): { sql: (param: string) => string; value: string } | null {
  const rows = attachedRows(signals);
  return rows.length ? { sql: (param) => `${upsertSql(param)} RETURNING 1`, value: JSON.stringify(rows) } : null;
}

/** Alerts that have not ended at `nowMs`, oldest first. */
export async function unresolvedAlerts(q: Queryable, nowMs: number, limit = 10_000): Promise<StoredAlert[]> {
  const r = await q.query<Row>(
    `SELECT ${COLUMNS} FROM alertmanager_alerts WHERE resolved_at IS NULL AND expires_at > $1 ORDER BY starts_at, fingerprint LIMIT $2`,
    [new Date(nowMs).toISOString(), limit],
  );
  return r.rows.map(toAlert);
}

/** The resolved signal of an alert that expired. */
export function expiredSignal(a: StoredAlert, nowMs: number, defaultSystem: string): Signal {
  const s = alertToSignal(
    {
      labels: a.labels,
      annotations: a.annotations,
      startsAt: new Date(a.startsAt).toISOString(),
      endsAt: new Date(a.expiresAt).toISOString(),
      ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
    },
    Math.max(nowMs, a.expiresAt),
    defaultSystem,
  );
  return { ...s, payload: { ...s.payload, expired: a.endsAt === null ? 'not sent again within resolve_timeout' : 'endsAt passed without a re-send' } };
}

export interface AlertExpiryDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  config: () => IntakeConfig;
  /** Apply signals inside the caller's transaction (the incident engine's applyInTx). */
  apply: (q: Queryable, signals: Signal[]) => Promise<unknown>;
  /** Called after a commit with the number of alerts resolved by expiry. */
  onExpired?: (n: number) => void;
  intervalMs?: number;
}

const BATCH = 500;
/** Resolved rows are deleted after this long (Alertmanager keeps resolved alerts 120 h). */
const KEEP_RESOLVED_MS = 120 * 3_600_000;

/** Resolves alerts whose expiry passed without a re-send; runs on start (what fell due while kuzet was down) and then every interval. */
export class AlertExpiry {
  readonly #d: AlertExpiryDeps;
  #timer: Timer | null = null;
  #running: Promise<number> | null = null;
  #stopped = true;

  constructor(deps: AlertExpiryDeps) {
    this.#d = deps;
  }

  start(): void {
    this.#stopped = false;
    this.#tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
    await this.#running?.catch(() => 0);
  }

  /** The sweep in flight, if any (tests await it after moving the clock). */
  async idle(): Promise<void> {
    await this.#running?.catch(() => 0);
  }

  #tick(): void {
    this.#timer = null;
    if (this.#stopped) return;
    this.#running = this.sweep()
      .catch((err: Error) => {
        this.#d.log.error('alert expiry sweep failed', { err: err.message });
        return 0;
      })
      .finally(() => {
        if (!this.#stopped) this.#timer = this.#d.clock.setTimeout(() => this.#tick(), this.#d.intervalMs ?? 5_000);
      });
  }

  /** Resolve every alert that has expired by now. Returns how many. */
  async sweep(): Promise<number> {
    const { store, clock } = this.#d;
    let total = 0;
    for (let round = 0; round < 100; round++) {
      const now = clock.now();
      const def = this.#d.config().alertmanager.default_system;
      const n = await store.tx(async (q) => {
        // SKIP LOCKED: instances sharing a database split the work; a row being refreshed by a re-send is left to it.
        const due = await q.query<Row>(
          `SELECT ${COLUMNS} FROM alertmanager_alerts WHERE resolved_at IS NULL AND expires_at <= $1
            ORDER BY expires_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
          [new Date(now).toISOString()],
        );
        if (!due.rows.length) return 0;
        const alerts = due.rows.map(toAlert);
        await q.query(`UPDATE alertmanager_alerts SET resolved_at = expires_at WHERE fingerprint IN (SELECT jsonb_array_elements_text($1::jsonb))`, [
          JSON.stringify(alerts.map((a) => a.fingerprint)),
        ]);
        await this.#d.apply(q, alerts.map((a) => expiredSignal(a, now, def)));
        return alerts.length;
      });
      total += n;
      if (n) this.#d.onExpired?.(n);
      if (n < BATCH) break;
    }
    await store.query(`DELETE FROM alertmanager_alerts WHERE resolved_at IS NOT NULL AND resolved_at < $1`, [new Date(clock.now() - KEEP_RESOLVED_MS).toISOString()]);
    if (total) this.#d.log.info('alerts resolved: expired without a re-send', { count: total });
    return total;
  }
}

export const resolveTimeoutMs = (cfg: IntakeConfig): number => parseDuration(cfg.alertmanager.resolve_timeout) ?? 300_000;
