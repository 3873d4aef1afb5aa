import { setMaxListeners } from 'node:events';
import type { LookupFunction } from 'node:net';
import type { Registry } from 'prom-client';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/store.ts';
import { createProbe, runWithRetries } from './factory.ts';
import { HttpAgents } from './http-client.ts';
import { HeartbeatBook } from './kinds/heartbeat.ts';
import type { HostSampler } from './kinds/host.ts';
import { MaintenanceCalendar } from './maintenance.ts';
import { probeMetrics, type ProbeMetrics } from './metrics.ts';
import { ResultWriter, RollupJob, loadStates } from './results.ts';
import type { Job } from './scheduler.ts';
import { Scheduler } from './scheduler.ts';
import { buildSignal, orphanResolved, type Signal, type SignalSink } from './signals.ts';
import { advance, initialState, type ProbeState } from './state.ts';
import type { Probe, ProbeFile, ProbeResult } from './types.ts';
import { resolveProbe, type ResolvedProbe } from './validate.ts';
import { parseDuration } from '../../clock.ts';
import { describeViews, refireCombined, restoreFired, reportLocationView, restoreCombined, type QuorumDecision } from '../../cluster/quorum.ts';
import type { Step } from './state.ts';

// The probe source: one scheduler for all probes, confirmation state per probe, results to the store in
// batches, signals to the sink only on confirmed changes. It knows nothing about incidents.

/** The `probes:` section of kuzet.yaml (see probesSectionSchema); the probe files come from `probes_dir`. */
export interface ProbesSection {
  /** Probe runs at once (default 256). */
  concurrency?: number;
  /** Raw results kept this long (default "30d", at least "3d"). */
  raw_retention?: string;
  /** Zone of daily roll-ups (default Asia/Almaty). */
  rollup_zone?: string;
  /** How often roll-ups are recomputed (default "5m"). */
  rollup_every?: string;
}

export const probesSectionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    concurrency: { type: 'integer', minimum: 1, maximum: 10_000, default: 256 },
    raw_retention: { type: 'string', format: 'duration', default: '30d' },
    rollup_zone: { type: 'string', minLength: 1, default: 'Asia/Almaty' },
    rollup_every: { type: 'string', format: 'duration', default: '5m' },
  },
} as const;

export interface ProbeServiceDeps {
  clock: Clock;
  sink: SignalSink;
  /** Without a store results are not kept (the `kuzet probe` path, unit tests). */
  store?: Store;
  registry?: Registry;
  logger?: Logger;
  /** The link to an incident, for the "probe confirmed down/up" log line. */
  incidentUrl?: (id: number) => string;
  settings?: ProbesSection;
  lookup?: LookupFunction;
  hostSampler?: HostSampler;
  /** Several instances on one store: which probes this one runs, and its name on the results. */
  cluster?: ProbeCluster;
}

/** This instance's share of the probes (src/cluster/membership.ts); without one it runs every probe. */
export interface ProbeCluster {
  readonly id: string;
  readonly location: string;
  owns(name: string): boolean;
}

interface Slot {
  resolved: ResolvedProbe;
  probe: Probe;
  state: ProbeState;
  last?: ProbeResult;
}

export interface ProbeStatus {
  name: string;
  system: string;
  kind: string;
  status: 'up' | 'down';
  lastOk?: boolean;
  lastReason?: string;
  lastAt?: number;
  nextDue?: number;
}

export class ProbeService {
  readonly heartbeats: HeartbeatBook;
  readonly #d: ProbeServiceDeps;
  readonly #agents: HttpAgents;
  readonly #scheduler: Scheduler;
  readonly #writer?: ResultWriter;
  readonly #rollups?: RollupJob;
  readonly #metrics?: ProbeMetrics;
  #slots = new Map<string, Slot>();
  #calendar = new MaintenanceCalendar([]);
  #stop = new AbortController();
  #started = false;
  #loadedStates?: Map<string, ProbeState>;
  /** Names this instance schedules (all of them without a cluster). */
  #owned = new Set<string>();

