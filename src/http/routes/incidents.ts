import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../clock.ts';
import { incidentLocations } from '../../cluster/quorum.ts';
import type { IncidentEngine } from '../../incidents/engine.ts';
import { getIncident, listIncidents, type IncidentFilter } from '../../incidents/queries.ts';
import { SEVERITIES, type Signal } from '../../signals/signal.ts';
import type { SignalSink } from '../../signals/sink.ts';
import type { Queryable } from '../../store/store.ts';
import { DATE_OR_INSTANT_HINT, parseDateOrInstant } from '../../local-time.ts';
import { actorOf, type Authorize } from '../auth.ts';

export interface IncidentRouteDeps {
  q: Queryable;
  engine: IncidentEngine;
  sink: SignalSink;
  clock: Clock;
  authorize: Authorize;
  systems: () => ReadonlySet<string>;
  /** How many user requests are linked to each incident (the users it hurts). */
  affected?: (incidentIds: number[]) => Promise<Map<number, number>>;
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991 } } } as const;
const noteBody = {
  type: 'object',
  additionalProperties: false,
  properties: { note: { type: 'string', maxLength: 4000 } },
} as const;
const incidentRef = { $ref: 'incident#' };
const errorRef = { $ref: 'error#' };

export async function registerIncidentRoutes(app: FastifyInstance, d: IncidentRouteDeps): Promise<void> {
  app.addSchema({
    $id: 'incident',
    type: 'object',
    properties: {
      id: { type: 'integer' }, fingerprint: { type: 'string' }, source: { type: 'string' }, system: { type: 'string' },
      check: { type: 'string' }, title: { type: 'string' }, severity: { type: 'string', enum: [...SEVERITIES] },
      status: { type: 'string', enum: ['open', 'acknowledged', 'resolved'] }, labels: { type: 'object', additionalProperties: { type: 'string' } },
      flapping: { type: 'boolean' }, opened_at: { type: 'string' }, acknowledged_at: { type: 'string', nullable: true },
      acknowledged_by: { type: 'string', nullable: true }, resolved_at: { type: 'string', nullable: true },
      resolved_by: { type: 'string', nullable: true }, reopen_count: { type: 'integer' }, signal_count: { type: 'integer' },
      last_signal_at: { type: 'string' },
      description: { type: 'string', nullable: true, description: 'what the person who opened the incident wrote' },
      user_requests: { type: 'integer', description: 'user trouble reports linked to this incident' },
      locations: {
        type: 'object',
        nullable: true,
        description: 'probe incidents confirmed from several locations: each location\'s view (GET of one incident only)',
        properties: {
          required: { type: 'integer', nullable: true, description: 'locations that must see the probe failing' },
          down: { type: 'integer' },
          of: { type: 'integer', description: 'live locations' },
          view: { type: 'string', enum: ['current', 'at_firing'] },
          views: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                location: { type: 'string' }, status: { type: 'string', enum: ['up', 'down'] }, since: { type: 'string' },
                instance: { type: 'string', nullable: true }, reason: { type: 'string', nullable: true }, live: { type: 'boolean' },
              },
            },
          },
        },
      },
      timeline: { type: 'array', items: { type: 'object', additionalProperties: true, properties: { id: { type: 'integer' }, at: { type: 'string' }, kind: { type: 'string' }, actor: { type: 'string' }, detail: { type: 'object', additionalProperties: true } } } },
    },
  });
  app.addSchema({
    $id: 'error',
    type: 'object',
    properties: { error: { type: 'object', additionalProperties: true, properties: { code: { type: 'string' }, message: { type: 'string' } } } },
  });

  app.get<{ Querystring: Record<string, string | number | undefined> }>('/api/v1/incidents', {
    preHandler: d.authorize('viewer'),
    schema: {
      tags: ['incidents'],
      summary: 'List incidents, newest first',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['open', 'acknowledged', 'resolved', 'unresolved'] },
          system: { type: 'string', maxLength: 64 },
          severity: { type: 'string', enum: [...SEVERITIES] },
          source: { type: 'string', maxLength: 64 },
          since: { type: 'string', maxLength: 64, description: DATE_OR_INSTANT_HINT },
          until: { type: 'string', maxLength: 64, description: DATE_OR_INSTANT_HINT },
          before: { type: 'integer', minimum: 1, description: 'paging cursor: the next value from the previous page' },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
        },
      },
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: incidentRef }, next: { type: 'integer', nullable: true } } }, 400: errorRef, 401: errorRef },
    },
  }, async (req, reply) => {
    const qs = req.query;
    const when: Record<'since' | 'until', number | undefined> = { since: undefined, until: undefined };
    for (const k of ['since', 'until'] as const) {
      if (qs[k] === undefined) continue;
      when[k] = parseDateOrInstant(String(qs[k]));
      if (Number.isNaN(when[k])) {
        return reply.code(400).send({ error: { code: 'KZ_ERR_VALIDATION', message: `querystring.${k}: expected ${DATE_OR_INSTANT_HINT}, got ${JSON.stringify(String(qs[k]))}`, field: k } });
      }
    }
    const f: IncidentFilter = {
      status: qs.status as IncidentFilter['status'],
      system: qs.system as string | undefined,
      severity: qs.severity as string | undefined,
      source: qs.source as string | undefined,
      since: when.since,
      until: when.until,
      before: qs.before as number | undefined,
      limit: qs.limit as number | undefined,
    };
    return listIncidents(d.q, f);
  });

  app.get<{ Params: { id: number } }>('/api/v1/incidents/:id', {
    preHandler: d.authorize('viewer'),
    schema: { tags: ['incidents'], summary: 'One incident with its timeline', params: idParams, response: { 200: incidentRef, 404: errorRef } },
  }, async (req) => {
    const inc = await getIncident(d.q, req.params.id);
    const n = d.affected ? ((await d.affected([inc.id])).get(inc.id) ?? 0) : 0;
    const loc = await incidentLocations(d.q, inc, d.clock.now());
    return { ...inc, user_requests: n, locations: loc && { ...loc, views: loc.views.map((v) => ({ ...v, since: new Date(v.since).toISOString() })) } };
  });

  app.post<{ Body: { system: string; title: string; severity?: Signal['severity']; check?: string; description?: string; labels?: Record<string, string>; fingerprint?: string } }>('/api/v1/incidents', {
    preHandler: d.authorize('reporter'),
    schema: {
      tags: ['incidents'],
      summary: 'A specialist reports a failure (REQUIREMENTS §2.2): opens an incident, or joins the open one with the same fingerprint',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['system', 'title'],
        properties: {
          system: { type: 'string', minLength: 1, maxLength: 64 },
          title: { type: 'string', minLength: 1, maxLength: 500 },
          severity: { type: 'string', enum: [...SEVERITIES], default: 'major' },
          check: { type: 'string', minLength: 1, maxLength: 128, default: 'specialist-report' },
          description: { type: 'string', maxLength: 20_000 },
          labels: { type: 'object', maxProperties: 32, additionalProperties: { type: 'string', maxLength: 256 } },
          fingerprint: { type: 'string', minLength: 1, maxLength: 128 },
        },
      },
      response: { 201: incidentRef, 400: errorRef },
    },
  }, async (req, reply) => {
    const b = req.body;
    const known = d.systems();
    if (known.size && !known.has(b.system)) {
      return reply.code(400).send({ error: { code: 'KZ_ERR_VALIDATION', message: `body.system: unknown system "${b.system}" (known: ${[...known].join(', ')})`, field: 'system' } });
    }
    const s: Signal = {
      source: 'staff',
      system: b.system,
      check: b.check ?? 'specialist-report',
      fingerprint: b.fingerprint ?? `staff:${randomUUID()}`,
      severity: b.severity ?? 'major',
      status: 'firing',
      summary: b.title,
      labels: { ...(b.labels ?? {}), reported_by: actorOf(req) },
      payload: b.description ? { description: b.description } : {},
      observedAt: d.clock.now(),
    };
    const [out] = (await d.sink.submit([s])) as Array<{ incidentId: number }>;
    return reply.code(201).send(await getIncident(d.q, out!.incidentId));
  });

  const action = (path: string, role: 'oncall' | 'reporter', summary: string, run: (id: number, actor: string, note?: string) => Promise<unknown>, bodySchema: object = noteBody) =>
    app.post<{ Params: { id: number }; Body: { note?: string; text?: string } | undefined }>(`/api/v1/incidents/:id/${path}`, {
      preHandler: d.authorize(role),
      // No body, or an empty one, means no note: the body of these actions is all optional.
      config: { emptyBodyOk: bodySchema === noteBody },
      preValidation: async (req) => {
        if (bodySchema === noteBody && (req.body === undefined || req.body === null)) req.body = {};
      },
      schema: { tags: ['incidents'], summary, params: idParams, body: bodySchema, response: { 200: incidentRef, 404: errorRef, 409: errorRef } },
    }, async (req) => {
      await run(req.params.id, actorOf(req), req.body?.note ?? req.body?.text);
      return getIncident(d.q, req.params.id);
    });

  action('ack', 'oncall', 'Acknowledge: someone is on it (stops escalation)', (id, a, n) => d.engine.acknowledge(id, a, n));
  action('resolve', 'oncall', 'Resolve by hand', (id, a, n) => d.engine.resolve(id, a, n));
  action('notes', 'reporter', 'Add a note to the timeline', (id, a, n) => d.engine.note(id, a, n ?? ''), {
    type: 'object',
    additionalProperties: false,
    required: ['text'],
    properties: { text: { type: 'string', minLength: 1, maxLength: 20_000 } },
  });
}
