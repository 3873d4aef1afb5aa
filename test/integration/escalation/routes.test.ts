import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import { FakeClock } from '../../../src/clock.ts';
import { signAckToken } from '../../../src/escalation/ack-link.ts';
import { Escalator } from '../../../src/escalation/escalator.ts';
import { listOutbox } from '../../../src/escalation/outbox.ts';
import { registerEscalationRoutes, type Role } from '../../../src/escalation/routes.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import type { Store } from '../../../src/store/store.ts';
import { sig } from '../../support/signals.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { ladderConfig, MIN } from './fixtures.ts';

describe(`escalation HTTP routes on ${storeKind}`, () => {
  let store: Store;
  let app: FastifyInstance;
  let engine: IncidentEngine;
  const clock = new FakeClock('2026-01-05T04:00:00Z');
  const cfg = ladderConfig();
  const secret = cfg.ack_links!.secret;
  const slackSecret = 'slack-signing-secret';

  before(async () => {
    store = await freshStore();
    engine = new IncidentEngine({ store, clock, policy: () => ({ reopenWindowMs: 0, flapFlips: 0, flapWindowMs: MIN }) });
    engine.onChanges(new Escalator({ store, clock, config: () => cfg }).hook);
    app = Fastify();
    // A stub authorizer: the header names the caller's role; admin may do everything.
    const rank: Role[] = ['viewer', 'reporter', 'soc', 'oncall', 'admin'];
    const authorize = (role: Role) => async (req: { headers: Record<string, unknown> }, reply: { code: (n: number) => { send: (b: unknown) => unknown } }) => {
      const have = req.headers['x-role'] as Role | undefined;
      if (!have) return reply.code(401).send({ error: { code: 'KZ_ERR_UNAUTHENTICATED', message: 'no token' } });
      if (rank.indexOf(have) < rank.indexOf(role) && have !== 'admin') return reply.code(403).send({ error: { code: 'KZ_ERR_FORBIDDEN', message: 'role' } });
    };
    await registerEscalationRoutes(app, {
      store,
      clock,
      config: () => cfg,
      authorize: authorize as never,
      acknowledge: (id, actor, note) => engine.acknowledge(id, actor, note),
      actorOf: () => 'alice',
      slackSigningSecret: slackSecret,
    });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  const open = async (fingerprint: string) => (await engine.processBatch([sig({ fingerprint, severity: 'critical', observedAt: clock.now() })]))[0]!.incidentId!;

  it('GET /api/v1/oncall says who is on call, per layer', async () => {
    const r = await app.inject({ url: '/api/v1/oncall', headers: { 'x-role': 'viewer' } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json().rotations.map((o: { rotation: string; person: string }) => [o.rotation, o.person]), [['primary', 'alice']]);
    const later = await app.inject({ url: '/api/v1/oncall?at=2026-01-06T04:00:00Z', headers: { 'x-role': 'viewer' } });
    assert.equal(later.json().rotations[0].person, 'bob');
    assert.equal((await app.inject({ url: '/api/v1/oncall' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/api/v1/oncall?at=yesterday', headers: { 'x-role': 'viewer' } })).statusCode, 400);
  });

  it('an ack link: GET only confirms, POST acknowledges once; forged, expired and reused links are refused and audited', async () => {
    const id = await open('link');
    const sentTo = (await listOutbox(store, { subject: { kind: 'incident', id } })).find((n) => n.recipient.person)!;
    const token = signAckToken(secret, { incidentId: id, outboxId: sentTo.id, expiresAt: clock.now() + 60 * MIN });
    const page = await app.inject({ url: `/api/v1/ack/${token}` });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<form method="post"/);
    assert.equal((await store.query<{ status: string }>('SELECT status FROM incidents WHERE id = $1', [id])).rows[0]!.status, 'open', 'viewing does not acknowledge');
    const ok = await app.inject({ method: 'POST', url: `/api/v1/ack/${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' });
    assert.equal(ok.statusCode, 200, ok.body);
    const acked = await store.query<{ status: string; acknowledged_by: string }>('SELECT status, acknowledged_by FROM incidents WHERE id = $1', [id]);
    assert.deepEqual(acked.rows[0], { status: 'acknowledged', acknowledged_by: sentTo.recipient.person }, 'the person the message went to, not "ack-link"');
    assert.equal((await store.query<{ state: string }>('SELECT state FROM escalations WHERE subject_id = $1', [id])).rows[0]!.state, 'acknowledged');
    const again = await app.inject({ method: 'POST', url: `/api/v1/ack/${token}` });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.message, 'the acknowledge link was already used');
    const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    assert.equal((await app.inject({ method: 'POST', url: `/api/v1/ack/${forged}` })).statusCode, 403);
    const old = signAckToken(secret, { incidentId: id, outboxId: sentTo.id, expiresAt: clock.now() - 1 });
    assert.equal((await app.inject({ method: 'POST', url: `/api/v1/ack/${old}` })).statusCode, 410);
    assert.equal((await app.inject({ method: 'POST', url: `/api/v1/ack/nonsense` })).statusCode, 400);
    const audit = await store.query<{ outcome: string }>(`SELECT outcome FROM audit_log WHERE action = 'incident.acknowledge' ORDER BY id`);
    assert.deepEqual(audit.rows.map((r) => r.outcome), ['ok', 'refused:used', 'refused:forged', 'refused:expired', 'refused:malformed']);
  });

  it('silences: create (oncall), list, expire; bad bodies get a 4xx with a message', async () => {
    const c = await app.inject({
      method: 'POST',
      url: '/api/v1/silences',
      headers: { 'x-role': 'oncall' },
      payload: { matchers: { system: 'enbek' }, ends_at: '2026-01-05T06:00:00Z', reason: 'planned works' },
    });
    assert.equal(c.statusCode, 201, c.body);
    assert.equal(c.json().author, 'alice');
    const viewer = await app.inject({ method: 'POST', url: '/api/v1/silences', headers: { 'x-role': 'viewer' }, payload: { matchers: { system: 'x' }, ends_at: '2026-01-05T06:00:00Z', reason: 'r' } });
    assert.equal(viewer.statusCode, 403);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/silences', headers: { 'x-role': 'oncall' }, payload: { matchers: { system: 'x' }, ends_at: '2020-01-01T00:00:00Z', reason: 'r' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.message, 'a silence must end after it starts');
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/silences', headers: { 'x-role': 'oncall' }, payload: { matchers: {}, ends_at: 'x' } })).statusCode, 400);
    const list = await app.inject({ url: '/api/v1/silences', headers: { 'x-role': 'viewer' } });
    assert.equal(list.json().items.length, 1);
    const del = await app.inject({ method: 'DELETE', url: `/api/v1/silences/${c.json().id}`, headers: { 'x-role': 'oncall' } });
    assert.equal(del.statusCode, 200);
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/silences/${c.json().id}`, headers: { 'x-role': 'oncall' } })).statusCode, 404);
  });

  it('dead letters are listable and can be retried; an incident shows its escalation', async () => {
    const id = await open('dead');
    await store.query(`UPDATE outbox SET state = 'dead', last_error = 'boom' WHERE subject_id = $1`, [id]);
    const r = await app.inject({ url: '/api/v1/notifications/dead-letters', headers: { 'x-role': 'viewer' } });
    assert.equal(r.json().items.length, 2);
    const one = r.json().items[0].id;
    assert.equal((await app.inject({ method: 'POST', url: `/api/v1/notifications/${one}/retry`, headers: { 'x-role': 'oncall' } })).statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: `/api/v1/notifications/${one}/retry`, headers: { 'x-role': 'admin' } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: `/api/v1/notifications/${one}/retry`, headers: { 'x-role': 'admin' } })).statusCode, 404);
    const e = await app.inject({ url: `/api/v1/incidents/${id}/escalation`, headers: { 'x-role': 'viewer' } });
    assert.equal(e.json().items[0].policy_name, 'portals');
    assert.equal(e.json().notifications.length, 2);
  });

  it('a Slack action acknowledges when signed; an unsigned or stale one is refused', async () => {
    const id = await open('slack');
    const raw = 'payload=' + encodeURIComponent(JSON.stringify({ type: 'block_actions', user: { id: 'UALICE' }, actions: [{ action_id: 'kuzet_ack', value: String(id) }] }));
    const sign = (ts: number, body: string) => 'v0=' + createHmac('sha256', slackSecret).update(`v0:${ts}:${body}`).digest('hex');
    const ts = Math.floor(clock.now() / 1000);
    const headers = (s: string, t = ts) => ({ 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(t), 'x-slack-signature': s });
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/slack/actions', headers: headers('v0=00'), payload: raw })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/slack/actions', headers: headers(sign(ts - 600, raw), ts - 600), payload: raw })).statusCode, 401);
    const ok = await app.inject({ method: 'POST', url: '/api/v1/slack/actions', headers: headers(sign(ts, raw)), payload: raw });
    assert.equal(ok.statusCode, 200, ok.body);
    const inc = await store.query<{ status: string; acknowledged_by: string }>('SELECT status, acknowledged_by FROM incidents WHERE id = $1', [id]);
    assert.deepEqual(inc.rows[0], { status: 'acknowledged', acknowledged_by: 'slack:alice' });
  });
});

describe('escalation routes inside a server that parses forms itself', () => {
  it('keep their own raw form parser without disturbing the server-wide @fastify/formbody', async () => {
    const app = Fastify();
    await app.register(formbody);
    app.post('/other', async (req) => req.body);
    const clock = new FakeClock('2026-01-05T04:00:00Z');
    await registerEscalationRoutes(app, { store: {} as Store, clock, config: () => ({}), authorize: () => async () => {}, acknowledge: async () => {}, slackSigningSecret: 's' });
    await app.ready();
    const other = await app.inject({ method: 'POST', url: '/other', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' });
    assert.deepEqual(other.json(), { a: '1' });
    const ts = String(Math.floor(clock.now() / 1000));
    const slack = await app.inject({
      method: 'POST',
      url: '/api/v1/slack/actions',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': 'v0=' + createHmac('sha256', 's').update(`v0:${ts}:payload=1`).digest('hex') },
      payload: 'payload=1',
    });
    assert.equal(slack.statusCode, 400, 'signature accepted over the raw body; the payload is then refused');
    assert.equal(slack.json().error.message, 'no kuzet_ack action with an incident id');
    await app.close();
  });
});