  constructor(deps: ProbeServiceDeps) {
    this.#d = deps;
    this.#agents = new HttpAgents({ lookup: deps.lookup });
    this.heartbeats = new HeartbeatBook(deps.clock, deps.store);
    this.#metrics = deps.registry ? probeMetrics(deps.registry) : undefined;
    this.#scheduler = new Scheduler({
      clock: deps.clock,
      concurrency: deps.settings?.concurrency ?? 256,
      onError: (job, err) => deps.logger?.error('probe job failed', { probe: job, err }),
      onLate: (ms) => this.#metrics?.lateness.observe(ms / 1000),
    });
    if (deps.store) {
      const onError = (err: unknown) => deps.logger?.warn('probe results not written; will retry', { err });
      this.#writer = new ResultWriter({ store: deps.store, clock: deps.clock, onError });
      this.#rollups = new RollupJob({
        store: deps.store,
        clock: deps.clock,
        zone: deps.settings?.rollup_zone,
        rawRetentionDays: Math.ceil((parseDuration(deps.settings?.raw_retention ?? '30d') ?? 30 * 86_400_000) / 86_400_000),
        everyMs: parseDuration(deps.settings?.rollup_every ?? '5m'),
        onError: (err) => deps.logger?.warn('probe roll-up failed', { err }),
      });
    }
  }

  /**
   * Apply validated probe files (start-up and SIGHUP). Probes kept by name keep their confirmation state;
   * a removed probe that was down gets a resolved signal, so its incident does not stay open forever.
   */
  async apply(files: readonly ProbeFile[]): Promise<void> {
    const defs = files.flatMap((f) => f.probes ?? []).filter((p) => p.enabled !== false);
    this.#calendar = new MaintenanceCalendar(files.flatMap((f) => f.maintenance ?? []));
    const firstLoad = this.#d.store !== undefined && this.#loadedStates === undefined;
    if (this.#d.store && !this.#loadedStates) this.#loadedStates = await loadStates(this.#d.store);
    const next = new Map<string, Slot>();
    const deps = { clock: this.#d.clock, agents: this.#agents, heartbeats: this.heartbeats, lookup: this.#d.lookup, hostSampler: this.#d.hostSampler };
    for (const def of defs) {
      const resolved = resolveProbe(def);
      const old = this.#slots.get(def.name);
      const state = old?.state ?? this.#loadedStates?.get(def.name) ?? initialState();
      next.set(def.name, { resolved, probe: createProbe(def, deps), state, last: old?.last });
    }
    const removed = [...this.#slots.values()].filter((s) => !next.has(s.resolved.name));
    this.#slots = next;
    this.#schedule();
    const now = this.#d.clock.now();
    const goodbyes: Signal[] = [];
    for (const s of removed) {
      if (s.state.status === 'down') {
        goodbyes.push(buildSignal(s.resolved, 'resolved', { ok: true, reason: 'probe removed from the configuration', startedAt: now, durationMs: 0, assertions: [] }, undefined));
      }
      this.#writer?.setState(s.resolved.name, initialState());
      this.#metrics?.up.remove({ probe: s.resolved.name, system: s.resolved.system });
    }
    // Down when kuzet stopped, and gone from the files since: resolve it, or its incident stays open.
    for (const [name, st] of firstLoad ? this.#loadedStates! : []) {
      if (next.has(name) || st.status !== 'down') continue;
      if (st.system) goodbyes.push(orphanResolved(name, st.system, now));
      this.#writer?.setState(name, initialState());
    }
    if (goodbyes.length) await this.#d.sink.submit(goodbyes).catch((err) => this.#d.logger?.warn('could not resolve removed probes', { err }));
  }

  /**
   * Membership changed: schedule the probes this instance owns now. A probe taken over from another instance
   * continues from the confirmation state that instance last stored, on the same slots of its interval grid.
   * When `takeover` (an instance left), a probe whose last slot has no result (its owner died before or during
   * it) runs at once, so no probe goes longer than one interval plus the time to notice the death unprobed.
   */
  async rebalance(takeover = false): Promise<void> {
    const cluster = this.#d.cluster;
    if (!cluster) return;
    const since = this.#d.clock.now(); // slots from here on are ours, even those passing while we read the store
    const gained = [...this.#slots.keys()].filter((n) => !this.#owned.has(n) && cluster.owns(n));
    let dueNow: Set<string> | undefined;
    if (gained.length && this.#d.store) {
      try {
        const states = await loadStates(this.#d.store, gained);
        for (const n of gained) {
          const slot = this.#slots.get(n);
          if (slot) slot.state = states.get(n) ?? initialState();
        }
      } catch (err) {
        this.#d.logger?.warn('could not read the state of probes taken over; starting them afresh', { err });
      }
      if (takeover) dueNow = await this.#missedSlots(gained, since);
    }
    this.#schedule(dueNow, since);
  }

  /** Of `names`, those whose latest grid slot has no result from any instance (unknown: all of them). */
  async #missedSlots(names: readonly string[], now: number): Promise<Set<string>> {
    const prev = new Map(names.map((n) => [n, this.#scheduler.previousSlot(n, this.#slots.get(n)!.resolved.intervalMs, now)]));
    const oldest = Math.min(...prev.values());
    try {
      await this.#writer?.flush();
      const r = await this.#d.store!.query<{ probe: string; last: number }>(
        `SELECT probe, (EXTRACT(EPOCH FROM max(started_at)) * 1000)::float8 AS last FROM probe_results
         WHERE probe = ANY($1::text[]) AND started_at >= to_timestamp($2::float8 / 1000.0) GROUP BY probe`,
        [names, oldest],
      );
      const last = new Map(r.rows.map((x) => [x.probe, Number(x.last)]));
      return new Set(names.filter((n) => !((last.get(n) ?? -Infinity) >= prev.get(n)!)));
    } catch (err) {
      this.#d.logger?.warn('could not read when probes taken over last ran; running them now', { err });
      return new Set(names);
    }
  }
  /** Pings of heartbeat probes may reach any instance: re-read them (on every cluster heartbeat). */
  async refreshHeartbeats(): Promise<void> {
    await this.heartbeats.load();
  }

  /** Resolves when the scheduled runs started so far have finished, signals included (tests). */
  settled(): Promise<void> {
    return this.#scheduler.settled();
  }

  /** The names this instance schedules. */
  get owned(): ReadonlySet<string> {
    return this.#owned;
  }

  #schedule(dueNow?: ReadonlySet<string>, since?: number): void {
    const cluster = this.#d.cluster;
    const mine = [...this.#slots.values()].filter((s) => !cluster || cluster.owns(s.resolved.name));
    const owned = new Set(mine.map((s) => s.resolved.name));
    // A probe another instance runs now: its gauge here would only go stale.
    for (const n of this.#owned) {
      const s = this.#slots.get(n);
      if (s && !owned.has(n)) this.#metrics?.up.remove({ probe: n, system: s.resolved.system });
    }
    this.#owned = owned;
    this.#scheduler.setJobs(mine.map((s) => this.#job(s.resolved.name, s.resolved.intervalMs)), dueNow, since);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stop = new AbortController();
    setMaxListeners(0, this.#stop.signal); // one listener per running probe
    await this.heartbeats.load();
    this.#writer?.start();
    this.#rollups?.start();
    this.#scheduler.start();
  }

  /** Stop scheduling, abort running probes, write what is queued, close sockets. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#stop.abort();
    await this.#scheduler.stop();
    await this.#rollups?.stop();
    await this.#writer?.stop();
    await this.#agents.close();
  }

  status(): ProbeStatus[] {
    return [...this.#slots.values()].map((s) => ({
      name: s.resolved.name,
      system: s.resolved.system,
      kind: s.resolved.kind,
      status: s.state.status,
      lastOk: s.last?.ok,
      lastReason: s.last?.reason,
      lastAt: s.last?.startedAt,
      nextDue: this.#scheduler.dueOf(s.resolved.name),
    }));
  }

  /** For the heartbeat routes: the token of a heartbeat probe, undefined if there is none by that name. */
  heartbeatToken(name: string): string | undefined {
    const def = this.#slots.get(name)?.resolved.def;
    // An empty or short token never authenticates anyone.
    return def?.kind === 'heartbeat' && def.heartbeat.token.length >= 16 ? def.heartbeat.token : undefined;
  }

  get schedulerStats() {
    return this.#scheduler.stats;
  }

  get writer(): ResultWriter | undefined {
    return this.#writer;
  }

  /** Run one probe now, outside its schedule, through the same path (state, results, signals). */
  async runNow(name: string): Promise<ProbeResult | undefined> {
    if (!this.#slots.has(name)) return undefined;
    await this.#runSlot(name);
    return this.#slots.get(name)?.last;
  }

  /**
   * confirm.locations > 1: this location's confirmed change is one view; the signal fires (resolves) when the
   * views of the live locations cross the threshold (src/cluster/quorum.ts). A re-fire while this location stays
   * down (a changed severity, maintenance over) is sent when the combined status is down, as one location does.
   */
  async #acrossLocations(slot: Slot, r: ResolvedProbe, prev: ProbeState, step: Step, result: ProbeResult, windowName: string | undefined): Promise<void> {
    const local = step.state.status;
    const cluster = this.#d.cluster!;
    const store = this.#d.store!;
    const now = this.#d.clock.now();
    if (local === prev.status) {
      if (local === 'down' && step.emit === 'firing') return this.#refireAcrossLocations(slot, r, prev, step, result, windowName, now);
      slot.state = step.state;
      return;
    }
    // Not recorded or not sent: keep the old status so the next result attempts the same transition again.
    const retry = () => {
      slot.state = local === 'down' ? { ...prev, history: step.state.history } : { ...prev, successes: Math.max(0, r.recoverSuccesses - 1) };
    };
    let d: QuorumDecision;
    try {
      d = await reportLocationView(store, {
        probe: r.name,
        location: cluster.location,
        instance: cluster.id,
        status: local,
        at: result.startedAt,
        reason: result.reason,
        required: r.confirm.locations,
        now,
        severity: step.state.severity ?? r.severity,
        maintenance: step.state.maintenance ?? false,
      });
    } catch (err) {
      retry();
      this.#d.logger?.warn('probe view of this location not recorded; will retry on the next result', { probe: r.name, err });
      return;
    }
    slot.state = step.state;
    this.#writer?.setState(r.name, { ...step.state, system: r.system });
    const views = describeViews(d);
    this.#d.logger?.info(`probe ${r.name} ${local} from ${cluster.location}; ${views}, ${r.confirm.locations} needed`, { probe: r.name, location: cluster.location, status: local });
    if (!d.emit) return;
    const signal = withViews(buildSignal(r, d.emit, result, windowName, step.state.severity), r, d);
    try {
      await this.#d.sink.submit([signal]);
      this.#d.logger?.info(`probe ${r.name} confirmed ${d.emit === 'firing' ? 'down' : 'up'} (${r.system}): ${views}`, { probe: r.name, system: r.system, locations: d.views.length });
    } catch (err) {
      await restoreCombined(store, r.name, d.previous, now).catch(() => {});
      retry();
      this.#d.logger?.warn('probe signal not accepted; will retry on the next result', { probe: r.name, err });
    }
  }

  /** This location still down with a new severity (or out of maintenance): fire again if the combination is down. */
  async #refireAcrossLocations(slot: Slot, r: ResolvedProbe, prev: ProbeState, step: Step, result: ProbeResult, windowName: string | undefined, now: number): Promise<void> {
    const store = this.#d.store!;
    let d: Awaited<ReturnType<typeof refireCombined>>;
    try {
      d = await refireCombined(store, r.name, { severity: step.state.severity ?? r.severity, maintenance: step.state.maintenance ?? false }, now);
      if (d.emit) {
        await this.#d.sink.submit([withViews(buildSignal(r, 'firing', result, windowName, step.state.severity), r, d)]).catch(async (err: unknown) => {
          if (d.was) await restoreFired(store, r.name, d.was).catch(() => {});
          throw err;
        });
        this.#d.logger?.info(`probe ${r.name} still down (${r.system}), fired again as ${step.state.severity}${step.state.maintenance ? ' in maintenance' : ''}: ${describeViews(d)}`, {
          probe: r.name,
          system: r.system,
          severity: step.state.severity,
        });
      }
      slot.state = step.state;
      this.#writer?.setState(r.name, { ...step.state, system: r.system });
    } catch (err) {
      slot.state = { ...step.state, severity: prev.severity, maintenance: prev.maintenance }; // the next result tries again
      this.#d.logger?.warn('probe signal not accepted; will retry on the next result', { probe: r.name, err });
    }
  }

  #job(name: string, intervalMs: number): Job {
    // Checked again at run time: membership may have changed since the jobs were set.
    return { name, intervalMs, run: () => (!this.#d.cluster || this.#d.cluster.owns(name) ? this.#runSlot(name) : Promise.resolve()) };
  }

  async #runSlot(name: string): Promise<void> {
    let slot = this.#slots.get(name);
    if (!slot) return;
    const started = slot.resolved;
    const result = await runWithRetries(slot.probe, started, this.#d.clock, this.#stop.signal);
    if (this.#stop.signal.aborted && !result.ok) return; // aborted by stop: not an observation of the target
    // A reload during the run replaces the slot (keeping its state): record into the current one.
    slot = this.#slots.get(name);
    if (!slot) return; // removed by the reload; its goodbye signal was sent there
    const r = slot.resolved;
    slot.last = result;
    const windowName = this.#calendar.size ? this.#calendar.active(r, result.startedAt) : undefined;
    const maintenance = windowName !== undefined;
    this.#metrics?.up.set({ probe: r.name, system: r.system }, result.ok ? 1 : 0);
    this.#metrics?.duration.observe({ system: r.system, kind: r.kind }, result.durationMs / 1000);
    this.#metrics?.results.inc({ system: r.system, kind: r.kind, outcome: result.ok ? 'ok' : 'fail' });
    this.#writer?.add({
      probe: r.name,
      system: r.system,
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      ok: result.ok,
      intervalS: Math.max(1, Math.round(r.intervalMs / 1000)),
      maintenance,
      reason: result.reason?.slice(0, 1000),
      instance: this.#d.cluster?.id,
      location: this.#d.cluster?.location,
    });
    if (this.#metrics && this.#writer) this.#metrics.dropped.set(this.#writer.dropped);
    const prev = slot.state;
    const step = advance(prev, { ok: result.ok, at: result.startedAt, severity: result.severity ?? r.severity, maintenance }, {
      failures: r.confirm.failures,
      of: r.confirm.of,
      successes: r.recoverSuccesses,
    });
    if (r.confirm.locations > 1 && this.#d.cluster && this.#d.store) return this.#acrossLocations(slot, r, prev, step, result, windowName);
    if (!step.emit) {
      slot.state = step.state;
      return;
    }
    try {
      const [out] = (await this.#d.sink.submit([buildSignal(r, step.emit, result, windowName, step.state.severity)])) as Array<{ incidentId?: number | null } | undefined>;
      const incident = out?.incidentId ?? null;
      const url = incident !== null && this.#d.incidentUrl ? this.#d.incidentUrl(incident) : undefined;
      this.#d.logger?.info(
        `probe ${r.name} confirmed ${step.emit === 'firing' ? 'down' : 'up'} (${r.system})${incident !== null ? `, incident ${incident}` : ''}${url ? ` ${url}` : ''}${step.emit === 'firing' && result.reason ? `: ${result.reason.slice(0, 300)}` : ''}`,
        { probe: r.name, system: r.system, status: step.emit === 'firing' ? 'down' : 'up', incident, url, reason: result.reason?.slice(0, 1000), maintenance },
      );
      slot.state = step.state;
      this.#writer?.setState(r.name, { ...step.state, system: r.system });
    } catch (err) {
      // Not committed: keep the old status so the next result attempts the same transition again.
      if (step.emit === 'resolved') slot.state = { ...prev, successes: Math.max(0, r.recoverSuccesses - 1) };
      else if (prev.status === 'up') slot.state = { ...prev, history: step.state.history };
      else slot.state = { ...step.state, severity: prev.severity, maintenance: prev.maintenance };
      this.#d.logger?.warn('probe signal not accepted; will retry on the next result', { probe: r.name, err });
    }
  }
}

/** The signal with each location's view: in the summary, and as payload.locations. */
function withViews(base: Signal, r: ResolvedProbe, d: Pick<QuorumDecision, 'down' | 'of' | 'views'>): Signal {
  return {
    ...base,
    summary: `${base.summary} — ${describeViews(d)}`.slice(0, 4000),
    payload: {
      ...base.payload,
      locations: {
        required: r.confirm.locations,
        down: d.down,
        of: d.of,
        views: d.views.map((v) => ({ location: v.location, status: v.status, since: new Date(v.since).toISOString(), instance: v.instance, live: v.live, reason: v.reason?.slice(0, 300) ?? null })),
      },
    },
  };
}
