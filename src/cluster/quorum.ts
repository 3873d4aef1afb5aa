import type { Queryable, Store } from '../store/store.ts';
import { LIVE } from './membership.ts';

// Confirmation from several locations. Each location's owner of a probe confirms it down or up by the probe's
// own rule (confirm.failures / recover.successes) and records that view here; the combined status is down while
// at least `required` live locations see it down, up otherwise (so it recovers as soon as fewer than `required`
// see it failing). The change of the combined status is decided under a per-probe transaction lock, so exactly
// one location sends the signal. Locations with no live instance do not count.

export interface LocationView {
  location: string;
  status: 'up' | 'down';
  since: number;
  instance: string | null;
  reason: string | null;
  live: boolean;
}

export interface QuorumDecision {
  /** Set when the combined status changed with this view: the signal to send. */
  emit?: 'firing' | 'resolved';
  /** The previous combined status (to put back if the signal could not be sent). */
  previous: 'up' | 'down';
  down: number;
  /** Live locations. */
  of: number;
  views: LocationView[];
}

export interface LocationReport {
  probe: string;
  location: string;
  instance: string;
  status: 'up' | 'down';
  at: number;
  reason?: string;
  required: number;
  now: number;
  /** Of the signal that fires if the combination goes down (kept on the combined row). */
  severity?: string;
  maintenance?: boolean;
}

const LOCK = 7_305_018;
const COMBINED = '*';

export async function reportLocationView(store: Store, r: LocationReport): Promise<QuorumDecision> {
  return store.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK, r.probe]);
    await q.query(
      `INSERT INTO probe_locations (probe, location, status, since, instance, reason, updated_at)
       VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000.0), $5, $6, to_timestamp($7::float8 / 1000.0))
       ON CONFLICT (probe, location) DO UPDATE SET status = EXCLUDED.status, since = EXCLUDED.since, instance = EXCLUDED.instance,
         reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at`,
      [r.probe, r.location, r.status, r.at, r.instance, r.reason?.slice(0, 1000) ?? null, r.now],
    );
    const d = await combinedView(q, r.probe, r.now);
    const next = d.down >= r.required ? 'down' : 'up';
    if (next !== d.previous) await setCombined(q, r.probe, next, r.now, next === 'down' ? r : {});
    return { ...d, emit: next === d.previous ? undefined : next === 'down' ? 'firing' : 'resolved' };
  });
}

/** Put the combined status back (the signal for its change could not be sent; the next view retries). */
export async function restoreCombined(store: Store, probe: string, status: 'up' | 'down', now: number): Promise<void> {
  await setCombined(store, probe, status, now);
}

/** Every location's view of `probe` (live: the location has a live instance at `now`). */
export async function locationViews(q: Queryable, probe: string, now: number): Promise<LocationView[]> {
  const r = await q.query<{ location: string; status: 'up' | 'down'; since: number; instance: string | null; reason: string | null; live: boolean }>(
    `SELECT l.location, l.status, (EXTRACT(EPOCH FROM l.since) * 1000)::float8 AS since, l.instance, l.reason,
            EXISTS (SELECT 1 FROM cluster_instances i WHERE i.location = l.location AND ${LIVE('i')}) AS live
     FROM probe_locations l WHERE l.probe = $2 AND l.location <> '${COMBINED}' ORDER BY l.location`,
    [now, probe],
  );
  return r.rows.map((v) => ({ ...v, since: Number(v.since) }));
}

async function setCombined(q: Queryable, probe: string, status: 'up' | 'down', now: number, fired: { severity?: string; maintenance?: boolean } = {}): Promise<void> {
  await q.query(
    `INSERT INTO probe_locations (probe, location, status, since, updated_at, severity, maintenance)
     VALUES ($1, '${COMBINED}', $2, to_timestamp($3::float8 / 1000.0), to_timestamp($3::float8 / 1000.0), $4, $5)
     ON CONFLICT (probe, location) DO UPDATE SET status = EXCLUDED.status, since = EXCLUDED.since, updated_at = EXCLUDED.updated_at,
       severity = EXCLUDED.severity, maintenance = EXCLUDED.maintenance`,
    [probe, status, now, fired.severity ?? null, fired.maintenance ?? null],
  );
}

/**
 * A location still down with a new severity, or out of maintenance: whether the probe's signal fires again. Yes
 * once, when the combination is down and last fired with another severity or flag (recorded here, under the
 * probe's lock, so the other locations seeing the same change add nothing).
 */
