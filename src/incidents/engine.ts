import type { Clock } from '../clock.ts';
import { conflict, notFound } from '../errors.ts';
import { contentHash, type Signal } from '../signals/signal.ts';
import type { Queryable, Store } from '../store/store.ts';
import { applySignal, settleFlapping, type IncidentEvent, type IncidentState, type LifecyclePolicy } from './lifecycle.ts';
import { INCIDENT_COLUMNS, INCIDENT_RECORD_TYPE, rowToState, stateToRecord, type IncidentRow } from './rows.ts';

// The incident engine is the only writer of incidents. It takes signals in batches: one transaction
// per batch appends them to the ledger (folding unchanged repeats), applies the lifecycle, writes the
// timeline, and lets later stages (escalation) add their rows in the same transaction.

export interface Change {
  incident: IncidentState;
  event: IncidentEvent;
}

/** Runs inside the engine's transaction, after incidents and events are written. */
export type ChangeHook = (q: Queryable, changes: Change[]) => Promise<void>;

export type SignalAction = 'opened' | 'appended' | 'reopened' | 'resolved' | 'recorded';

export interface Outcome {
  signalId: number;
  incidentId: number | null;
  action: SignalAction;
  folded: boolean;
}

export interface EngineMetrics {
  signalsAccepted(source: string, n: number): void;
  incidentResolved(durationSeconds: number): void;
}

export interface EngineDeps {
  store: Store;
  clock: Clock;
  policy: () => LifecyclePolicy;
  metrics?: EngineMetrics;
}

interface LedgerRow {
  id: number;
  s: Signal;
  hash: string;
  incidentId: number | null;
  count: number;
  last: number;
}

// The engine's lock is the row of engine_state: every transaction that writes incidents updates it (version + 1), so
// writers across kuzet instances sharing a database go one at a time, and the version tells an engine whether anyone
// else wrote since its own last commit (then what it keeps in memory is stale and it reads from the store instead).
// The row is per schema, so separate kuzet deployments (or test schemas) in one database do not contend.
const BUMP_VERSION_SQL = 'UPDATE engine_state SET version = version + 1 WHERE id = 1 RETURNING version';

/** Latest incidents kept in memory, per fingerprint; past this many, resolved ones are dropped, then all. */
const VIEW_MAX = 50_000;

/**
 * A statement a source runs in the batch's transaction before the engine's lock (row locks first, then the engine
 * lock, the order every writer keeps), sent in the same round trip as the engine's read: `sql` is one data-modifying
 * statement ending in RETURNING, with `$param` its only parameter, bound to `value`.
 */
export interface BatchPrelude {
  sql: (param: string) => string;
  value: string;
}

/**
 * The engine's one read per batch: the prelude, the engine lock with the version bump, ids drawn from both sequences
 * (after the lock: only the engine draws from them, so nextval + setval cannot interleave with another allocation),
 * the version the statement's snapshot saw, and the latest incident of every fingerprint asked for. The incidents are
 * read with the snapshot taken before the lock was granted: they are current only if nobody committed in between
 * (v_new = v_seen + 1); otherwise the engine reads again in a new statement, holding the lock.
 * $1 fingerprints (jsonb array), $2 incident ids to draw, $3 signal ids to draw, $4 the prelude's value.
 */
function readSql(prelude: BatchPrelude | null): string {
  return `
WITH ${prelude ? `pre AS (${prelude.sql('$4')}),` : ''}
v AS (UPDATE engine_state SET version = version + 1 WHERE id = 1${prelude ? ' AND (SELECT count(*) FROM pre) >= 0' : ''} RETURNING version),
ids AS (SELECT
  (SELECT first FROM v, LATERAL (SELECT nextval('incidents_id_seq') AS first) AS a,
     LATERAL (SELECT setval('incidents_id_seq', first + $2::bigint - 1)) AS b WHERE $2::bigint > 0) AS incident,
  (SELECT first FROM v, LATERAL (SELECT nextval('signals_id_seq') AS first) AS a,
     LATERAL (SELECT setval('signals_id_seq', first + $3::bigint - 1)) AS b WHERE $3::bigint > 0) AS signal)
SELECT v.version AS v_new, (SELECT version FROM engine_state WHERE id = 1) AS v_seen, ids.incident AS first_incident,
  ids.signal AS first_signal, i.*
FROM v CROSS JOIN ids LEFT JOIN LATERAL (
  SELECT DISTINCT ON (fingerprint) ${INCIDENT_COLUMNS} FROM incidents
   WHERE fingerprint IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY fingerprint, id DESC) AS i ON true`;
}

