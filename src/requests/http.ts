import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { Clock } from '../clock.ts';
import { parseDuration } from '../clock.ts';
import { KuzetError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AuditEntry } from '../access/audit.ts';
import type { AttachmentStore } from './attachments.ts';
import { formatLocalShort } from './calendar.ts';
import type { RequestsConfig, Role } from './config.ts';
import { validateIntake, type Channel, type FieldError, type Lang } from './forms.ts';
import {
  installParsers, IntakeError, langOf, readIntake, refusalOf, sendJsonError, type ReadIntake, type Refusal,
} from './intake-http.ts';
import { fieldMessage, intakeMessage } from './messages.ts';
import { PAGE_HEADERS, PAGE_PATH, renderAccepted, renderChooser, renderForm, renderProblem } from './page.ts';
import { ByteBudget, RateLimiter } from './rate-limit.ts';
import type { RequestMetrics } from './metrics.ts';
import type { RequestStatus } from './rows.ts';
import { isStoreUnavailable } from '../store/unavailable.ts';
import type { Action, RequestService, StoredAttachment } from './service.ts';

// HTTP surface of requests: the JSON/multipart API under /api/v1/requests and the public report page at /report.
// Everything runs in one encapsulated scope with its own strict parsers and error handler, so every bad input is
// a precise 4xx in the user's language and nothing is half-stored (files are written only after validation, and
// removed again if the database refuses the request).

export interface RequestRoutesDeps {
  service: RequestService;
  config: () => RequestsConfig;
  clock: Clock;
  logger: Logger;
  attachments: AttachmentStore;
  authorize: (role: Role) => preHandlerHookHandler;
  /** The role authorize() established for this request; masked views for anyone unknown. */
  roleOf?: (req: FastifyRequest) => Role;
  /** Who acts (the token's name), for the request's timeline. */
  actorOf?: (req: FastifyRequest) => string;
  /** The client a rate limit applies to (default: req.ip; set trustProxy in Fastify behind a proxy). */
  clientKey?: (req: FastifyRequest) => string;
  metrics?: RequestMetrics;
  /** The audit trail: every read of a request's personal data is recorded (002 §13.2). */
  audit?: (e: AuditEntry) => void;
}

const STATUSES: RequestStatus[] = ['received', 'acknowledged', 'in_progress', 'answered', 'closed'];
const ACTIONS: Action[] = ['acknowledge', 'start', 'answer', 'close', 'reopen'];

const idParams = {
  type: 'object', required: ['id'], additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
} as const;

