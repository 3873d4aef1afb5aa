import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HeartbeatBook } from './kinds/heartbeat.ts';

// The heartbeat push URL: a cron job or backup script calls
//   POST|GET /api/v1/heartbeats/NAME            (token in "Authorization: Bearer …", "X-Kuzet-Token", or ?token=)
//   POST|GET /api/v1/heartbeats/NAME?status=fail (the job ran and failed)
// Each heartbeat has its own token; no API token or role is involved, so a job holds only its own secret.

export interface HeartbeatRouteDeps {
  heartbeats: HeartbeatBook;
  /** The token of a configured heartbeat probe, or undefined when there is no such heartbeat. */
  heartbeatToken(name: string): string | undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

const schema = {
  params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,126}$' } } },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { status: { enum: ['ok', 'fail'] }, token: { type: 'string', maxLength: 512 } },
  },
} as const;

function fail(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).send({ error: { code, message } });
}

export async function registerHeartbeatRoutes(app: FastifyInstance, deps: HeartbeatRouteDeps): Promise<void> {
  await app.register(async (scope) => {
    // Jobs send whatever curl sends (form, text, nothing): accept any body up to 64 KiB and ignore it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, _body, done) => done(null, undefined));
    for (const method of ['GET', 'POST'] as const) {
      scope.route<{ Params: { name: string }; Querystring: { status?: 'ok' | 'fail'; token?: string } }>({
        method,
        url: '/api/v1/heartbeats/:name',
        schema,
        attachValidation: true,
        handler: async (req, reply) => {
          if (req.validationError) return fail(reply, 400, 'KZ_ERR_VALIDATION', req.validationError.message);
          const expected = deps.heartbeatToken(req.params.name);
          if (expected === undefined) return fail(reply, 404, 'KZ_ERR_NOT_FOUND', `no heartbeat named "${req.params.name}"`);
          const auth = req.headers.authorization;
          const header = req.headers['x-kuzet-token'];
          const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : typeof header === 'string' ? header : req.query.token;
          if (!given || !sameSecret(given, expected)) return fail(reply, 401, 'KZ_ERR_UNAUTHENTICATED', 'missing or wrong heartbeat token');
          try {
            const ping = await deps.heartbeats.ping(req.params.name, req.query.status ?? 'ok');
            return reply.code(200).send({ ok: true, name: req.params.name, status: ping.status, at: new Date(ping.at).toISOString() });
          } catch {
            return fail(reply, 503, 'KZ_ERR_STORE', 'the ping could not be recorded; retry');
          }
        },
      });
    }
  });
}
