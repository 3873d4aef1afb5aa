import { fileURLToPath } from 'node:url';
import { FakeClock } from '../../../src/clock.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import { lifecyclePolicy } from '../../../src/incidents/lifecycle.ts';
import { loadCalendarFile } from '../../../src/requests/calendar-file.ts';
import type { ProbeInfo } from '../../../src/reports/availability.ts';
import type { ReportContext } from '../../../src/reports/build.ts';
import type { Signal } from '../../../src/signals/signal.ts';
import type { Store } from '../../../src/store/store.ts';

// A month of hand-computed history (March 2026, Asia/Almaty = UTC+5), written through the real incident engine
// on an injected clock. The expected figures are worked out by hand in fixtures.test.ts.

export const CAL_FILE = fileURLToPath(new URL('../../../config/calendars/kz.yaml', import.meta.url));
export const L = (local: string) => Date.parse(`${local}+05:00`);

export const PROBES: ProbeInfo[] = [
  { name: 'enbek-home-ru', system: 'enbek', kind: 'http', availability: true, enabled: true, labels: {} },
  { name: 'enbek-search', system: 'enbek', kind: 'flow', availability: true, enabled: true, labels: {} },
  { name: 'enbek-tls', system: 'enbek', kind: 'tls', availability: false, enabled: true, labels: {} },
  { name: 'nqs-web-ru', system: 'nqs', kind: 'http', availability: true, enabled: true, labels: {} },
  { name: 'nqs-feed-recognition-centres', system: 'nqs', kind: 'sql', availability: false, enabled: true, labels: { feed: 'recognition-centres', cadence: 'monthly' }, maxValue: 35 },
  { name: 'nqs-feed-sectoral-councils', system: 'nqs', kind: 'sql', availability: false, enabled: true, labels: { feed: 'sectoral-councils', cadence: 'quarterly' }, maxValue: 100 },
  { name: 'nqs-feed-professions-register', system: 'nqs', kind: 'sql', availability: false, enabled: false, labels: { feed: 'professions-register', cadence: 'half-yearly' }, maxValue: 190 },
];

export const MAINTENANCE = [{ name: 'enbek night works', start: '2026-03-20T02:00:00+05:00', end: '2026-03-20T03:00:00+05:00', systems: ['enbek'] }];

export function context(store: Store, now: number): ReportContext {
  return {
    q: store,
    now,
    version: '9.9.9-test',
    systems: [
      { id: 'enbek', name: 'Electronic Labour Exchange' },
      { id: 'nqs', name: 'NQS platform' },
    ],
    probes: PROBES,
    maintenance: MAINTENANCE,
    calendar: loadCalendarFile(CAL_FILE).calendar,
    backups: [{ name: 'enbek-db', system: 'enbek', rtoMs: 3_600_000 }],
    nqs: { system: 'nqs', owner: 'head-ops', due: '12-15' },
  };
}

const probeSignal = (probe: string, system: string, status: 'firing' | 'resolved', at: number, opts: { latency?: boolean; maintenance?: boolean } = {}): Signal => ({
  source: 'probe',
  system,
  check: probe,
  fingerprint: `probe:${probe}`,
  severity: 'critical',
  status,
  summary: status === 'firing' ? `${probe}: ${opts.latency ? 'response time <= 5s: 7200 ms' : 'status 502'}` : `${probe}: recovered`,
  labels: { probe, kind: PROBES.find((p) => p.name === probe)!.kind, ...(opts.maintenance ? { maintenance: 'true', maintenance_window: 'enbek night works' } : {}) },
  payload: status === 'firing'
    ? { reason: opts.latency ? 'response time <= 5s: 7200 ms' : 'status 502', failed_assertions: [{ name: opts.latency ? 'response time <= 5s' : 'status in [200]', actual: 'x' }] }
    : {},
  observedAt: at,
});

/** [probe, system, local start, local end, options] */
const STRETCHES: [string, string, string, string, { latency?: boolean; maintenance?: boolean }?][] = [
  ['enbek-home-ru', 'enbek', '2026-03-05T12:00', '2026-03-05T12:12', { latency: true }], // degraded 12 min
  ['nqs-feed-recognition-centres', 'nqs', '2026-03-05T00:00', '2026-03-07T00:00'], // feed too old for 2 days
  ['enbek-home-ru', 'enbek', '2026-03-10T23:40', '2026-03-11T00:17'], // 37 min across midnight
  ['enbek-home-ru', 'enbek', '2026-03-15T10:00', '2026-03-15T10:30'], // overlapping probes:
  ['enbek-search', 'enbek', '2026-03-15T10:20', '2026-03-15T10:50'], //   union 50 min, not 60
  ['enbek-tls', 'enbek', '2026-03-16T08:00', '2026-03-16T10:00'], // not an availability probe
  ['enbek-search', 'enbek', '2026-03-20T02:30', '2026-03-20T03:30', { maintenance: true }], // half in the window
  ['enbek-home-ru', 'enbek', '2026-03-31T23:50', '2026-04-01T00:10'], // across the month boundary
];

