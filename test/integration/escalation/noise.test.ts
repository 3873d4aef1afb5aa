import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import type { EscalationConfig } from '../../../src/escalation/config.ts';
import { Escalator } from '../../../src/escalation/escalator.ts';
import { silenceAddCommand, silenceExpireCommand, silenceListCommand } from '../../../src/escalation/cli.ts';
import { createSilence, expireSilence, listSilences } from '../../../src/escalation/silences.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import { DeliveryWorker } from '../../../src/notify/worker.ts';
import { sig } from '../../support/signals.ts';
import { storeKind } from '../../support/store.ts';
import { cleanStore, closeSharedStore, ladderConfig, MIN, RecordingChannel } from './fixtures.ts';

after(async () => {
  await closeSharedStore();
});

async function setup(over: Partial<EscalationConfig> = {}) {
  const cfg = ladderConfig(over);
  const store = await cleanStore();
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const engine = new IncidentEngine({ store, clock, policy: () => ({ reopenWindowMs: 0, flapFlips: 0, flapWindowMs: MIN }) });
  const esc = new Escalator({ store, clock, config: () => cfg });
  engine.onChanges(esc.hook);
  const log: string[] = [];
  const channels = { email: new RecordingChannel(undefined, log, 'email'), slack: new RecordingChannel(undefined, log, 'slack'), ops: new RecordingChannel(undefined, log, 'ops') };
  const worker = new DeliveryWorker({ store, clock, config: () => cfg, channels: () => channels, random: () => 0.5, workerId: 'w' });
  const fire = async (fingerprint: string, system = 'enbek', extra: Record<string, string> = {}) => {
    const [o] = await engine.processBatch([sig({ fingerprint, system, severity: 'critical', labels: extra, observedAt: clock.now() })]);
    await worker.runOnce();
    return o!.incidentId!;
  };
  const escOf = async (id: number) => (await store.query<{ state: string; held_by: Record<string, unknown> }>(`SELECT state, held_by FROM escalations WHERE subject_id = $1`, [id])).rows[0]!;
  return { cfg, store, clock, engine, esc, worker, log, fire, escOf };
}

