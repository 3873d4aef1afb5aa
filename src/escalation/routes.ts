import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { Clock } from '../clock.ts';
import { KuzetError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { consumeAckToken, verifyAckToken } from './ack-link.ts';
import type { EscalationConfig } from './config.ts';
import { listOutbox, retryDeadLetter, type OutboxItem } from './outbox.ts';
import { onCallNow } from './rotation.ts';
import { createSilence, expireSilence, listSilences } from './silences.ts';

// HTTP surface of escalation: who is on call, acknowledge links, dead letters, silences, Slack actions.

export type Role = 'viewer' | 'reporter' | 'soc' | 'oncall' | 'admin';

export interface EscalationRouteDeps {
  store: Store;
  clock: Clock;
  config: () => EscalationConfig;
  authorize: (role: Role) => preHandlerHookHandler;
  /** The incident engine's acknowledge (it runs the escalation hook, which stops the ladder). */
  acknowledge: (incidentId: number, actor: string, note?: string) => Promise<unknown>;
  /** Who made an authenticated request (for silences' author); defaults to "api". */
  actorOf?: (req: FastifyRequest) => string;
  /** Slack app signing secret; the action endpoint is registered only when set. */
  slackSigningSecret?: string;
}

const fail = (reply: FastifyReply, status: number, code: string, message: string) => reply.code(status).send({ error: { code, message } });

const ACK_REFUSALS = {
  malformed: [400, 'KZ_ERR_VALIDATION', 'the acknowledge link is malformed'],
  forged: [403, 'KZ_ERR_FORBIDDEN', 'the acknowledge link is not valid'],
  expired: [410, 'KZ_ERR_CONFLICT', 'the acknowledge link has expired'],
  used: [409, 'KZ_ERR_CONFLICT', 'the acknowledge link was already used'],
} as const;

async function audit(store: Store, at: number, actor: string, action: string, target: string | null, remote: string, outcome: string, detail: Record<string, unknown> = {}) {
  await store
    .query(`INSERT INTO audit_log (at, actor, action, target, remote, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`, [
      new Date(at).toISOString(),
      actor,
      action,
      target,
      remote,
      outcome,
      JSON.stringify(detail),
    ])
    .catch(() => {});
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function registerEscalationRoutes(app: FastifyInstance, deps: EscalationRouteDeps): Promise<void> {
  await app.register(async (scope) => {
    // Forms (the ack confirmation page, Slack actions) arrive urlencoded; keep the raw text for Slack's signature.
    if (scope.hasContentTypeParser('application/x-www-form-urlencoded')) scope.removeContentTypeParser('application/x-www-form-urlencoded');
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
      done(null, { raw: String(body), form: Object.fromEntries(new URLSearchParams(String(body))) });
    });
    const { store, clock } = deps;
    const actorOf = deps.actorOf ?? (() => 'api');
    // Refused links and signatures come from anyone: counted per address and minute where the server offers it.
    const refused = async (actor: string, action: string, remote: string, outcome: string) => {
      if (app.auditRefusal) return app.auditRefusal(remote, action, outcome);
      await audit(store, clock.now(), actor, action, null, remote, outcome);
    };

    scope.get('/api/v1/oncall', {
      preHandler: deps.authorize('viewer'),
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { at: { type: 'string', format: 'date-time' } } } },
    }, async (req) => {
      const q = req.query as { at?: string };
      const at = q.at ? Date.parse(q.at) : clock.now();
      return { at: new Date(at).toISOString(), rotations: onCallNow(deps.config().rotations, at).map(toPublicOnCall) };
    });

    const tokenParams = { type: 'object', required: ['token'], properties: { token: { type: 'string', maxLength: 200 } } } as const;
    // GET only shows a confirmation: mail scanners and chat link previews open links, and must not acknowledge.
    scope.get('/api/v1/ack/:token', { schema: { params: tokenParams } }, async (req, reply) => {
      const secret = deps.config().ack_links?.secret;
      if (!secret) return fail(reply, 404, 'KZ_ERR_NOT_FOUND', 'acknowledge links are not enabled');
      const { token } = req.params as { token: string };
      const v = verifyAckToken(secret, token, clock.now());
      if (!v.ok) {
        await refused('ack-link', 'ack_link.view', req.ip, `refused:${v.reason}`);
        const [status, code, message] = ACK_REFUSALS[v.reason];
        return fail(reply, status, code, message);
      }
      reply.type('text/html; charset=utf-8');
      return `<!doctype html><meta charset="utf-8"><title>kuzet</title><form method="post" action="${escapeHtml(encodeURIComponent(token))}"><p>Инцидент / Incident #${v.claims.incidentId}</p><button type="submit">Подтвердить / Растау / Acknowledge</button></form>`;
    });

    scope.post('/api/v1/ack/:token', { schema: { params: tokenParams } }, async (req, reply) => {
      const secret = deps.config().ack_links?.secret;
      if (!secret) return fail(reply, 404, 'KZ_ERR_NOT_FOUND', 'acknowledge links are not enabled');
      const { token } = req.params as { token: string };
      const now = clock.now();
      const v = await store.tx((q) => consumeAckToken(q, secret, token, now, `link:${req.ip}`));
      if (!v.ok) {
        await refused('ack-link', 'incident.acknowledge', req.ip, `refused:${v.reason}`);
        const [status, code, message] = ACK_REFUSALS[v.reason];
        return fail(reply, status, code, message);
      }
      const id = v.claims.incidentId;
      try {
        // The person the message carrying this link was sent to (the link names its outbox row).
        await deps.acknowledge(id, v.who, 'acknowledged from a notification link');
      } catch (err) {
        if (err instanceof KuzetError && err.statusCode < 500) return fail(reply, err.statusCode, err.code, err.message);
        throw err;
      }
      await audit(store, now, v.who, 'incident.acknowledge', `incident:${id}`, req.ip, 'ok', { via: 'link' });
      return { incident: id, acknowledged: true };
    });

    scope.get('/api/v1/notifications/dead-letters', {
      preHandler: deps.authorize('viewer'),
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } } },
    }, async (req) => ({ items: (await listOutbox(store, { state: 'dead', limit: (req.query as { limit?: number }).limit })).map(toPublicNotification) }));

    scope.post('/api/v1/notifications/:id/retry', {
      preHandler: deps.authorize('admin'),
      schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } },
    }, async (req, reply) => {
      const { id } = req.params as { id: number };
      if (!(await retryDeadLetter(store, id, clock.now()))) return fail(reply, 404, 'KZ_ERR_NOT_FOUND', `dead letter ${id} not found`);
      await audit(store, clock.now(), actorOf(req), 'notification.retry', `outbox:${id}`, req.ip, 'ok');
      return { id, state: 'pending' };
    });

    scope.get('/api/v1/silences', {
      preHandler: deps.authorize('viewer'),
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { expired: { type: 'boolean' } } } },
    }, async (req) => ({ items: (await listSilences(store, (req.query as { expired?: boolean }).expired === true, clock.now())).map(toPublicSilence) }));

    scope.post('/api/v1/silences', {
      preHandler: deps.authorize('oncall'),
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['matchers', 'ends_at', 'reason'],
          properties: {
            matchers: { type: 'object', minProperties: 1, maxProperties: 32, additionalProperties: { anyOf: [{ type: 'string', maxLength: 256 }, { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 256 } }] } },
            starts_at: { type: 'string', format: 'date-time' },
            ends_at: { type: 'string', format: 'date-time' },
            reason: { type: 'string', minLength: 1, maxLength: 1000 },
          },
        },
      },
    }, async (req, reply) => {
      const b = req.body as { matchers: Record<string, string | string[]>; starts_at?: string; ends_at: string; reason: string };
      const now = clock.now();
      try {
        const s = await createSilence(store, { matchers: b.matchers, startsAt: b.starts_at ? Date.parse(b.starts_at) : undefined, endsAt: Date.parse(b.ends_at), author: actorOf(req), reason: b.reason }, now);
        await audit(store, now, actorOf(req), 'silence.create', `silence:${s.id}`, req.ip, 'ok', { matchers: b.matchers, reason: b.reason });
        return reply.code(201).send(toPublicSilence(s));
      } catch (err) {
        if (err instanceof KuzetError) return fail(reply, err.statusCode, err.code, err.message);
        throw err;
      }
    });

    scope.delete('/api/v1/silences/:id', {
      preHandler: deps.authorize('oncall'),
      schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } },
    }, async (req, reply) => {
      const { id } = req.params as { id: number };
      try {
        const s = await expireSilence(store, id, clock.now());
        await audit(store, clock.now(), actorOf(req), 'silence.expire', `silence:${id}`, req.ip, 'ok');
        return toPublicSilence(s);
      } catch (err) {
        if (err instanceof KuzetError) return fail(reply, err.statusCode, err.code, err.message);
        throw err;
      }
    });

    scope.get('/api/v1/incidents/:id/escalation', {
      preHandler: deps.authorize('viewer'),
      schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } },
    }, async (req) => {
      const { id } = req.params as { id: number };
      const r = await store.query<Record<string, unknown>>(
        `SELECT id, policy_name, state, started_at, ack_due_at, resolve_due_at, ack_breached_at, resolve_breached_at, held_by, steps_fired
           FROM escalations WHERE subject_kind = 'incident' AND subject_id = $1 ORDER BY id`,
        [id],
      );
      const isoOf = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());
      return {
        items: r.rows.map((x) => ({
          ...x,
          id: Number(x.id),
          steps_fired: Number(x.steps_fired),
          started_at: isoOf(x.started_at),
          ack_due_at: isoOf(x.ack_due_at),
          resolve_due_at: isoOf(x.resolve_due_at),
          ack_breached_at: isoOf(x.ack_breached_at),
          resolve_breached_at: isoOf(x.resolve_breached_at),
        })),
        notifications: (await listOutbox(store, { subject: { kind: 'incident', id } })).map(toPublicNotification),
      };
    });

    if (deps.slackSigningSecret) {
      const secret = deps.slackSigningSecret;
      scope.post('/api/v1/slack/actions', async (req, reply) => {
        const body = req.body as { raw?: string; form?: Record<string, string> } | undefined;
        const ts = String(req.headers['x-slack-request-timestamp'] ?? '');
        const sig = String(req.headers['x-slack-signature'] ?? '');
        const now = clock.now();
        const want = Buffer.from('v0=' + createHmac('sha256', secret).update(`v0:${ts}:${body?.raw ?? ''}`).digest('hex'));
        const fresh = /^\d{1,12}$/.test(ts) && Math.abs(now / 1000 - Number(ts)) <= 300;
        if (!body?.raw || !fresh || want.length !== Buffer.byteLength(sig) || !timingSafeEqual(want, Buffer.from(sig))) {
          await refused('slack', 'incident.acknowledge', req.ip, 'refused:signature');
          return fail(reply, 401, 'KZ_ERR_UNAUTHENTICATED', 'Slack signature missing, stale or invalid');
        }
        let payload: { user?: { id?: string }; actions?: Array<{ action_id?: string; value?: string }> };
        try {
          payload = JSON.parse(body.form?.payload ?? '');
        } catch {
          return fail(reply, 400, 'KZ_ERR_VALIDATION', 'payload is not JSON');
        }
        const action = payload.actions?.find((a) => a.action_id === 'kuzet_ack');
        const id = Number(action?.value);
        if (!action || !Number.isInteger(id) || id < 1) return fail(reply, 400, 'KZ_ERR_VALIDATION', 'no kuzet_ack action with an incident id');
        const user = payload.user?.id ?? 'unknown';
        const person = Object.entries(deps.config().people ?? {}).find(([, p]) => p.slack === user)?.[0];
        try {
          await deps.acknowledge(id, `slack:${person ?? user}`);
        } catch (err) {
          if (err instanceof KuzetError && err.statusCode < 500) return { text: err.message, replace_original: false };
          throw err;
        }
        await audit(store, now, `slack:${person ?? user}`, 'incident.acknowledge', `incident:${id}`, req.ip, 'ok');
        return { text: `Incident #${id} acknowledged`, replace_original: false };
      });
    }
  });
}

