import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { storeKind } from '../../support/store.ts';
import { twoLocations, type TwoLocations } from '../../support/locations.ts';

// Each location's view of a probe confirmed from several places is on the incident's API answer: the current
// views (status, since, instance, reason, live), the number of locations needed and how many see it down.

interface Answer {
  id: number;
  locations: null | {
    required: number | null;
    down: number;
    of: number;
    view: string;
    views: Array<{ location: string; status: string; since: string; instance: string | null; reason: string | null; live: boolean }>;
  };
}

describe(`GET /api/v1/incidents/:id shows the locations of a probe incident (${storeKind})`, () => {
  let c: TwoLocations | undefined;
  after(async () => c?.close());

  it('current views while it is open, the views at firing when the probe has none left, null for other incidents', async () => {
    c = await twoLocations();
    const viewer = await c.token('viewer', 'dana');
    const get = async (id: number) => {
      const r = await c!.almaty.http.inject({ url: `/api/v1/incidents/${id}`, headers: { authorization: `Bearer ${viewer}` } });
      assert.equal(r.statusCode, 200, r.body);
      return r.json<Answer>();
    };

    const t0 = c.clock.now();
    assert.equal((await c.almaty.probes.runNow('web'))?.ok, false);
    await c.step(30);
    const t1 = c.clock.now();
    assert.equal((await c.astana.probes.runNow('web'))?.ok, false);
    const id = Number((await c.store.query<{ id: string }>(`SELECT id FROM incidents WHERE check_name = 'web'`)).rows[0]!.id);

    let a = await get(id);
    assert.ok(a.locations, 'locations are on the answer');
    assert.equal(a.locations.required, 2);
    assert.equal(a.locations.down, 2);
    assert.equal(a.locations.of, 2);
    assert.equal(a.locations.view, 'current');
    assert.deepEqual(a.locations.views.map((v) => [v.location, v.status, v.instance, v.live]), [['almaty', 'down', 'almaty-1', true], ['astana', 'down', 'astana-1', true]]);
    // Since: the start of the result that confirmed each view (Astana's may be a scheduled run during the step).
    const since = a.locations.views.map((v) => Date.parse(v.since));
    assert.equal(since[0], t0);
    assert.ok(since[1]! > t0 && since[1]! <= t1, `${since[1]} in (${t0}, ${t1}]`);
    for (const v of a.locations.views) assert.match(v.reason ?? '', /refused/i);

    // Astana answers again: its view turns up (the incident resolves: fewer than two see it failing).
    await c.listenAt('astana');
    await c.step(30);
    const t2 = c.clock.now();
    assert.equal((await c.astana.probes.runNow('web'))?.ok, true);
    a = await get(id);
    assert.deepEqual(a.locations!.views.map((v) => [v.location, v.status]), [['almaty', 'down'], ['astana', 'up']]);
    const upSince = Date.parse(a.locations!.views[1]!.since);
    assert.ok(upSince > t1 && upSince <= t2, `${upSince} in (${t1}, ${t2}]`);
    assert.equal(a.locations!.down, 1);
    assert.equal(a.locations!.views[1]!.reason, null);

    // The probe's rows gone (removed from the files and cleaned up): the views carried by the firing signal.
    await c.store.query(`DELETE FROM probe_locations WHERE probe = 'web'`);
    a = await get(id);
    assert.equal(a.locations!.view, 'at_firing');
    assert.deepEqual(a.locations!.views.map((v) => [v.location, v.status]), [['almaty', 'down'], ['astana', 'down']]);
    assert.deepEqual([a.locations!.required, a.locations!.down, a.locations!.of], [2, 2, 2]);

    // A staff-reported incident has no locations.
    const admin = await c.token('reporter', 'erlan');
    const r = await c.almaty.http.inject({ method: 'POST', url: '/api/v1/incidents', headers: { authorization: `Bearer ${admin}` }, payload: { system: 'enbek', title: 'search is empty' } });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal((await get(r.json<{ id: number }>().id)).locations, null);
  });
});