describe(`noise control on ${storeKind}`, () => {
  it('a silence holds paging but keeps recording; paging starts when it ends', async () => {
    const t = await setup();
    const s = await createSilence(t.store, { matchers: { system: 'enbek', env: '!test' }, endsAt: t.clock.now() + 60 * MIN, author: 'alice', reason: 'planned works' }, t.clock.now());
    const id = await t.fire('silenced');
    assert.equal(t.log.length, 0, 'no page during the silence');
    const e = await t.escOf(id);
    assert.equal(e.state, 'silenced');
    assert.equal(e.held_by.reason, 'planned works');
    const other = await t.fire('other', 'hr');
    assert.equal((await t.escOf(other)).state, 'active', 'the silence matches enbek only');
    t.log.length = 0;
    // Ended early by hand: the held incident starts its ladder on the next sweep.
    t.clock.advance(10 * MIN);
    await expireSilence(t.store, s.id!, t.clock.now());
    await t.esc.sweep();
    await t.worker.runOnce();
    assert.deepEqual(t.log.sort(), ['email:alice@example.kz', 'slack:UALICE']);
    assert.equal((await t.escOf(id)).state, 'active');
    assert.equal((await listSilences(t.store, false, t.clock.now())).length, 0);
    await assert.rejects(createSilence(t.store, { matchers: {}, endsAt: t.clock.now() + MIN, author: 'a', reason: 'r' }, t.clock.now()), /at least one matcher/);
  });

  it('a configured silence that runs out releases the incident at its expiry', async () => {
    const t = await setup({ silences: [{ matchers: { check: 'home-ru' }, ends_at: '2026-01-05T05:00:00Z', author: 'ops', reason: 'migration' }] });
    const id = await t.fire('cfg-silenced');
    assert.equal((await t.escOf(id)).state, 'silenced');
    t.clock.advance(59 * MIN);
    await t.esc.sweep();
    assert.equal(t.log.length, 0);
    t.clock.advance(MIN);
    await t.esc.sweep();
    await t.worker.runOnce();
    assert.equal(t.log.length, 2);
  });

  it('inhibition: while the integration bus is down its dependants do not page, and are linked to it', async () => {
    const t = await setup({ inhibit: [{ cause: { system: 'shina' }, suppress: { depends_on: '~.*shina.*' } }] });
    const bus = await t.fire('bus', 'shina');
    assert.equal(t.log.length, 2, 'the cause itself pages');
    t.log.length = 0;
    const dep = await t.fire('dep', 'enbek', { depends_on: 'shina,egov' });
    assert.equal(t.log.length, 0, 'the dependant does not page separately');
    const e = await t.escOf(dep);
    assert.equal(e.state, 'inhibited');
    assert.equal(Number(e.held_by.incident), bus);
    const indep = await t.fire('indep', 'hr', { depends_on: 'egov' });
    assert.equal((await t.escOf(indep)).state, 'active');
    t.log.length = 0;
    // The bus recovers but enbek is still down: enbek now pages on its own.
    await t.engine.processBatch([sig({ fingerprint: 'bus', system: 'shina', status: 'resolved', observedAt: t.clock.now() })]);
    await t.worker.runOnce();
    assert.equal((await t.escOf(dep)).state, 'active');
    assert.deepEqual(t.log.sort(), ['email:alice@example.kz', 'email:alice@example.kz', 'slack:UALICE', 'slack:UALICE'], "the bus's end and enbek's own page");
  });

  it('storm guard: more than N new incidents in M minutes become one grouped page', async () => {
    const t = await setup({ storm_guard: { max_incidents: 3, window: '5m', notify: [{ channel: 'ops' }] } });
    for (let i = 0; i < 3; i++) await t.fire(`storm-${i}`);
    assert.equal(t.log.length, 6, 'the first three page as usual');
    for (let i = 3; i < 10; i++) {
      t.clock.advance(10_000);
      await t.fire(`storm-${i}`, i % 2 ? 'hr' : 'enbek');
    }
    assert.deepEqual(t.log.slice(6), ['ops:'], 'one grouped page for the rest');
    const grouped = await t.store.query(`SELECT 1 FROM escalations WHERE state = 'grouped'`);
    assert.equal(grouped.rowCount, 7);
    const ops = (await t.store.query<{ message: { storm: { count: number; systems: string[] } } }>(`SELECT message FROM outbox WHERE channel = 'ops'`)).rows[0]!;
    assert.equal(ops.message.storm.count, 3 + 1);
    t.clock.advance(5 * MIN);
    await t.fire('after-storm');
    assert.equal(t.log.length, 9, 'after the window, paging is individual again');
  });
});

describe(`silence CLI on ${storeKind}`, () => {
  it('adds, lists and expires silences; bad arguments give exit code 2 and a precise message', async () => {
    const store = await cleanStore();
    const now = Date.parse('2026-01-05T04:00:00Z');
    const add = await silenceAddCommand(store, now, { match: ['system=enbek', 'env=prod', 'env=stage'], for: '2h', reason: 'works', author: 'alice' });
    assert.equal(add.code, 0);
    assert.match(add.text, /^silence \d+ until 2026-01-05 11:00:00 \+05:00 Asia\/Almaty$/);
    const list = await silenceListCommand(store, now);
    assert.match(list.text, /^\d+\t\{"env":\["prod","stage"\],"system":"enbek"\}\tuntil 2026-01-05 11:00:00 \+05:00 Asia\/Almaty\talice: works$/);
    assert.deepEqual(await silenceAddCommand(store, now, { match: ['nokey'], for: '1h', reason: 'r', author: 'a' }), { text: 'invalid matcher "nokey": expected key=value', code: 2 });
    assert.deepEqual(await silenceAddCommand(store, now, { match: ['a=b'], for: 'soon', reason: 'r', author: 'a' }), { text: 'invalid --for "soon": expected a duration like 2h', code: 2 });
    assert.deepEqual(await silenceAddCommand(store, now, { match: ['a=b'], until: '2020-01-01T00:00:00Z', reason: 'r', author: 'a' }), { text: 'a silence must end after it starts', code: 2 });
    const id = /silence (\d+)/.exec(add.text)![1]!;
    assert.equal((await silenceExpireCommand(store, now, id)).code, 0);
    assert.equal((await silenceExpireCommand(store, now, id)).code, 1);
    assert.equal((await silenceExpireCommand(store, now, 'x')).code, 2);
    assert.equal((await silenceListCommand(store, now)).text, 'no silences');
  });
});
