import type { FastifyInstance } from 'fastify';
import { listAudit } from '../../access/audit.ts';
import { createToken, listTokens, revokeToken, ROLES } from '../../access/tokens.ts';
import type { Clock } from '../../clock.ts';
import type { Queryable } from '../../store/store.ts';
import { actorOf, type Authorize } from '../auth.ts';
import { sendError } from '../errors.ts';

export async function registerAdminRoutes(app: FastifyInstance, d: { q: Queryable; clock: Clock; authorize: Authorize; forget: () => void }) {
  app.post<{ Body: { name: string; role: (typeof ROLES)[number] } }>('/api/v1/tokens', {
    preHandler: d.authorize('admin'),
    schema: {
      tags: ['admin'],
      summary: 'Create an API token (shown once)',
      body: { type: 'object', additionalProperties: false, required: ['name', 'role'], properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, role: { type: 'string', enum: [...ROLES] } } },
    },
  }, async (req, reply) => {
    const t = await createToken(d.q, d.clock, req.body.name, req.body.role, actorOf(req));
    return reply.code(201).send({ id: t.id, name: req.body.name, role: req.body.role, token: t.token });
  });
  app.get('/api/v1/tokens', { preHandler: d.authorize('admin'), schema: { tags: ['admin'], summary: 'List API tokens (never their values)' } }, async () => ({ items: await listTokens(d.q) }));
  app.delete<{ Params: { id: number } }>('/api/v1/tokens/:id', {
    preHandler: d.authorize('admin'),
    schema: { tags: ['admin'], summary: 'Revoke an API token', params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } } },
  }, async (req, reply) => {
    const ok = await revokeToken(d.q, d.clock, req.params.id);
    d.forget();
    if (!ok) return sendError(reply, 404, 'KZ_ERR_NOT_FOUND', `token ${req.params.id} not found or already revoked`);
    return { revoked: req.params.id };
  });
  app.get<{ Querystring: { limit?: number } }>('/api/v1/audit', {
    preHandler: d.authorize('admin'),
    schema: { tags: ['admin'], summary: 'The newest audit log entries', querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } } },
  }, async (req) => ({ items: await listAudit(d.q, req.query.limit ?? 100) }));
}