export async function seedFixture(store: Store): Promise<{ clock: FakeClock; engine: IncidentEngine }> {
  const clock = new FakeClock('2026-03-01T00:00:00+05:00');
  const engine = new IncidentEngine({ store, clock, policy: () => lifecyclePolicy({ reopen_window: '30m', flapping: { flips: 6, window: '1h', settle: '0s' } }) });
  const events: { at: number; run: () => Promise<unknown> }[] = [];
  for (const [probe, system, a, b, o] of STRETCHES) {
    events.push({ at: L(a), run: () => engine.processBatch([probeSignal(probe, system, 'firing', L(a), o)]) });
    events.push({ at: L(b), run: () => engine.processBatch([probeSignal(probe, system, 'resolved', L(b), o)]) });
  }
  // A staff-declared outage of nqs (45 min, acknowledged after 5) and a staff report that is not an outage (10 min).
  const staff = (fp: string, outage: boolean, status: 'firing' | 'resolved', at: number): Signal => ({
    source: 'staff', system: 'nqs', check: 'manual', fingerprint: fp, severity: 'critical', status,
    summary: outage ? 'NQS platform is down for everyone' : 'Slow certificate page', labels: outage ? { outage: 'true' } : {}, payload: {}, observedAt: at,
  });
  events.push({ at: L('2026-03-25T09:00'), run: () => engine.processBatch([staff('staff:1', true, 'firing', L('2026-03-25T09:00'))]) });
  events.push({
    at: L('2026-03-25T09:05'),
    run: async () => {
      const r = await store.query<{ id: string }>(`SELECT id FROM incidents WHERE fingerprint = 'staff:1'`);
      await engine.acknowledge(Number(r.rows[0]!.id), 'duty-1');
    },
  });
  events.push({ at: L('2026-03-25T09:45'), run: () => engine.processBatch([staff('staff:1', true, 'resolved', L('2026-03-25T09:45'))]) });
  events.push({ at: L('2026-03-26T11:00'), run: () => engine.processBatch([staff('staff:2', false, 'firing', L('2026-03-26T11:00'))]) });
  events.push({ at: L('2026-03-26T11:10'), run: () => engine.processBatch([staff('staff:2', false, 'resolved', L('2026-03-26T11:10'))]) });
  // A log rule saw the midnight outage too (10 minutes of 5xx in nginx's log): it is listed, not counted as down.
  const log = (status: 'firing' | 'resolved', at: number): Signal => ({
    source: 'log', system: 'enbek', check: 'nginx-5xx', fingerprint: 'log:nginx-5xx', severity: 'major', status,
    summary: 'nginx: 250 responses 5xx in 5 minutes', labels: { rule: 'nginx-5xx' }, payload: {}, observedAt: at,
  });
  events.push({ at: L('2026-03-10T23:45'), run: () => engine.processBatch([log('firing', L('2026-03-10T23:45'))]) });
  events.push({ at: L('2026-03-10T23:55'), run: () => engine.processBatch([log('resolved', L('2026-03-10T23:55'))]) });
  events.sort((x, y) => x.at - y.at);
  for (const e of events) {
    clock.set(e.at);
    await e.run();
  }

  // Daily roll-ups (what the probe service writes): two days of enbek-home-ru with known percentiles, and the
  // feed probes' checks.
  const day = (d: string) => new Date(L(`${d}T00:00`)).toISOString();
  const rollup = (probe: string, system: string, d: string, count: number, failures: number, down: number, p: [number, number, number] | null) =>
    store.query(
      `INSERT INTO probe_rollups (probe, system, period, period_start, count, failures, downtime_seconds, p50_ms, p95_ms, p99_ms, updated_at)
       VALUES ($1, $2, 'day', $3, $4, $5, $6, $7, $8, $9, now())`,
      [probe, system, day(d), count, failures, down, p?.[0] ?? null, p?.[1] ?? null, p?.[2] ?? null],
    );
  await rollup('enbek-home-ru', 'enbek', '2026-03-01', 2880, 0, 0, [100, 200, 300]);
  await rollup('enbek-home-ru', 'enbek', '2026-03-02', 2880, 0, 0, [200, 400, 600]);
  await rollup('nqs-web-ru', 'nqs', '2026-03-01', 2880, 0, 0, [150, 300, 450]);
  await rollup('nqs-feed-recognition-centres', 'nqs', '2026-03-05', 24, 24, 86_400, null);
  await rollup('nqs-feed-recognition-centres', 'nqs', '2026-03-10', 24, 0, 0, null);
  await rollup('nqs-feed-sectoral-councils', 'nqs', '2026-03-10', 4, 0, 0, null);

  // Requests (rows as the request service writes them; deadlines from `kuzet calendar due`).
  const request = (n: string, form: string, system: string, received: string, clockStart: string, d0: string, rule: string, due: string, answered: string | null, extendedTo: number | null) =>
    store.query<{ id: string }>(
      `INSERT INTO requests (number, kind, form, system, lang, channel, status, received_at, answered_at, d0, clock_start_at, due_rule, extended_to, due_at, updated_at)
       VALUES ($1, 'trouble', $2, $3, 'ru', 'web', $4, $5, $6, $7, $8, $9, $10, $11, now()) RETURNING id`,
      [n, form, system, answered ? 'answered' : 'received', new Date(L(received)).toISOString(), answered ? new Date(L(answered)).toISOString() : null, d0,
        new Date(L(clockStart)).toISOString(), rule, extendedTo, new Date(L(due)).toISOString()],
    );
  // Fri 20 Mar 17:59 + 3 working days across Nauryz (21–25 Mar off): due Mon 30 Mar 18:00; answered Fri 27 Mar 12:00.
  await request('E-2026-0001', 'enbek', 'enbek', '2026-03-20T17:59', '2026-03-20T17:59', '2026-03-20', '3 working days', '2026-03-30T18:00', '2026-03-27T12:00', null);
  // Received Tue 10 Mar, due Fri 13 Mar 18:00, never answered: open and overdue.
  await request('E-2026-0002', 'enbek', 'enbek', '2026-03-10T10:00', '2026-03-10T10:00', '2026-03-10', '3 working days', '2026-03-13T18:00', null, null);
  // NQS: 5 working days from Mon 2 Mar (due Tue 10 Mar), extended to 10 working days from the same D0 (Tue 17 Mar);
  // answered Mon 16 Mar 15:00: late against the first deadline, on time against the extended one.
  const nqs = await request('N-2026-0001', 'nqs', 'nqs', '2026-03-02T10:00', '2026-03-02T10:00', '2026-03-02', '5 working days', '2026-03-17T18:00', '2026-03-16T15:00', 10);
  await store.query(
    `INSERT INTO request_extensions (request_id, at, actor, reason, working_days, note, old_due_at, new_due_at)
     VALUES ($1, $2, 'specialist', 'defect_fix', 10, 'fix in release 4.2', $3, $4)`,
    [nqs.rows[0]!.id, new Date(L('2026-03-06T11:00')).toISOString(), new Date(L('2026-03-10T18:00')).toISOString(), new Date(L('2026-03-17T18:00')).toISOString()],
  );

  // Backups: a backup, a verification, a drill within its RTO (20 min) and one over it (90 min against 60).
  const run = (task: string, status: string, started: string, detail: object, reasonCode: string | null = null) =>
    store.query(
      `INSERT INTO backup_runs (job, task, trigger, status, started_at, finished_at, duration_ms, reason_code, reason, detail)
       VALUES ('enbek-db', $1, 'schedule', $2, $3, $3, 1000, $4, $5, $6)`,
      [task, status, new Date(L(started)).toISOString(), reasonCode, reasonCode ? 'restore took 5400.0 s, longer than the RTO of 3600 s' : null, JSON.stringify(detail)],
    );
  await run('backup', 'ok', '2026-03-03T02:00', {});
  await run('verify', 'ok', '2026-03-03T03:00', {});
  await run('drill', 'ok', '2026-03-08T04:00', { restoreSeconds: 1200 });
  await run('drill', 'failed', '2026-03-15T04:00', { restoreSeconds: 5400 }, 'rto_exceeded');
  clock.set(L('2026-04-05T12:00'));
  return { clock, engine };
}
