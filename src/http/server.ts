import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Registry } from 'prom-client';
import type { AuditEntry } from '../access/audit.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { maskMetricsText } from '../mask.ts';
import { actorOf, isAuthHook } from './auth.ts';
import { decodeUtf8, findBadText, installErrorHandling, jsonDepthExceeds, sendError, storableDateTime } from './errors.ts';
import { RefusalAudit } from './refusal-audit.ts';

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
  clock?: Clock;
  /** A request body that has not fully arrived this long after the headers is cut with 408 (0: no limit). */
  bodyTimeoutMs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Count a refusal of a caller without a token (one audit row per address per minute). */
    auditRefusal?: (remote: string, action: string, outcome: string) => void;
  }
  interface FastifyContextConfig {
    /** false: this route writes its own audit rows. */
    audit?: boolean;
    /** The route checks its body's text itself (field by field, in the user's language). */
    textChecked?: boolean;
  }
}

/** Route config: `textChecked` routes check their body's text themselves (field by field, in the user's language). */
export interface KuzetRouteConfig {
  audit?: boolean;
  textChecked?: boolean;
}

/** Integers with no maximum get the largest one JavaScript holds exactly: 1e20 is refused, never wrapped or rounded. */
function boundIntegers(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(boundIntegers);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'enum' || k === 'const' || k === 'default' || k === 'examples' ? v : boundIntegers(v);
  if (out.type === 'integer' && out.maximum === undefined && out.exclusiveMaximum === undefined) out.maximum = Number.MAX_SAFE_INTEGER;
  return out;
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
  for (const a of [strict, lenient]) {
    addFormats(a);
    // Dates must be storable: a real calendar day in years 0001–9999 (year 0000 would fail in the store, not here).
    a.addFormat('date-time', { type: 'string', validate: storableDateTime });
  }
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : lenient).compile(boundIntegers(schema) as object));

  // The token is checked before the body is read or validated: an anonymous caller learns nothing about the fields.
  // Route modules declare `preHandler: authorize(role)`; the check moves to onRequest for every route.
  app.addHook('onRoute', (route) => {
    const pre = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    const auth = pre.filter(isAuthHook);
    if (!auth.length) return;
    const onReq = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.preHandler = pre.filter((h) => !isAuthHook(h));
    route.onRequest = [...(auth as unknown as typeof onReq), ...onReq];
  });

  // Text that cannot be stored (U+0000, an unpaired surrogate) in a path parameter, the query or a parsed body is a
  // 400 naming the field, before any handler runs. Raw-body routes (the webhooks) check after their own parsing.
  app.addHook('preValidation', async (req) => {
    const cfg = req.routeOptions.config as KuzetRouteConfig | undefined;
    const bad = findBadText(req.params, 'params') ?? findBadText(req.query, 'querystring') ?? (cfg?.textChecked ? null : findBadText(req.body, 'body'));
    if (bad) throw Object.assign(new Error(`${bad.field}: ${bad.problem}`), { statusCode: 400, code: 'KZ_ERR_VALIDATION', field: bad.field });
  });

  // A body that trickles in is cut: the connection is not held open for as long as a slow client likes.
  const clock = deps.clock ?? systemClock;
  if (deps.bodyTimeoutMs) {
    const ms = deps.bodyTimeoutMs;
    app.addHook('onRequest', async (req, reply) => {
      if (!MUTATING.has(req.method) || req.raw.complete) return;
      const timer = clock.setTimeout(() => {
        if (req.raw.complete || reply.raw.headersSent) return;
        deps.onError?.('KZ_ERR_TIMEOUT');
        deps.log.warn('request body timed out', { url: req.url.split('?')[0], remote: req.ip, after_ms: ms });
        const body = JSON.stringify({ error: { code: 'KZ_ERR_TIMEOUT', message: `body: not received within ${ms / 1000} s; the connection is closed` } });
        reply.raw.writeHead(408, { 'content-type': 'application/json; charset=utf-8', connection: 'close', 'content-length': Buffer.byteLength(body) });
        reply.raw.end(body, () => req.raw.socket?.destroy());
      }, ms);
      const cancel = () => timer.cancel();
      req.raw.once('end', cancel);
      reply.raw.once('close', cancel);
    });
  }

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

  // Refusals of unauthenticated callers are counted, one audit row per address per minute: a flood cannot grow the log.
  const refusals = new RefusalAudit(clock, deps.audit);
  app.addHook('onClose', async () => refusals.flush(true));
  app.decorate('auditRefusal', (remote: string, action: string, outcome: string) => refusals.add(remote, action, outcome));
  app.addHook('onResponse', async (req, reply) => {
    if (!MUTATING.has(req.method) || !req.routeOptions.url || (req.routeOptions.config as KuzetRouteConfig)?.audit === false) return;
    if (!req.principal && reply.statusCode >= 400) return refusals.add(req.ip, `${req.method} ${req.routeOptions.url}`, String(reply.statusCode));
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
    // Label values come from alerts, log lines and probes: personal data in them is masked here, for every metric.
    return maskMetricsText(await deps.registry.metrics());
  });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
