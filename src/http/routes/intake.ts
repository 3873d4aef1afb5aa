import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Counter, Gauge, type Registry } from 'prom-client';
import { parseDuration, type Clock } from '../../clock.ts';
import { KuzetError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Signal } from '../../signals/signal.ts';
import type { SignalSink } from '../../signals/sink.ts';
import type { EscalationConfig } from '../../escalation/config.ts';
import { attachAlertRows, resolveTimeoutMs } from '../../sources/webhooks/alert-state.ts';
import { alertToSignal, postableAlertsSchema, type PostableAlert } from '../../sources/webhooks/alertmanager.ts';
import { RefusalLog } from '../../sources/webhooks/refusals.ts';
import type { IntakeConfig } from '../../sources/webhooks/schema.ts';
import { verifySignature } from '../../sources/webhooks/signature.ts';
import { socBodySchema, socToSignal, type SocAlert } from '../../sources/webhooks/soc.ts';
import type { Queryable, Store } from '../../store/store.ts';
import type { Authorize } from '../auth.ts';
import { decodeUtf8, jsonDepthExceeds, sendError } from '../errors.ts';
import { registerAlertmanagerReadRoutes } from './alertmanager.ts';

// Pushed alerts: the SOC's signed webhook and the Alertmanager-compatible API. Each answers 2xx only
// after its signals are committed (the sink resolves after the commit), 503 + Retry-After when the
// intake queue is full, and a 4xx naming the problem for anything malformed.

export interface IntakeDeps {
  q: Queryable;
  /** For the silences of the Alertmanager API (they change in transactions). */
  store: Store;
  sink: SignalSink & { queued?: number };
  clock: Clock;
  log: Logger;
  registry: Registry;
  authorize: Authorize;
  config: () => IntakeConfig;
  startedAt: number;
  version: string;
  /** The escalation section: its silences decide which alerts the Alertmanager API shows as suppressed. */
  escalation: () => EscalationConfig;
}

// A source name that is not configured is refused exactly as a bad signature is (same status, same message for
// the same headers): the request is checked against this secret, which nobody knows, so that a caller without a
// secret learns nothing about which source names exist.
const UNKNOWN_SOURCE_SECRET = randomBytes(32).toString('hex');

const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: false, strict: false }));
const checkSoc = ajv.compile(socBodySchema);
const checkAlerts = ajv.compile(postableAlertsSchema);

function firstError(errors: ErrorObject[] | null | undefined): string {
  // oneOf reports each branch; the most specific (deepest) error is the useful one.
  const e = [...(errors ?? [])].sort((a, b) => b.instancePath.length - a.instancePath.length).find((x) => x.keyword !== 'oneOf') ?? errors?.[0];
  if (!e) return 'body: invalid';
  const p = e.params as Record<string, unknown>;
  const path = 'body' + e.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
  if (e.keyword === 'required') return `${path}: missing required field "${String(p.missingProperty)}"`;
  if (e.keyword === 'additionalProperties') return `${path}: unknown field "${String(p.additionalProperty)}"`;
  if (e.keyword === 'enum') return `${path}: expected one of ${(p.allowedValues as unknown[]).join(', ')}`;
  const name = (e as { propertyName?: string }).propertyName ?? (p.propertyName as string | undefined);
  if (name !== undefined) return `${path}: label name "${name}" is not valid (expected [a-zA-Z_][a-zA-Z0-9_]*)`;
  return `${path}: ${e.message}`;
}

function parseJson(buf: Buffer): { ok: true; value: unknown } | { ok: false; reason: string; why: string } {
  if (buf.length === 0) return { ok: false, reason: 'body: expected JSON, got an empty body', why: 'empty' };
  const text = decodeUtf8(buf);
  if (text === null) return { ok: false, reason: 'body: not valid UTF-8', why: 'utf8' };
  if (jsonDepthExceeds(buf)) return { ok: false, reason: 'body: JSON nested deeper than 64 levels', why: 'depth' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, reason: `body: malformed JSON: ${(err as Error).message}`, why: 'json' };
  }
}