export async function registerRequestRoutes(app: FastifyInstance, deps: RequestRoutesDeps): Promise<void> {
  const roleOf = deps.roleOf ?? (() => 'viewer' as Role);
  const actorOf = deps.actorOf ?? (() => 'api');
  /** A role that sees personal data whole has just been shown these requests' personal data: record who and when. */
  const readPersonalData = (req: FastifyRequest, ids: number[], detail: Record<string, unknown> = {}) => {
    if (!deps.audit || !deps.config().personal_data_roles.includes(roleOf(req))) return;
    deps.audit({
      actor: actorOf(req),
      action: 'request.personal_data.read',
      target: detail.list ? `requests:${ids.length}` : `request:${ids[0]}`,
      remote: req.ip,
      outcome: 'ok',
      detail: { requests: ids.slice(0, 500), route: req.routeOptions.url ?? req.url, ...detail },
    });
  };
  const clientKey = deps.clientKey ?? ((req: FastifyRequest) => req.ip);
  const rl = deps.config().rate_limit;
  const windowMs = parseDuration(rl.window) ?? 600_000;
  const limiter = new RateLimiter({ max: rl.max, windowMs, clock: deps.clock });
  // Specialists behind one office address must not share the public limit: the API counts per token, after auth.
  const apiLimiter = new RateLimiter({ max: rl.api_max ?? 200, windowMs, clock: deps.clock });
  // Attachments of the public form: a daily byte budget per address; all attachments: a quota and free disk space.
  const budget = new ByteBudget({ perDay: deps.config().attachments.daily_bytes_per_address, clock: deps.clock });

  await app.register(async (scope) => {
    installParsers(scope);
    if (!scope.hasRequestDecorator('parts')) await scope.register(multipart, { throwFileSizeLimit: true });

    scope.setErrorHandler((err, req, reply) => {
      const lang = langOf(req, req.body);
      const r = refusalOf(err, lang, deps.config());
      if (isIntake(req)) deps.metrics?.refused(err instanceof IntakeError ? err.problem : r ? `http_${r.status}` : 'internal');
      if (!r && isStoreUnavailable(err)) {
        // The store is out of reach: nothing was saved; the user (or the client) may send it again.
        reply.header('retry-after', '5');
        const message = intakeMessage('internal', lang);
        return isPage(req) ? sendPage(reply, 503, renderProblem(lang, message, backHref(req, lang))) : sendJsonError(reply, { status: 503, code: 'KZ_ERR_STORE', message });
      }
      if (!r) {
        deps.logger.error('request route failed', { url: req.url, error: err });
        const message = intakeMessage('internal', lang);
        return isPage(req) ? sendPage(reply, 500, renderProblem(lang, message, backHref(req, lang))) : sendJsonError(reply, { status: 500, code: 'KZ_ERR_INTERNAL', message });
      }
      return isPage(req) ? sendPage(reply, r.status, renderProblem(lang, r.message, backHref(req, lang))) : sendJsonError(reply, r);
    });

    // Rate limit before the body is read: a flood costs a counter, not a parse.
    const limitBy = (rl: RateLimiter, key: (req: FastifyRequest) => string) => async (req: FastifyRequest, reply: FastifyReply) => {
      const d = rl.take(key(req));
      if (d.allowed) return;
      const lang = langOf(req);
      const minutes = Math.ceil(d.retryAfterMs / 60_000);
      const r: Refusal = { status: 429, code: 'KZ_ERR_RATE_LIMITED', message: intakeMessage('rate_limited', lang, { minutes }) };
      reply.header('retry-after', String(Math.ceil(d.retryAfterMs / 1000)));
      deps.logger.warn('request intake rate limited', { client: clientKey(req) });
      deps.metrics?.refused('rate_limited');
      return isPage(req) ? sendPage(reply, 429, renderProblem(lang, r.message, backHref(req, lang))) : sendJsonError(reply, r);
    };
    const limitPublic = limitBy(limiter, clientKey);
    const limitApi = limitBy(apiLimiter, (req) => `token:${actorOf(req)}`);

    /** Validate, write the files, store the request; undefined with the reply sent when refused. */
    const take = async (req: FastifyRequest, channelDefault: Channel, actor?: string) => {
      const config = deps.config();
      const input: ReadIntake = await readIntake(req, config);
      const lang = langOf(req, input.raw);
      let channel = channelDefault;
      if (input.raw.channel !== undefined) {
        if (channelDefault !== 'api' || (input.raw.channel !== 'api' && input.raw.channel !== 'specialist')) {
          throw new IntakeError('malformed', 400, { field: 'channel' });
        }
        channel = input.raw.channel;
      }
      const v = validateIntake(input.raw, config.systems, channel);
      if (!v.ok) {
        deps.metrics?.refused('validation');
        return { refused: { errors: v.errors, lang: v.lang, echo: input.echo } };
      }
      const bytes = input.files.reduce((n, f) => n + f.bytes.length, 0);
      const client = clientKey(req);
      if (bytes > 0) {
        const a = config.attachments;
        if (channelDefault === 'web' && !budget.allows(client, bytes)) {
          deps.logger.warn('attachment budget of an address spent', { client, spent: budget.spent(client), bytes });
          throw new IntakeError('attachment_budget', 429, { max: Math.floor(a.daily_bytes_per_address / 1048576) });
        }
        const room = await deps.attachments.room(bytes, a.quota_bytes, a.min_free_bytes);
        if (room !== 'ok') {
          deps.logger.error(room === 'quota' ? 'attachment quota reached: attachments are refused' : 'attachment disk nearly full: attachments are refused', { bytes });
          throw new IntakeError('attachment_quota', 507);
        }
      }
      const saved: StoredAttachment[] = await deps.attachments.save(input.files);
      try {
        const request = await deps.service.intake(v.value, { actor, attachments: saved });
        if (channelDefault === 'web' && bytes > 0) budget.charge(client, bytes);
        return { request, lang };
      } catch (err) {
        await deps.attachments.removeAll(saved.map((s) => s.storedName));
        throw err;
      }
    };

    const fieldsOf = (errors: FieldError[], lang: Lang) => errors.map((e) => ({ field: e.field, problem: e.problem, message: fieldMessage(e, lang) }));

    // ---- API ----
    // textChecked: validateIntake refuses bad text field by field, in the user's language.
    scope.post('/api/v1/requests', { preHandler: [deps.authorize('reporter'), limitApi], config: { textChecked: true } }, async (req, reply) => {
      const out = await take(req, 'api', actorOf(req));
      if ('refused' in out) {
        const r = out.refused!;
        return sendJsonError(reply, { status: 400, code: 'KZ_ERR_VALIDATION', message: intakeMessage('validation', r.lang) }, fieldsOf(r.errors, r.lang));
      }
      return reply.code(201).send({ request: await deps.service.get(out.request.id, roleOf(req)) });
    });

    scope.get('/api/v1/requests', {
      preHandler: deps.authorize('viewer'),
      schema: {
        querystring: {
          type: 'object', additionalProperties: false,
          properties: {
            status: { type: 'string', enum: [...STATUSES, 'open'] },
            system: { type: 'string', maxLength: 64 },
            kind: { type: 'string', enum: ['trouble', 'access'] },
            overdue: { type: 'boolean' },
            before: { type: 'integer', minimum: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 500 },
          },
        },
      },
    }, async (req) => {
      const out = await deps.service.list(req.query as Parameters<RequestService['list']>[0], roleOf(req));
      const ids = out.items.map((r) => r.id);
      if (ids.length) readPersonalData(req, ids, { list: true });
      return out;
    });

    scope.get('/api/v1/requests/:id', { preHandler: deps.authorize('viewer'), schema: { params: idParams } }, async (req) => {
      const request = await deps.service.get(Number((req.params as { id: string }).id), roleOf(req));
      readPersonalData(req, [request.id]);
      return { request };
    });

    for (const action of ACTIONS) {
      scope.post(`/api/v1/requests/:id/${action}`, {
        preHandler: deps.authorize('reporter'),
        schema: {
          params: idParams,
          body: action === 'answer'
            ? { type: 'object', additionalProperties: false, required: ['answer'], properties: { answer: { type: 'string', minLength: 1, maxLength: 10000 }, decision: { type: 'string', enum: ['granted', 'refused'] } } }
            : { anyOf: [{ type: 'null' }, { type: 'object', additionalProperties: false, maxProperties: 0 }] },
        },
      }, async (req) => {
        const body = (req.body ?? {}) as { answer?: string; decision?: 'granted' | 'refused' };
        const r = await deps.service.transition(Number((req.params as { id: string }).id), action, actorOf(req), body);
        return { request: await deps.service.get(r.id, roleOf(req)) };
      });
    }

    scope.post('/api/v1/requests/:id/extend', {
      preHandler: deps.authorize('reporter'),
      schema: {
        params: idParams,
        body: {
          type: 'object', additionalProperties: false, required: ['reason', 'note'],
          properties: { reason: { type: 'string', enum: ['defect_fix', 'platform_functioning'] }, note: { type: 'string', minLength: 1, maxLength: 2000 } },
        },
      },
    }, async (req) => {
      const b = req.body as { reason: 'defect_fix' | 'platform_functioning'; note: string };
      const r = await deps.service.extend(Number((req.params as { id: string }).id), actorOf(req), b.reason, b.note);
      return { request: await deps.service.get(r.id, roleOf(req)) };
    });

    scope.get('/api/v1/requests/:id/attachments/:aid', {
      preHandler: deps.authorize('reporter'),
      schema: {
        params: {
          type: 'object', required: ['id', 'aid'], additionalProperties: false,
          properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' }, aid: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
        },
      },
    }, async (req, reply) => {
      if (!deps.config().personal_data_roles.includes(roleOf(req))) throw new KuzetError('KZ_ERR_FORBIDDEN', 'attachments may hold personal data: this role cannot read them', 403);
      const p = req.params as { id: string; aid: string };
      const a = await deps.service.attachment(Number(p.id), Number(p.aid));
      readPersonalData(req, [Number(p.id)], { attachment: Number(p.aid) });
      const bytes = await deps.attachments.read(a.storedName);
      // Always a download, never rendered or sniffed: the browser gets no chance to execute what a user uploaded.
      const name = a.originalName ?? a.storedName;
      return reply.headers({
        'content-type': a.mediaType,
        'content-disposition': `attachment; filename="${a.storedName}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        'x-content-type-options': 'nosniff',
        'content-security-policy': "sandbox; default-src 'none'",
        'cache-control': 'no-store',
      }).send(bytes);
    });

    // ---- public page ----
    scope.get(PAGE_PATH, async (req, reply) => {
      const lang = langOf(req);
      const q = req.query as Record<string, unknown>;
      const config = deps.config();
      if (q.system === undefined) return sendPage(reply, 200, renderChooser(lang, config.systems));
      const system = config.systems.find((s) => s.id === q.system);
      if (!system) return sendPage(reply, 404, renderChooser(lang, config.systems, [fieldMessage({ field: 'system', problem: 'unknown_system' }, lang)]));
      return sendPage(reply, 200, renderForm({ lang, system, config }));
    });

    scope.post(PAGE_PATH, { onRequest: limitPublic, config: { textChecked: true } }, async (req, reply) => {
      const config = deps.config();
      const out = await take(req, 'web');
      if ('refused' in out) {
        const r = out.refused!;
        const system = config.systems.find((s) => s.id === r.echo.system);
        if (!system) return sendPage(reply, 400, renderChooser(r.lang, config.systems, r.errors.map((e) => fieldMessage(e, r.lang))));
        return sendPage(reply, 400, renderForm({
          lang: r.lang, system, config, values: r.echo,
          errors: r.errors.map((e) => ({ field: e.field, message: fieldMessage(e, r.lang) })),
        }));
      }
      const system = config.systems.find((s) => s.id === out.request.system)!;
      return sendPage(reply, 201, renderAccepted(out.lang, out.request.number, formatLocalShort(Date.parse(out.request.dueAt)).slice(0, 16), system));
    });
  });
}

function isIntake(req: FastifyRequest): boolean {
  return req.method === 'POST' && (isPage(req) || req.url.split('?')[0] === '/api/v1/requests');
}

function isPage(req: FastifyRequest): boolean {
  return req.url === PAGE_PATH || req.url.startsWith(`${PAGE_PATH}?`);
}

function backHref(req: FastifyRequest, lang: Lang): string {
  const system = (req.query as { system?: unknown } | undefined)?.system;
  return `${PAGE_PATH}?lang=${lang}${typeof system === 'string' ? `&system=${encodeURIComponent(system)}` : ''}`;
}

function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send(html);
}