export async function refireCombined(
  store: Store,
  probe: string,
  fired: { severity: string; maintenance: boolean },
  now: number,
): Promise<QuorumDecision & { was?: { severity: string | null; maintenance: boolean | null } }> {
  return store.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK, probe]);
    const d = await combinedView(q, probe, now);
    const row = (await q.query<{ severity: string | null; maintenance: boolean | null }>('SELECT severity, maintenance FROM probe_locations WHERE probe = $1 AND location = $2', [probe, COMBINED])).rows[0];
    if (d.previous !== 'down' || (row?.severity === fired.severity && (row?.maintenance ?? false) === fired.maintenance)) return d;
    await q.query('UPDATE probe_locations SET severity = $3, maintenance = $4, updated_at = to_timestamp($5::float8 / 1000.0) WHERE probe = $1 AND location = $2', [
      probe,
      COMBINED,
      fired.severity,
      fired.maintenance,
      now,
    ]);
    return { ...d, emit: 'firing', was: { severity: row?.severity ?? null, maintenance: row?.maintenance ?? null } };
  });
}

/** Put back what the combined row last fired with (the re-fire could not be sent; the next result retries). */
export async function restoreFired(store: Store, probe: string, was: { severity: string | null; maintenance: boolean | null }): Promise<void> {
  await store.query('UPDATE probe_locations SET severity = $3, maintenance = $4 WHERE probe = $1 AND location = $2', [probe, COMBINED, was.severity, was.maintenance]);
}

/** "down from almaty, astana (2 of 3 locations)". */
export function describeViews(d: Pick<QuorumDecision, 'down' | 'of' | 'views'>): string {
  const down = d.views.filter((v) => v.live && v.status === 'down').map((v) => v.location);
  return `down from ${down.length ? down.join(', ') : 'no location'} (${d.down} of ${d.of} locations)`;
}

/** The combined status of `probe` (as `previous`) and every location's view, without recording anything. */
export async function combinedView(q: Queryable, probe: string, now: number): Promise<QuorumDecision> {
  const views = await locationViews(q, probe, now);
  return { previous: await combinedStatus(q, probe), down: views.filter((v) => v.live && v.status === 'down').length, of: await liveLocations(q, now), views };
}

async function liveLocations(q: Queryable, now: number): Promise<number> {
  const r = await q.query<{ n: number }>(`SELECT count(DISTINCT location)::int AS n FROM cluster_instances WHERE ${LIVE('cluster_instances')}`, [now]);
  return Math.max(r.rows[0]!.n, 1);
}

async function combinedStatus(q: Queryable, probe: string): Promise<'up' | 'down'> {
  const r = await q.query<{ status: 'up' | 'down' }>('SELECT status FROM probe_locations WHERE probe = $1 AND location = $2', [probe, COMBINED]);
  return r.rows[0]?.status ?? 'up';
}

/** What an incident shows of a probe's locations (the console's incident page and GET /api/v1/incidents/:id). */
export interface IncidentLocations {
  /** Locations that must see the probe failing (confirm.locations when it fired); null if not known. */
  required: number | null;
  /** Live locations that see it down, and live locations (with any instance): now, or when it fired. */
  down: number;
  of: number;
  /** 'current': each location's latest view; 'at_firing': the views the last firing signal carried (no current rows). */
  view: 'current' | 'at_firing';
  views: LocationView[];
}

interface FiredLocations {
  required?: number;
  down?: number;
  of?: number;
  views?: Array<{ location: string; status: 'up' | 'down'; since: string; instance: string | null; live: boolean; reason: string | null }>;
}

/**
 * The locations of a probe incident: each location's current view of the probe (the latest `probe_locations` rows,
 * live or not at `now`), with the number needed from the last firing signal. When the probe no longer has rows (removed
 * since), the views recorded on that signal. Null for other incidents and for probes confirmed from one place.
 */
export async function incidentLocations(q: Queryable, inc: { id: number; source: string; check: string }, now: number): Promise<IncidentLocations | null> {
  if (inc.source !== 'probe') return null;
  const [views, fired, live] = await Promise.all([
    locationViews(q, inc.check, now),
    q.query<{ locations: FiredLocations | string }>(
      `SELECT payload->'locations' AS locations FROM signals WHERE incident_id = $1 AND status = 'firing' AND payload ? 'locations' ORDER BY id DESC LIMIT 1`, [inc.id]),
    liveLocations(q, now),
  ]);
  const raw = fired.rows[0]?.locations;
  const f = (typeof raw === 'string' ? JSON.parse(raw) : raw) as FiredLocations | undefined;
  const required = typeof f?.required === 'number' ? f.required : null;
  if (views.length) {
    return { required, down: views.filter((v) => v.live && v.status === 'down').length, of: live, view: 'current', views };
  }
  if (!f?.views?.length) return null;
  const old = f.views.map((v) => ({ location: v.location, status: v.status, since: Date.parse(v.since), instance: v.instance ?? null, reason: v.reason ?? null, live: v.live === true }));
  return { required, down: f.down ?? old.filter((v) => v.live && v.status === 'down').length, of: f.of ?? old.length, view: 'at_firing', views: old };
}