export async function registerIntakeRoutes(app: FastifyInstance, d: IntakeDeps): Promise<void> {
  const accepted = new Counter({ name: 'kuzet_intake_accepted_total', help: 'Alerts accepted and committed, by endpoint', labelNames: ['endpoint'], registers: [d.registry] });
  const rejected = new Counter({ name: 'kuzet_intake_rejected_total', help: 'Requests refused, by endpoint and reason', labelNames: ['endpoint', 'reason'], registers: [d.registry] });
  new Gauge({
    name: 'kuzet_intake_queued',
    help: 'Signals waiting for the next group commit',
    registers: [d.registry],
    collect() {
      this.set(d.sink.queued ?? 0);
    },
  });

  const commit = async (endpoint: string, signals: Signal[], reply: FastifyReply): Promise<boolean> => {
    try {
      await d.sink.submit(signals);
      accepted.inc({ endpoint }, signals.length);
      return true;
    } catch (err) {
      const code = err instanceof KuzetError ? err.code : 'KZ_ERR_STORE';
      rejected.inc({ endpoint, reason: code === 'KZ_ERR_OVERLOADED' ? 'overloaded' : 'store' });
      if (code !== 'KZ_ERR_OVERLOADED') d.log.error('intake commit failed', { endpoint, err: (err as Error).message });
      reply.header('retry-after', code === 'KZ_ERR_OVERLOADED' ? '2' : '5');
      sendError(reply, 503, code === 'KZ_ERR_OVERLOADED' ? code : 'KZ_ERR_STORE', code === 'KZ_ERR_OVERLOADED' ? (err as Error).message : 'the store is unavailable; nothing was accepted, retry later');
      return false;
    }
  };

  // --- SOC: signed raw body, so this context keeps the bytes and parses them itself.
  const refusals = new RefusalLog(d.log, d.clock, 'SOC webhook');
  const refusedWhy = new WeakMap<FastifyRequest, { reason: string; detail?: string }>();
  await app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    // Every refusal is logged (rate-limited), those the handler decides and those Fastify does (413 over the body limit).
    sub.addHook('onResponse', async (req, reply) => {
      if (reply.statusCode < 400) return;
      const why = refusedWhy.get(req) ?? { reason: reply.statusCode === 413 ? 'too_large' : `status_${reply.statusCode}` };
      const source = String((req.params as { source?: unknown } | undefined)?.source ?? '').slice(0, 64);
      refusals.note({ reason: why.reason, status: reply.statusCode, source, address: req.ip, ...(why.detail ? { detail: why.detail } : {}) });
    });
    sub.post<{ Params: { source: string }; Body: Buffer }>('/webhooks/soc/:source', {
      schema: {
        tags: ['intake'],
        summary: 'The SOC pushes an alert (or an array of up to 1,000), signed with HMAC-SHA256 over timestamp + "." + body',
        security: [],
      },
    }, async (req: FastifyRequest<{ Params: { source: string }; Body: Buffer }>, reply) => {
      const cfg = d.config().soc;
      const known = cfg.sources.find((s) => s.name === req.params.source);
      const src = known ?? { name: req.params.source, secret: UNKNOWN_SOURCE_SECRET, system: 'unknown' };
      // `logged` is what the log says; the caller and the public metric see the same for an unknown source as for a bad signature.
      const refuse = (status: number, why: string, code: string, msg: string, logged = why) => {
        rejected.inc({ endpoint: 'soc', reason: why });
        refusedWhy.set(req, { reason: logged, detail: msg });
        return sendError(reply, status, code, msg);
      };
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const ctype = String(req.headers['content-type'] ?? '');
      if (!/^application\/(.+\+)?json\b/i.test(ctype)) return refuse(415, 'content_type', 'KZ_ERR_UNSUPPORTED_MEDIA', `content-type: expected application/json, got "${ctype.slice(0, 80)}"`);
      const sig = verifySignature(req.headers, body, src.secret, d.clock.now(), parseDuration(cfg.replay_window)!);
      if (!known) {
        const same = !sig.ok ? sig.reason : sig.scheme === 'standard' ? 'webhook-signature: no v1 signature matches' : 'x-kuzet-signature does not match the body';
        return refuse(401, 'signature', 'KZ_ERR_UNAUTHENTICATED', same, 'unknown_source');
      }
      if (!sig.ok) return refuse(401, 'signature', 'KZ_ERR_UNAUTHENTICATED', sig.reason);
      const parsed = parseJson(body);
      if (!parsed.ok) return refuse(400, parsed.why, 'KZ_ERR_VALIDATION', parsed.reason);
      if (!checkSoc(parsed.value)) return refuse(400, 'schema', 'KZ_ERR_VALIDATION', firstError(checkSoc.errors));
      const alerts = (Array.isArray(parsed.value) ? parsed.value : [parsed.value]) as SocAlert[];
      const ids = alerts.map((a) => a.id);
      const seen = await d.q.query<{ delivery_id: string }>(
        `SELECT delivery_id FROM intake_deliveries WHERE source = $1 AND delivery_id IN (SELECT jsonb_array_elements_text($2::jsonb))`,
        [src.name, JSON.stringify(ids)],
      );
      const dup = new Set(seen.rows.map((r) => r.delivery_id));
      const fresh = alerts.filter((a, i) => !dup.has(a.id) && ids.indexOf(a.id) === i);
      if (fresh.length) {
        if (!(await commit('soc', fresh.map((a) => socToSignal(src.name, a, src.system)), reply))) return reply;
        // Recorded after the commit: a crash in between means a retried delivery is folded into the same incident, never lost.
        await d.q.query(
          `INSERT INTO intake_deliveries (source, delivery_id, received_at) SELECT $1, x, $3 FROM jsonb_array_elements_text($2::jsonb) AS x ON CONFLICT DO NOTHING`,
          [src.name, JSON.stringify(fresh.map((a) => a.id)), new Date(d.clock.now()).toISOString()],
        );
      }
      return reply.code(202).send({ accepted: fresh.length, duplicates: alerts.length - fresh.length });
    });
  });

  // --- Alertmanager API v2, enough for Prometheus, Grafana and amtool to deliver unchanged.
  const amAuth = d.authorize('soc');
  const postAlerts = async (sub: FastifyInstance) => {
    sub.removeContentTypeParser('application/json');
    sub.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    sub.post<{ Body: Buffer }>('/api/v2/alerts', {
      preHandler: async (req, reply) => {
        if (d.config().alertmanager.require_auth) return amAuth.call(sub, req, reply, () => {});
      },
      schema: { tags: ['intake'], summary: 'Alertmanager-compatible: Prometheus posts its alerts here (answers exactly 200)' },
    }, async (req, reply) => {
      const parsed = parseJson(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      if (!parsed.ok) {
        rejected.inc({ endpoint: 'alertmanager', reason: parsed.why });
        return sendError(reply, 400, 'KZ_ERR_VALIDATION', parsed.reason);
      }
      if (!checkAlerts(parsed.value)) {
        rejected.inc({ endpoint: 'alertmanager', reason: 'schema' });
        return sendError(reply, 400, 'KZ_ERR_VALIDATION', firstError(checkAlerts.errors));
      }
      const alerts = parsed.value as PostableAlert[];
      const now = d.clock.now();
      const def = d.config().alertmanager.default_system;
      const signals = alerts.map((a) => alertToSignal(a, now, def));
      // Each alert's expiry commits with its signal: an accepted alert always resolves when it ends.
      attachAlertRows(alerts, signals, now, resolveTimeoutMs(d.config()));
      if (alerts.length && !(await commit('alertmanager', signals, reply))) return reply;
      // amtool treats anything but 200 as failure.
      return reply.code(200).send();
    });
  };

  // The whole Alertmanager API, served at the root and again under intake.alertmanager.path_prefix (read at start),
  // for Prometheus' `path_prefix` and amtool's --alertmanager.url with a path. The copy is left out of the OpenAPI document.
  const alertmanagerApi = async (api: FastifyInstance, opts: { hide: boolean }) => {
    if (opts.hide) {
      api.addHook('onRoute', (r) => {
        r.schema = { ...(r.schema ?? {}), hide: true };
      });
    }
    await api.register(postAlerts);
    await registerAlertmanagerReadRoutes(api, { store: d.store, clock: d.clock, config: d.config, escalation: d.escalation, authorize: d.authorize });
    api.get('/api/v2/status', { schema: { tags: ['intake'], summary: 'Alertmanager-compatible status (for amtool and Grafana)', security: [] } }, async () => ({
      cluster: { name: 'kuzet', status: 'ready', peers: [] },
      // amtool warns unless major.minor equal its own: kuzet answers as the Alertmanager API it speaks, and says so in
      // the build metadata (semver ignores it).
      versionInfo: {
        version: `${d.config().alertmanager.api_version}+kuzet.${d.version}`,
        branch: 'kuzet',
        revision: `kuzet-${d.version}`,
        buildUser: 'kuzet',
        buildDate: '',
        goVersion: 'none',
      },
      config: { original: '# kuzet receives alerts itself; routing and notification are configured in kuzet.yaml\nroute:\n  receiver: kuzet\nreceivers:\n  - name: kuzet\n' },
      uptime: new Date(d.startedAt).toISOString(),
    }));
    api.get('/-/healthy', { schema: { hide: true } }, async () => 'OK');
    api.get('/-/ready', { schema: { hide: true } }, async () => 'OK');
  };
  await app.register(alertmanagerApi, { hide: false });
  const prefix = d.config().alertmanager.path_prefix.replace(/\/+$/, '');
  if (prefix) await app.register(alertmanagerApi, { prefix, hide: true });
}
