import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildReport, type ReportContext } from '../../../src/reports/build.ts';
import type { Report } from '../../../src/reports/model.ts';
import { parsePeriod } from '../../../src/reports/period.ts';
import { renderCsv, renderHtml, renderJson } from '../../../src/reports/render.ts';
import { rollupDays, rollupHours } from '../../../src/sources/probes/results.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { seedLocations } from './locations-fixture.ts';

// The availability report when several locations probe the same target: roll-ups per location, each location's
// figures, and the overall figure of a probe by its confirm.locations (hand-computed in locations-fixture.ts).

describe(`availability report with two probing locations (${storeKind})`, () => {
  let store: Store;
  let ctx: ReportContext;
  let r: Report;
  const table = (id: string) => r.tables.find((t) => t.id === id);

  before(async () => {
    store = await freshStore();
    ({ ctx } = await seedLocations(store));
    r = await buildReport(ctx, { kind: 'availability', period: parsePeriod('2026-03') });
  });
  after(async () => store?.close());

  it('rolls up per probe and location: a failure lasts until the same location’s next result', async () => {
    const rows = (await store.query<{ probe: string; location: string; down: number; n: number; f: number }>(
      `SELECT probe, location, downtime_seconds AS down, count AS n, failures AS f FROM probe_rollups WHERE period = 'day' ORDER BY probe, location`,
    )).rows;
    assert.deepEqual(rows.map((x) => [x.probe, x.location, x.down / 60, x.n, x.f]), [
      ['enbek-api', '*1', 15.5, 0, 0],
      ['enbek-api', '*2', 4.5, 0, 0], // both down 06:00:30–06:05
      ['enbek-api', 'almaty', 10, 120, 10],
      ['enbek-api', 'astana', 10, 120, 10],
      ['enbek-web', '*1', 38.5, 0, 0], // 25 + 23 − 9.5
      ['enbek-web', '*2', 9.5, 0, 0],
      ['enbek-web', 'almaty', 25, 120, 25],
      ['enbek-web', 'astana', 23, 120, 23],
      ['nqs-home', '', 5, 120, 5],
    ]);
    // The hour across which enbek-api's outage runs is split at the hour.
    const hours = (await store.query<{ location: string; h: string; down: number }>(
      `SELECT location, to_char(period_start AT TIME ZONE 'UTC', 'HH24') AS h, downtime_seconds AS down FROM probe_rollups
        WHERE period = 'hour' AND probe = 'enbek-api' ORDER BY location, period_start`,
    )).rows;
    assert.deepEqual(hours.map((x) => [x.location, x.h, x.down / 60]), [
      ['*1', '05', 5], ['*1', '06', 10.5], ['*2', '06', 4.5], ['almaty', '05', 5], ['almaty', '06', 5], ['astana', '05', 0], ['astana', '06', 10],
    ]);
  });

  it('per-location rows and the overall figure: down while at least confirm.locations locations see it failing', () => {
    // The systems table: probe downtime from the overall figures (34 min when the locations' results were mixed in
    // one window), results from every location; the single-location system as ever.
    const sys = (id: string) => table('systems')!.rows.find((x) => x.system === id)!;
    assert.equal(sys('enbek').probe_downtime_min, 25);
    assert.equal(sys('enbek').results, 480);
    assert.equal(sys('nqs').probe_downtime_min, 5);
    assert.equal(sys('nqs').results, 120);
    const loc = table('locations');
    assert.ok(loc, 'the report has a locations table');
    assert.deepEqual(loc.rows.map((x) => [x.probe_name, x.location, x.required_locations, x.probe_down_min, x.availability_pct, x.results, x.failures, x.counted_min]), [
      ['enbek-api', 'almaty', null, 10, 99.9776, 120, 10, 44_640],
      ['enbek-api', 'astana', null, 10, 99.9776, 120, 10, 44_640],
      ['enbek-api', 'all_locations', 1, 15.5, 99.9653, 240, 20, 44_640],
      ['enbek-web', 'almaty', null, 25, 99.944, 120, 25, 44_640],
      ['enbek-web', 'astana', null, 23, 99.9485, 120, 23, 44_640],
      ['enbek-web', 'all_locations', 2, 9.5, 99.9787, 240, 48, 44_640],
    ]);
    // Each location's latency is its own.
    assert.deepEqual(loc.rows.filter((x) => x.probe_name === 'enbek-web').map((x) => x.p50_ms), [100, 300, 200]);
    assert.ok(r.notes.includes('note_locations'));
  });

  it('in every format: CSV rows after the systems, JSON, HTML in Russian, Kazakh and English', () => {
    const csv = renderCsv(r).split('\r\n');
    const head = csv[0]!.split(',');
    for (const k of ['probe_name', 'location', 'required_locations', 'probe_down_min', 'failures']) assert.ok(head.includes(k), k);
    const cell = (line: string, k: string) => line.split(',')[head.indexOf(k)];
    const webAll = csv.find((l) => cell(l, 'probe_name') === 'enbek-web' && cell(l, 'location') === 'all_locations')!;
    assert.equal(cell(webAll, 'availability_pct'), '99.9787');
    assert.equal(cell(webAll, 'required_locations'), '2');
    assert.equal(csv.filter((l) => cell(l, 'location')).length - 1, 6, 'six location rows besides the header');
    assert.equal(cell(csv.find((l) => cell(l, 'system') === 'enbek' && !cell(l, 'location'))!, 'probe_downtime_min'), '25');

    const json = JSON.parse(renderJson(r)) as Report;
    assert.deepEqual(json.tables.find((t) => t.id === 'locations')!.rows[5], r.tables.find((t) => t.id === 'locations')!.rows[5]);

    const ru = renderHtml(r, 'ru');
    assert.match(ru, /<h2>Проверки по местам<\/h2>/);
    assert.match(ru, /<td>enbek-web<\/td><td>в целом<\/td><td class="n">2<\/td><td class="n">99,979<\/td>/);
    assert.match(ru, /Нужно мест/);
    assert.match(ru, /по тому же правилу открывается инцидент/);
    const kk = renderHtml(r, 'kk');
    assert.match(kk, /<h2>Орындар бойынша тексерулер<\/h2>/);
    assert.match(kk, /<td>enbek-web<\/td><td>жалпы<\/td>/);
    const en = renderHtml(r, 'en');
    assert.match(en, /<td>enbek-web<\/td><td>almaty<\/td><td class="n">—<\/td><td class="n">99\.944<\/td>/);
    assert.match(en, /at least “Locations needed” of its locations/);
  });

  it('one location only: no locations table, figures as before; a late recompute replaces rows of another location', async () => {
    const one = await buildReport(ctx, { kind: 'availability', period: parsePeriod('2026-03'), system: 'nqs' });
    assert.equal(one.tables.find((t) => t.id === 'locations'), undefined);
    assert.ok(!one.notes.includes('note_locations'));
    assert.ok(!renderCsv(one).split('\r\n')[0]!.includes('location'));
    // A roll-up row written before roll-ups were per location (the key without a location) for an hour that is
    // recomputed from results that now carry locations is replaced, not added to.
    await store.query(
      `INSERT INTO probe_rollups (probe, location, system, period, period_start, count, failures, downtime_seconds, updated_at)
       VALUES ('enbek-web', '', 'enbek', 'hour', '2026-03-10T05:00:00Z', 120, 40, 1200, now())`,
    );
    const from = Date.parse('2026-03-10T05:00:00Z');
    await rollupHours(store, from, from + 3 * 3_600_000, Date.parse('2026-04-02T00:00:00Z'));
    await rollupDays(store, from, from + 3 * 3_600_000, 'Asia/Almaty', Date.parse('2026-04-02T00:00:00Z'));
    const again = await buildReport(ctx, { kind: 'availability', period: parsePeriod('2026-03') });
    assert.deepEqual(again.tables.find((t) => t.id === 'locations')!.rows, r.tables.find((t) => t.id === 'locations')!.rows);
  });
});