/** Read again (a new snapshot, the lock held), drawing $2 more incident ids and $3 more signal ids. */
const READ_AGAIN_SQL = `SELECT ids.incident AS first_incident, ids.signal AS first_signal, i.* FROM (SELECT
  (SELECT first FROM (SELECT nextval('incidents_id_seq') AS first) AS a,
     LATERAL (SELECT setval('incidents_id_seq', first + $2::bigint - 1)) AS b WHERE $2::bigint > 0) AS incident,
  (SELECT first FROM (SELECT nextval('signals_id_seq') AS first) AS a,
     LATERAL (SELECT setval('signals_id_seq', first + $3::bigint - 1)) AS b WHERE $3::bigint > 0) AS signal) AS ids
  LEFT JOIN LATERAL (SELECT DISTINCT ON (fingerprint) ${INCIDENT_COLUMNS} FROM incidents
   WHERE fingerprint IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY fingerprint, id DESC) AS i ON true`;

const cloneState = (st: IncidentState): IncidentState => ({ ...st, flips: [...st.flips] });

/** Consecutive id ranges handed out in order. */
class IdRanges {
  readonly #ranges: Array<{ next: number; left: number }> = [];
  add(first: number, n: number): void {
    if (n > 0) this.#ranges.push({ next: first, left: n });
  }
  get available(): number {
    return this.#ranges.reduce((n, r) => n + r.left, 0);
  }
  take(): number {
    const r = this.#ranges.find((x) => x.left > 0)!;
    r.left -= 1;
    return r.next++;
  }
}

function EVENTS_INSERT_SQL(param: string): string {
  return `INSERT INTO incident_events (incident_id, at, kind, actor, detail)
    SELECT incident_id, at, kind, actor, detail FROM jsonb_to_recordset(${param}::jsonb)
      AS x(incident_id bigint, at timestamptz, kind text, actor text, detail jsonb)`;
}

function eventRecords(events: Array<{ incident: IncidentState; event: IncidentEvent }>) {
  return events.map(({ incident, event }) => ({
    incident_id: incident.id,
    at: new Date(event.at).toISOString(),
    kind: event.kind,
    actor: event.actor,
    detail: event.detail,
  }));
}

/**
 * Reserve consecutive ids from the incident and signal sequences, both in one round trip. Only the engine draws
 * from these sequences, and it holds the engine lock, so nextval + setval cannot interleave with another allocation.
 * A count of 0 draws nothing from that sequence.
 */
async function allocateIds(q: Queryable, incidents: number, signals: number): Promise<{ incident: number; signal: number }> {
  const r = await q.query<{ incident: number | null; signal: number | null }>(
    `SELECT (SELECT first FROM (SELECT nextval('incidents_id_seq') AS first) AS a, LATERAL (SELECT setval('incidents_id_seq', first + $1::bigint - 1)) AS b
              WHERE $1::bigint > 0) AS incident,
            (SELECT first FROM (SELECT nextval('signals_id_seq') AS first) AS a, LATERAL (SELECT setval('signals_id_seq', first + $2::bigint - 1)) AS b
              WHERE $2::bigint > 0) AS signal`,
    [incidents, signals],
  );
  return { incident: Number(r.rows[0]!.incident ?? 0), signal: Number(r.rows[0]!.signal ?? 0) };
}

