import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Registry } from 'prom-client';
import type { AuditEntry } from '../access/audit.ts';
import type { Logger } from '../log.ts';
import { actorOf } from './auth.ts';
import { decodeUtf8, installErrorHandling, jsonDepthExceeds, sendError } from './errors.ts';

// The HTTP surface: health, metrics, the OpenAPI document, and whatever route modules are registered.

export interface ServerDeps {
  log: Logger;
  bodyLimit: number;
  trustProxy: boolean;
  registry: Registry;
  /** Store reachable and migrations applied; resolves to a reason when not ready. */
  readiness: () => Promise<string | null>;
  audit: (e: AuditEntry) => void;
  onError?: (code: string) => void;
  version: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** An empty body with a JSON content type parses as "no body" (routes whose fields are all optional). */
    emptyBodyOk?: boolean;
  }
}

const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function createServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimit,
    trustProxy: deps.trustProxy,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
  });
  installErrorHandling(app, deps.log, deps.onError);

  // Bodies are validated strictly (5 is not "5"); query strings and path parameters are text and get coerced.
  const strict = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false });
  const lenient = new Ajv({ allErrors: false, coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false });
  for (const a of [strict, lenient]) addFormats(a);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : lenient).compile(schema));

  // JSON: strict UTF-8, bounded depth, prototype-poisoning checks (Fastify's own parser does the last).
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const buf = body as Buffer;
    if (buf.length === 0) {
      // Routes whose body is all optional (acknowledge, resolve) take an empty body as "no fields".
      if (req.routeOptions.config?.emptyBodyOk) return done(null, undefined);
      return done(Object.assign(new Error('body: expected JSON, got an empty body'), { statusCode: 400 }), undefined);
    }
    const text = decodeUtf8(buf);
    if (text === null) return done(Object.assign(new Error('body: not valid UTF-8'), { statusCode: 400 }), undefined);
    if (jsonDepthExceeds(buf)) return done(Object.assign(new Error('body: JSON nested deeper than 64 levels'), { statusCode: 400 }), undefined);
    defaultJson(req, text, (err, value) => {
      if (err) return done(Object.assign(new Error(`body: malformed JSON: ${err.message}`), { statusCode: 400 }), undefined);
      done(null, value);
    });
  });

  app.addHook('onResponse', async (req, reply) => {
    if (!MUTATING.has(req.method) || !req.routeOptions.url || (req.routeOptions.config as { audit?: boolean })?.audit === false) return;
    deps.audit({
      actor: actorOf(req),
      action: `${req.method} ${req.routeOptions.url}`,
      target: req.url.split('?')[0] ?? null,
      remote: req.ip,
      outcome: String(reply.statusCode),
    });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'kuzet', version: deps.version, description: 'Monitoring and incident response for the Ministry of Labour information systems' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const reason = await deps.readiness().catch((e: Error) => `store: ${e.message}`);
    if (reason) return sendError(reply.header('retry-after', '5'), 503, 'KZ_ERR_STORE', reason);
    return { status: 'ready' };
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type(deps.registry.contentType);
    return deps.registry.metrics();
  });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