/** A notification as the API shows it: every time ISO 8601 (never epoch milliseconds). */
function toPublicNotification(n: OutboxItem) {
  const { nextAttemptAt, createdAt, sentAt, message, ...rest } = n;
  const m = message.incident ? { ...message, incident: { ...message.incident, openedAt: new Date(message.incident.openedAt).toISOString() } } : message;
  return {
    ...rest,
    message: m,
    nextAttemptAt: new Date(nextAttemptAt).toISOString(),
    createdAt: new Date(createdAt).toISOString(),
    sentAt: sentAt === null ? null : new Date(sentAt).toISOString(),
  };
}

function toPublicOnCall(o: ReturnType<typeof onCallNow>[number]) {
  return {
    rotation: o.rotation,
    person: o.person,
    layer: o.layer,
    override: o.override,
    until: o.until === null ? null : new Date(o.until).toISOString(),
    layers: o.layers.map((l) => ({ layer: l.layer, person: l.person, covering: l.covering, start: new Date(l.start).toISOString(), end: new Date(l.end).toISOString() })),
  };
}

function toPublicSilence(s: Awaited<ReturnType<typeof listSilences>>[number]) {
  return {
    id: s.id,
    matchers: s.matchers,
    starts_at: new Date(s.startsAt).toISOString(),
    ends_at: new Date(s.endsAt).toISOString(),
    author: s.author,
    reason: s.reason,
    expired_at: s.expiredAt === null ? null : new Date(s.expiredAt).toISOString(),
  };
}