// Data-modifying CTEs all run to completion whether or not the outer query reads them, and foreign keys are
// checked at the end of the statement, so new incidents, their ledger rows and their events can go in together.
// $1 changed incidents, $2 new incidents, $3 new ledger rows, $4 folds into existing ledger rows, $5 timeline events.
const WRITE_BATCH_SQL = `
WITH changed AS (
  UPDATE incidents AS i SET severity = x.severity, status = x.status, flapping = x.flapping, flips = x.flips,
    acknowledged_at = x.acknowledged_at, acknowledged_by = x.acknowledged_by, resolved_at = x.resolved_at,
    resolved_by = x.resolved_by, reopen_count = x.reopen_count, signal_count = x.signal_count,
    last_signal_at = x.last_signal_at, head_signal_id = x.head_signal_id, head_hash = x.head_hash, updated_at = x.updated_at
  FROM jsonb_to_recordset($1::jsonb) AS ${INCIDENT_RECORD_TYPE} WHERE i.id = x.id RETURNING 1
), opened AS (
  INSERT INTO incidents (${INCIDENT_COLUMNS}) SELECT ${INCIDENT_COLUMNS} FROM jsonb_to_recordset($2::jsonb) AS ${INCIDENT_RECORD_TYPE} RETURNING 1
), appended AS (
  INSERT INTO signals (id, source, system, check_name, fingerprint, severity, status, summary, labels, payload,
    content_hash, observed_at, last_observed_at, received_at, repeat_count, incident_id)
  SELECT id, source, system, check_name, fingerprint, severity, status, summary, labels, payload,
    content_hash, observed_at, last_observed_at, received_at, repeat_count, incident_id
  FROM jsonb_to_recordset($3::jsonb) AS x(id bigint, source text, system text, check_name text, fingerprint text,
    severity text, status text, summary text, labels jsonb, payload jsonb, content_hash text, observed_at timestamptz,
    last_observed_at timestamptz, received_at timestamptz, repeat_count integer, incident_id bigint)
  RETURNING 1
), folded AS (
  UPDATE signals AS s SET repeat_count = s.repeat_count + x.n, last_observed_at = greatest(s.last_observed_at, x.last)
  FROM jsonb_to_recordset($4::jsonb) AS x(id bigint, n integer, last timestamptz) WHERE s.id = x.id RETURNING 1
), timeline AS (
  ${EVENTS_INSERT_SQL('$5')} RETURNING 1
)
SELECT (SELECT count(*) FROM changed)::int AS changed, (SELECT count(*) FROM folded)::int AS folded`;

/** The in-memory view named an incident or ledger row the store no longer has (the batch rolls back and is retried). */
class StaleView extends Error {}

interface Applied {
  outcomes: Outcome[];
  /** The version this transaction leaves when it commits. */
  version: number;
  /** Whether the in-memory view was current when the batch was worked out. */
  viewWasCurrent: boolean;
  /** The latest incident (or none) of every fingerprint of the batch, as committed. */
  latest: Map<string, IncidentState | null>;
}

