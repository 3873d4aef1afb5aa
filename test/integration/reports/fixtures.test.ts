import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildReport } from '../../../src/reports/build.ts';
import type { Report } from '../../../src/reports/model.ts';
import { parsePeriod } from '../../../src/reports/period.ts';
import { renderCsv } from '../../../src/reports/render.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { context, L, seedFixture } from './fixture.ts';

// Hand-computed figures for March 2026 (31 days = 44,640 minutes; Asia/Almaty = UTC+5):
// enbek down: 37 (23:40 → 00:17 across midnight) + 50 (two probes 10:00–10:30 and 10:20–10:50, union)
//   + 60 (02:30–03:30, half in the 02:00–03:00 maintenance window) + 10 (23:50 → month end) = 157 min;
//   availability 1 − 157 / 44,640 = 99.6483 %. Excluding maintenance: 127 min over 44,580 = 99.7151 %.
//   Degraded (latency only) 12 min. The TLS probe's two hours do not count.
// nqs down: the staff-declared outage, 45 min: 1 − 45 / 44,640 = 99.8992 %. Overall = mean = 99.7737 %.

describe(`reports on hand-computed fixtures (${storeKind})`, () => {
  let store: Store;
  let now: number;
  const build = (kind: Report['kind'], period: string, o: { system?: string; excludeMaintenance?: boolean } = {}) =>
    buildReport(context(store, now), { kind, period: parsePeriod(period), ...o });
  const row = (r: Report, table: string, key: string, value: string) => r.tables.find((t) => t.id === table)!.rows.find((x) => x[key] === value)!;
  const fig = (r: Report, key: string) => r.summary.find((s) => s.key === key)?.value;

  before(async () => {
    store = await freshStore();
    const { clock } = await seedFixture(store);
    now = clock.now();
  });
  after(async () => store?.close());

  it('availability: outage across midnight, across the month end, overlapping probes, maintenance counted', async () => {
    const r = await build('availability', '2026-03');
    const enbek = row(r, 'systems', 'system', 'enbek');
    assert.equal(enbek.downtime_min, 157);
    assert.equal(enbek.availability_pct, 99.6483);
    assert.equal(enbek.outages, 4);
    assert.equal(enbek.degraded_min, 12);
    assert.equal(enbek.maintenance_min, 60);
    assert.equal(enbek.counted_min, 44_640);
    assert.equal(enbek.p50_ms, 150);
    assert.equal(enbek.p95_ms, 300);
    assert.equal(enbek.p99_ms, 450);
    assert.equal(enbek.results, 5760);
    const nqs = row(r, 'systems', 'system', 'nqs');
    assert.equal(nqs.downtime_min, 45);
    assert.equal(nqs.availability_pct, 99.8992);
    assert.equal(fig(r, 'overall_availability_pct'), 99.7737);

    const outages = r.tables.find((t) => t.id === 'outages')!.rows;
    assert.deepEqual(
      outages.map((o) => [o.system, o.start, o.end, o.duration_min, o.probes, o.sources]),
      [
        ['enbek', '2026-03-10T23:40:00+05:00', '2026-03-11T00:17:00+05:00', 37, 'enbek-home-ru', 'probe; log'],
        ['enbek', '2026-03-15T10:00:00+05:00', '2026-03-15T10:50:00+05:00', 50, 'enbek-home-ru; enbek-search', 'probe'],
        ['enbek', '2026-03-20T02:30:00+05:00', '2026-03-20T03:30:00+05:00', 60, 'enbek-search', 'probe'],
        ['nqs', '2026-03-25T09:00:00+05:00', '2026-03-25T09:45:00+05:00', 45, '', 'staff'],
        ['enbek', '2026-03-31T23:50:00+05:00', '2026-04-01T00:00:00+05:00', 10, 'enbek-home-ru', 'probe'],
      ],
    );
    const overlap = outages[1]!;
    assert.match(String(overlap.incidents), /^#\d+; #\d+$/);
    assert.equal(overlap.causes, 'status 502');
    // The log rule that fired during the midnight outage is listed among the sources that saw it.
    assert.equal(outages[0]!.sources, 'probe; log');
    assert.match(String(outages[0]!.also_seen_by), /^#\d+ log$/);
    assert.equal(outages[1]!.also_seen_by, '');

    const daily = r.charts.find((c) => c.id === 'daily-enbek')!.bars;
    assert.equal(daily.length, 31);
    const bar = (d: string) => daily.find((b) => b.label === d)!.value;
    assert.equal(bar('2026-03-10'), 98.611); // 20 of 1,440 minutes
    assert.equal(bar('2026-03-11'), 98.819); // 17 minutes
    assert.equal(bar('2026-03-15'), 96.528); // 50 minutes
    assert.equal(bar('2026-03-05'), 100); // degraded is not down
  });

  it('availability with maintenance excluded, and the outage that crosses into April', async () => {
    const r = await build('availability', '2026-03', { system: 'enbek', excludeMaintenance: true });
    assert.equal(r.tables[0]!.rows.length, 1);
    const enbek = r.tables[0]!.rows[0]!;
    assert.equal(enbek.downtime_min, 127);
    assert.equal(enbek.counted_min, 44_580);
    assert.equal(enbek.availability_pct, 99.7151);
    assert.equal(r.scope.exclude_maintenance, true);

    const april = await build('availability', '2026-04', { system: 'enbek' });
    assert.equal(april.tables[0]!.rows[0]!.downtime_min, 10);
    // Read on 5 April 12:00: April is counted up to then, 4.5 days = 6,480 minutes: 1 − 10 / 6,480.
    assert.equal(april.tables[0]!.rows[0]!.counted_min, 6480);
    assert.equal(april.tables[0]!.rows[0]!.availability_pct, 99.8457);
    assert.equal(april.period.observed_to, '2026-04-05T07:00:00.000Z');
    assert.deepEqual(april.tables[1]!.rows.map((o) => [o.start, o.end]), [['2026-04-01T00:00:00+05:00', '2026-04-01T00:10:00+05:00']]);

    // A custom range: only 10–11 March, 37 minutes over 2 days.
    const two = await build('availability', '2026-03-10..2026-03-11', { system: 'enbek' });
    assert.equal(two.tables[0]!.rows[0]!.downtime_min, 37);
    assert.equal(two.tables[0]!.rows[0]!.availability_pct, 98.7153); // 1 − 37 / 2,880
  });

  it('incidents: sources, severity, MTTA and MTTR', async () => {
    const r = await build('incidents', '2026-03');
    assert.equal(fig(r, 'incidents'), 11);
    assert.equal(fig(r, 'mtta_min'), 5); // only the staff outage was acknowledged, 5 minutes after it opened
    assert.equal(fig(r, 'mttr_min'), 295.818); // (12 + 2880 + 37 + 10 + 30 + 30 + 120 + 60 + 20 + 45 + 10) / 11
    const enbek = row(r, 'by_system', 'system', 'enbek');
    assert.equal(enbek.incidents, 8);
    assert.equal(enbek.source_probes, 7);
    assert.equal(enbek.source_logs, 1);
    const nqs = row(r, 'by_system', 'system', 'nqs');
    assert.equal(nqs.source_staff, 2);
    assert.equal(nqs.source_probes, 1);
    assert.equal(nqs.severity_critical, 3);
  });

  it('requests: a Nauryz-crossing request, an extended NQS request, an open overdue one', async () => {
    const r = await build('requests', '2026-03');
    const items = r.tables[0]!.rows;
    const nauryz = items.find((x) => x.number === 'E-2026-0001')!;
    assert.equal(nauryz.due_at, '2026-03-30T18:00:00+05:00');
    assert.equal(nauryz.on_time, true);
    assert.equal(nauryz.working_hours_to_answer, 12.017); // 17:59–18:00 on 20 Mar, 9 h on 26 Mar, 3 h on 27 Mar
    const ext = items.find((x) => x.number === 'N-2026-0001')!;
    assert.equal(ext.on_time, true);
    assert.equal(ext.extended_to_wd, 10);
    assert.equal(ext.extension, 'defect_fix +10wd: fix in release 4.2');
    assert.equal(ext.working_hours_to_answer, 86); // 8 + 4 × 9 + 4 × 9 + 6; 9 March (Women's Day moved) is off
    const open = items.find((x) => x.number === 'E-2026-0002')!;
    assert.equal(open.overdue, true);
    const enbek = row(r, 'by_form', 'form', 'enbek');
    assert.deepEqual([enbek.received, enbek.answered_on_time, enbek.answered_late, enbek.open, enbek.open_overdue, enbek.median_working_hours], [2, 1, 0, 1, 1, 12.017]);
    const nqs = row(r, 'by_form', 'form', 'nqs');
    assert.deepEqual([nqs.received, nqs.extended, nqs.median_working_hours, nqs.p90_working_hours], [1, 1, 86, 86]);
    const facts = r.calendar_facts.map((f) => `${f.key} ${f.value}`);
    for (const d of ['2026-03-21', '2026-03-22', '2026-03-23', '2026-03-24', '2026-03-25', '2026-03-09']) assert.ok(facts.some((f) => f.includes(d)), `calendar fact for ${d}: ${facts.join(' | ')}`);
    assert.ok(facts.includes('working_days 18; 9:00–18:00'), facts.join(' | '));
  });

  it('backups: a drill over its RTO', async () => {
    const r = await build('backups', '2026-03');
    const job = r.tables[0]!.rows[0]!;
    assert.deepEqual([job.job, job.backups, job.verifications, job.drills, job.drills_failed, job.drills_over_rto, job.rto_objective_min, job.rto_worst_min], ['enbek-db', 1, 1, 2, 1, 1, 60, 90]);
    const drills = r.tables[1]!.rows;
    assert.deepEqual(drills.map((d) => [d.rto_measured_min, d.within_rto]), [[20, true], [90, false]]);
    assert.equal(fig(r, 'drills_over_rto'), 1);
  });

  it('feeds: per-period met or missed, and what is not configured', async () => {
    const r = await build('feeds', '2026-03');
    const rows = r.tables[0]!.rows;
    const rc = rows.find((x) => x.feed === 'recognition-centres')!;
    assert.deepEqual([rc.slot, rc.status, rc.late_min, rc.results], ['2026-03', 'missed', 2880, 48]);
    const sc = rows.find((x) => x.feed === 'sectoral-councils')!;
    assert.deepEqual([sc.slot, sc.status], ['2026-Q1', 'met']);
    const pr = rows.find((x) => x.feed === 'professions-register')!;
    assert.deepEqual([pr.slot, pr.status], ['2026-H1', 'not_configured']);
    assert.ok(r.notes.includes('note_feeds_missing'));
  });

  it('nqs-yearly: the year of the NQS platform, sections to write, and only for a year', async () => {
    const r = await buildReport(context(store, now), { kind: 'nqs-yearly', period: parsePeriod('2026'), notes: { problems: 'Mobile API not yet watched.' } });
    assert.equal(r.scope.system, null);
    assert.equal(fig(r, 'availability.downtime_min'), 45);
    assert.equal(fig(r, 'requests.extended'), 1);
    assert.equal(fig(r, 'nqs_due'), '2026-12-15T18:00:00+05:00');
    assert.deepEqual(r.sections.map((s) => [s.id, s.text]), [['situation', ''], ['problems', 'Mobile API not yet watched.'], ['proposals', '']]);
    await assert.rejects(build('nqs-yearly', '2026-03'), /period: the nqs-yearly report covers a year/);
  });

  it('states its period, calendar facts, version and a SHA-256 of its data that follows the data', async () => {
    const a = await build('availability', '2026-03');
    const b = await build('availability', '2026-03');
    assert.equal(a.data_sha256, b.data_sha256);
    assert.match(a.data_sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(a.period, { label: '2026-03', first_day: '2026-03-01', last_day: '2026-03-31', from: '2026-02-28T19:00:00.000Z', to: '2026-03-31T19:00:00.000Z', observed_to: '2026-03-31T19:00:00.000Z', days: 31 });
    assert.equal(a.kuzet_version, '9.9.9-test');
    assert.ok(a.calendar_facts.some((f) => f.key === 'zone' && f.value === 'Asia/Almaty, UTC+5'));
    const csv = renderCsv(a);
    assert.ok(csv.includes(a.data_sha256));
    // One more minute of down time changes the hash.
    await store.query(`UPDATE incident_events SET at = at + interval '1 minute' WHERE kind = 'resolved' AND at = $1`, [new Date(L('2026-03-11T00:17')).toISOString()]);
    const c = await build('availability', '2026-03');
    assert.notEqual(c.data_sha256, a.data_sha256);
    assert.equal(c.tables[0]!.rows[0]!.downtime_min, 158);
    await store.query(`UPDATE incident_events SET at = at - interval '1 minute' WHERE kind = 'resolved' AND at = $1`, [new Date(L('2026-03-11T00:18')).toISOString()]);
  });
});