export class IncidentEngine {
  readonly #deps: EngineDeps;
  readonly #hooks: ChangeHook[] = [];
  /** Latest incident (or none) per fingerprint, as of version #version; only entries present are trusted. */
  readonly #view = new Map<string, IncidentState | null>();
  #version: number | null = null;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
  }

  /** Register a later stage that must see every change in the same transaction. */
  onChanges(hook: ChangeHook): void {
    this.#hooks.push(hook);
  }

  /**
   * Append signals (in order) to the ledger and apply them to incidents, all in one transaction. `first` writes what
   * a source keeps beside its signals in the same transaction, before the engine takes its lock (row locks, then the
   * engine lock, the order every writer keeps): a BatchPrelude goes in the same round trip as the engine's read.
   * Round trips per batch: the read, the write, the commit (plus BEGIN, and hooks' statements only when something
   * changed); a read again when another writer committed since this engine's last batch, and an id draw when a
   * batch needs more new rows than the read reserved.
   */
  async processBatch(signals: Signal[], first?: ((q: Queryable) => Promise<void>) | BatchPrelude | null): Promise<Outcome[]> {
    if (signals.length === 0) return [];
    let applied: Applied | undefined;
    for (let attempt = 0; !applied; attempt++) {
      try {
        applied = await this.#deps.store.tx(async (q) => {
          if (typeof first === 'function') await first(q);
          return this.#apply(q, signals, typeof first === 'function' ? null : (first ?? null), true);
        });
      } catch (err) {
        this.#version = null; // whatever was worked out did not commit; the next batch reads from the store
        this.#view.clear();
        if (!(err instanceof StaleView) || attempt > 0) throw err;
      }
    }
    this.#remember(applied);
    this.#afterCommit(signals, applied.outcomes);
    return applied.outcomes;
  }

  /**
   * The same as processBatch, inside a transaction the caller owns (a later stage that turns its own decision
   * into a signal, atomically with that decision). Metrics count it only if the caller commits, so none here; the
   * in-memory view is not updated either (the commit is the caller's), so the next batch reads from the store.
   */
  async applyInTx(q: Queryable, signals: Signal[]): Promise<Outcome[]> {
    if (signals.length === 0) return [];
    return (await this.#apply(q, signals, null, false)).outcomes;
  }

  /** After a commit: keep the batch's incidents in memory as of the version it left. */
  #remember(a: Applied): void {
    if (this.#version !== null && a.version <= this.#version) return; // a later batch already committed
    if (!a.viewWasCurrent) this.#view.clear();
    if (this.#view.size + a.latest.size > VIEW_MAX) {
      for (const [fp, st] of this.#view) if (!st || st.status === 'resolved') this.#view.delete(fp);
      if (this.#view.size + a.latest.size > VIEW_MAX) this.#view.clear();
    }
    for (const [fp, st] of a.latest) this.#view.set(fp, st ? cloneState(st) : null);
    this.#version = a.version;
  }

  async #apply(q: Queryable, signals: Signal[], prelude: BatchPrelude | null, useView: boolean): Promise<Applied> {
    const { clock } = this.#deps;
    const policy = this.#deps.policy();
    const now = clock.now();
    const hashes = signals.map(contentHash);
    const fingerprints = [...new Set(signals.map((s) => s.fingerprint))];
    // What to ask the store for, and how many ids to draw, assuming the view is current (checked below).
    const view = useView ? this.#view : new Map<string, IncidentState | null>();
    const missing = fingerprints.filter((fp) => !view.has(fp));
    let wantSignals = 0;
    const wantIncidents = new Set<string>();
    signals.forEach((s, i) => {
      const st = view.get(s.fingerprint);
      if (!st || st.headHash !== hashes[i]) wantSignals++;
      if (s.status === 'firing' && (!st || st.status === 'resolved')) wantIncidents.add(s.fingerprint);
    });
    const r = await q.query<IncidentRow & { v_new: string; v_seen: string; first_incident: string | null; first_signal: string | null }>(
      readSql(prelude),
      [JSON.stringify(missing), wantIncidents.size, wantSignals, ...(prelude ? [prelude.value] : [])],
    );
    const head = r.rows[0]!;
    const version = Number(head.v_new);
    const snapshotCurrent = version === Number(head.v_seen) + 1;
    const viewWasCurrent = useView && this.#version !== null && this.#version === version - 1;
    const incidentIds = new IdRanges();
    const signalIds = new IdRanges();
    if (head.first_incident !== null) incidentIds.add(Number(head.first_incident), wantIncidents.size);
    if (head.first_signal !== null) signalIds.add(Number(head.first_signal), wantSignals);

    const latest = new Map<string, IncidentState | null>();
    if (viewWasCurrent) for (const fp of fingerprints) if (this.#view.has(fp)) latest.set(fp, this.#view.get(fp) ? cloneState(this.#view.get(fp)!) : null);
    if (snapshotCurrent) {
      for (const fp of missing) latest.set(fp, null);
      for (const row of r.rows) if (row.id !== null) latest.set(row.fingerprint, rowToState(row));
    }
    const again = fingerprints.filter((fp) => !latest.has(fp));
    if (again.length) {
      // Someone else wrote since: read again, in a new statement (a new snapshot) while holding the lock, and draw ids
      // for every signal and every firing fingerprint, since the guess above assumed a current view.
      const firing = new Set(signals.filter((s) => s.status === 'firing').map((s) => s.fingerprint)).size;
      const moreIncidents = Math.max(0, firing - wantIncidents.size);
      const moreSignals = signals.length - wantSignals;
      const r2 = await q.query<IncidentRow & { first_incident: string | null; first_signal: string | null }>(READ_AGAIN_SQL, [
        JSON.stringify(again),
        moreIncidents,
        moreSignals,
      ]);
      if (r2.rows[0]!.first_incident !== null) incidentIds.add(Number(r2.rows[0]!.first_incident), moreIncidents);
      if (r2.rows[0]!.first_signal !== null) signalIds.add(Number(r2.rows[0]!.first_signal), moreSignals);
      for (const fp of again) latest.set(fp, null);
      for (const row of r2.rows) if (row.id !== null) latest.set(row.fingerprint, rowToState(row));
    }

    let tempSeq = 0;
    const temp = () => --tempSeq;
    const touched = new Map<number, IncidentState>();
    const ledger: LedgerRow[] = [];
    const ledgerByTemp = new Map<number, LedgerRow>();
    const folds = new Map<number, { n: number; last: number }>();
    const events: Array<{ incident: IncidentState; event: IncidentEvent }> = [];
    const results: Array<{ row: LedgerRow | null; foldId: number | null; incident: IncidentState | null; action: SignalAction }> = [];

    signals.forEach((s, i) => {
      const prev = latest.get(s.fingerprint) ?? null;
      const wasStatus = prev?.status;
      const t = applySignal(prev, s, now, policy, temp);
      const inc = t.incident;
      if (inc) {
        latest.set(s.fingerprint, inc);
        touched.set(inc.id, inc);
        for (const e of t.events) events.push({ incident: inc, event: e });
      }
      const action: SignalAction = !inc
        ? 'recorded'
        : t.opened
          ? 'opened'
          : t.events.some((e) => e.kind === 'reopened')
            ? 'reopened'
            : s.status === 'resolved' && wasStatus !== 'resolved'
              ? 'resolved'
              : inc.status === 'resolved'
                ? 'recorded'
                : 'appended';
      const hash = hashes[i]!;
      if (inc && inc.headHash === hash && inc.headSignalId !== null) {
        const pending = ledgerByTemp.get(inc.headSignalId);
        if (pending) {
          pending.count += 1;
          pending.last = Math.max(pending.last, s.observedAt);
        } else {
          const f = folds.get(inc.headSignalId) ?? { n: 0, last: s.observedAt };
          f.n += 1;
          f.last = Math.max(f.last, s.observedAt);
          folds.set(inc.headSignalId, f);
        }
        results.push({ row: null, foldId: inc.headSignalId, incident: inc, action });
      } else {
        const row: LedgerRow = { id: temp(), s, hash, incidentId: inc?.id ?? null, count: 1, last: s.observedAt };
        ledger.push(row);
        ledgerByTemp.set(row.id, row);
        if (inc) {
          inc.headSignalId = row.id;
          inc.headHash = hash;
        }
        results.push({ row, foldId: null, incident: inc, action });
      }
    });

    // Real ids for new incidents and ledger rows: drawn in the read; one more round trip only if it drew too few
    // (the view was stale, or a batch opened one incident twice). Ids drawn and not used are gaps, as sequences allow.
    const newIncidents = [...touched.values()].filter((i) => i.isNew);
    const shortIncidents = Math.max(0, newIncidents.length - incidentIds.available);
    const shortSignals = Math.max(0, ledger.length - signalIds.available);
    if (shortIncidents || shortSignals) {
      const more = await allocateIds(q, shortIncidents, shortSignals);
      incidentIds.add(more.incident, shortIncidents);
      signalIds.add(more.signal, shortSignals);
    }
    const idMap = new Map<number, number>();
    const sigIdMap = new Map<number, number>();
    for (const inc of newIncidents) idMap.set(inc.id, incidentIds.take());
    for (const row of ledger) sigIdMap.set(row.id, signalIds.take());
    const realInc = (id: number) => (id < 0 ? idMap.get(id)! : id);
    const realSig = (id: number) => (id < 0 ? sigIdMap.get(id)! : id);
    for (const inc of touched.values()) {
      inc.id = realInc(inc.id);
      if (inc.headSignalId !== null) inc.headSignalId = realSig(inc.headSignalId);
    }

    // Every write of the batch in one statement.
    const existing = [...touched.values()].filter((i) => !i.isNew);
    const nowIso = new Date(now).toISOString();
    const written = await q.query<{ changed: number; folded: number }>(WRITE_BATCH_SQL, [
      JSON.stringify(existing.map(stateToRecord)),
      JSON.stringify(newIncidents.map(stateToRecord)),
      JSON.stringify(
        ledger.map((r) => ({
          id: realSig(r.id),
          source: r.s.source,
          system: r.s.system,
          check_name: r.s.check,
          fingerprint: r.s.fingerprint,
          severity: r.s.severity,
          status: r.s.status,
          summary: r.s.summary,
          labels: r.s.labels,
          payload: r.s.payload,
          content_hash: r.hash,
          observed_at: new Date(r.s.observedAt).toISOString(),
          last_observed_at: new Date(r.last).toISOString(),
          received_at: nowIso,
          repeat_count: r.count,
          incident_id: r.incidentId === null ? null : realInc(r.incidentId),
        })),
      ),
      JSON.stringify([...folds].map(([id, f]) => ({ id, n: f.n, last: new Date(f.last).toISOString() }))),
      JSON.stringify(eventRecords(events)),
    ]);
    // The version guards against other writers; this guards against rows removed behind the engine's back (a restore,
    // a test truncating tables): every incident and ledger row the batch changed must have been there.
    if (written.rows[0]!.changed !== existing.length || written.rows[0]!.folded !== folds.size) {
      throw new StaleView('the engine\'s view of incidents named rows the store no longer has; the batch is retried from the store');
    }
    // Later stages run only when something changed: a batch of pure repeats costs them nothing.
    if (events.length) await this.#runHooks(q, events);
    for (const inc of touched.values()) inc.isNew = false;
    const outcomes = results.map<Outcome>((r) => ({
      signalId: r.row ? realSig(r.row.id) : r.foldId!,
      incidentId: r.incident ? r.incident.id : null,
      action: r.action,
      folded: r.row === null,
    }));
    return { outcomes, version, viewWasCurrent, latest };
  }

  #afterCommit(signals: Signal[], outcomes: Outcome[]): void {
    const m = this.#deps.metrics;
    if (!m) return;
    const bySource = new Map<string, number>();
    for (const s of signals) bySource.set(s.source, (bySource.get(s.source) ?? 0) + 1);
    for (const [src, n] of bySource) m.signalsAccepted(src, n);
    void outcomes;
  }

  async #writeEvents(q: Queryable, events: Array<{ incident: IncidentState; event: IncidentEvent }>): Promise<void> {
    if (!events.length) return;
    await q.query(EVENTS_INSERT_SQL('$1'), [JSON.stringify(eventRecords(events))]);
  }

  async #runHooks(q: Queryable, changes: Change[]): Promise<void> {
    for (const c of changes) {
      if (c.event.kind === 'resolved' && c.incident.resolvedAt !== null) {
        this.#deps.metrics?.incidentResolved((c.incident.resolvedAt - c.incident.openedAt) / 1000);
      }
    }
    for (const hook of this.#hooks) await hook(q, changes);
  }

  /** Take the engine lock (so a concurrent batch cannot overwrite us), change one incident, write the event. */
  async #mutate(id: number, fn: (st: IncidentState, now: number) => IncidentEvent[]): Promise<IncidentState> {
    return this.#deps.store.tx(async (q) => {
      await q.query(BUMP_VERSION_SQL);
      const r = await q.query<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE`, [id]);
      if (!r.rows[0]) throw notFound(`incident ${id}`);
      const st = rowToState(r.rows[0]);
      const now = this.#deps.clock.now();
      const events = fn(st, now);
      if (events.length === 0) return st;
      await q.query(
        `UPDATE incidents SET status = $2, acknowledged_at = $3, acknowledged_by = $4, resolved_at = $5, resolved_by = $6,
           flapping = $7, flips = $8::jsonb, updated_at = $9 WHERE id = $1`,
        [
          st.id,
          st.status,
          st.acknowledgedAt === null ? null : new Date(st.acknowledgedAt).toISOString(),
          st.acknowledgedBy,
          st.resolvedAt === null ? null : new Date(st.resolvedAt).toISOString(),
          st.resolvedBy,
          st.flapping,
          JSON.stringify(st.flips),
          new Date(st.updatedAt).toISOString(),
        ],
      );
      const changes = events.map((event) => ({ incident: st, event }));
      await this.#writeEvents(q, changes);
      await this.#runHooks(q, changes);
      return st;
    });
  }

  acknowledge(id: number, actor: string, note?: string): Promise<IncidentState> {
    return this.#mutate(id, (st, now) => {
      if (st.status === 'resolved') throw conflict(`incident ${id} is resolved; nothing to acknowledge`);
      if (st.status === 'acknowledged') return [];
      st.status = 'acknowledged';
      st.acknowledgedAt = now;
      st.acknowledgedBy = actor;
      st.updatedAt = now;
      return [{ kind: 'acknowledged', at: now, actor, detail: note ? { note } : {}, page: false }];
    });
  }

  resolve(id: number, actor: string, note?: string): Promise<IncidentState> {
    return this.#mutate(id, (st, now) => {
      if (st.status === 'resolved') throw conflict(`incident ${id} is already resolved`);
      st.status = 'resolved';
      st.resolvedAt = now;
      st.resolvedBy = actor;
      st.updatedAt = now;
      return [{ kind: 'resolved', at: now, actor, detail: note ? { by: 'person', note } : { by: 'person' }, page: false }];
    });
  }

  note(id: number, actor: string, text: string): Promise<IncidentState> {
    return this.#mutate(id, (st, now) => {
      st.updatedAt = now;
      return [{ kind: 'note', at: now, actor, detail: { text }, page: false }];
    });
  }

  /** Housekeeping: clear flapping marks that have gone quiet; drop ledger rows past retention. */
  async sweep(retentionMs: number): Promise<{ settled: number; deleted: number }> {
    const { store, clock } = this.#deps;
    const policy = this.#deps.policy();
    const now = clock.now();
    const flapping = await store.query<{ id: number }>(`SELECT id FROM incidents WHERE flapping`);
    let settled = 0;
    for (const { id } of flapping.rows) {
      await this.#mutate(Number(id), (st, t) => {
        const e = settleFlapping(st, t, policy);
        if (e) settled++;
        return e ? [e] : [];
      });
    }
    let deleted = 0;
    for (;;) {
      // In slices, so a long purge never holds a big lock; the head row of any incident is kept for folding.
      const r = await store.query(
        `DELETE FROM signals WHERE id IN (
           SELECT s.id FROM signals s WHERE s.last_observed_at < $1
              AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.head_signal_id = s.id) LIMIT 5000)`,
        [new Date(now - retentionMs).toISOString()],
      );
      deleted += r.rowCount;
      if (r.rowCount < 5000) break;
    }
    return { settled, deleted };
  }
}
