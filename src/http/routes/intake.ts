import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
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
import { socAlertSchema, socBodySchema, socToSignal, type SocAlert } from '../../sources/webhooks/soc.ts';
import type { Queryable, Store } from '../../store/store.ts';
import type { Authorize } from '../auth.ts';
import { INTAKE_CHUNK, inChunks } from '../chunks.ts';
import { decodeUtf8, findBadText, jsonDepthExceeds, sendError, storableDateTime } from '../errors.ts';
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
// Dates must be storable (years 0001–9999); Go's zero time, which amtool sends, is year 0001.
ajv.addFormat('date-time', { type: 'string', validate: storableDateTime });
const checkSoc = ajv.compile(socBodySchema);
const checkSocAlert = ajv.compile(socAlertSchema);
const checkAlerts = ajv.compile(postableAlertsSchema);
const checkAlert = ajv.compile(postableAlertsSchema.items);

/** Validate the items of an array a chunk at a time (yielding between chunks); the first problem, or null. */
async function checkItems(items: unknown[], check: ValidateFunction): Promise<string | null> {
  let problem: string | null = null;
  await inChunks(items, INTAKE_CHUNK, (slice, offset) => {
    const i = slice.findIndex((x) => !check(x));
    if (i >= 0) problem = firstError((check.errors ?? []).map((e) => ({ ...e, instancePath: `/${offset + i}${e.instancePath}` })));
    return problem === null;
  });
  return problem;
}

const tooMany = (n: number, max: number) =>
  `body: ${n} alerts in one request; at most ${max} are taken (intake.max_alerts_per_request): send them in smaller batches`;

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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `body: malformed JSON: ${(err as Error).message}`, why: 'json' };
  }
  // U+0000 and unpaired surrogates cannot be stored: refused here, never a store failure (a 503 would be re-sent for ever).
  const bad = findBadText(value, 'body');
  if (bad) return { ok: false, reason: `${bad.field}: ${bad.problem}`, why: 'text' };
  return { ok: true, value };
}

export async function registerIntakeRoutes(app: FastifyInstance, d: IntakeDeps): Promise<void> {
  const chunks = new Counter({ name: 'kuzet_intake_chunks_total', help: 'Chunks of at most 100 alerts that intake requests were worked through in, by endpoint', labelNames: ['endpoint'], registers: [d.registry] });
  const maxAlerts = () => d.config().max_alerts_per_request ?? 1000;
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

  /** Commit signals a chunk at a time (each chunk waits for its commit); false when a chunk was refused (reply sent). */
  const commitInChunks = async <T>(endpoint: string, items: T[], toSignal: (x: T) => Signal, reply: FastifyReply, after?: (slice: T[]) => Promise<void>): Promise<boolean> => {
    let ok = true;
    const n = await inChunks(items, INTAKE_CHUNK, async (slice) => {
      ok = await commit(endpoint, slice.map(toSignal), reply);
      if (ok && after) await after(slice);
      return ok;
    });
    chunks.inc({ endpoint }, n);
    return ok;
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
      // A machine's delivery is in the ledger (labels.soc_source names the secret that signed it), not in the audit log,
      // which is for people's actions; refusals are counted and logged (rate-limited) above.
      config: { audit: false },
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
      if (Array.isArray(parsed.value)) {
        if (parsed.value.length > maxAlerts()) return refuse(413, 'too_many', 'KZ_ERR_PAYLOAD_TOO_LARGE', tooMany(parsed.value.length, maxAlerts()));
        if (parsed.value.length === 0) return refuse(400, 'schema', 'KZ_ERR_VALIDATION', 'body: must NOT have fewer than 1 items');
        const problem = await checkItems(parsed.value, checkSocAlert);
        if (problem) return refuse(400, 'schema', 'KZ_ERR_VALIDATION', problem);
      } else if (!checkSoc(parsed.value)) return refuse(400, 'schema', 'KZ_ERR_VALIDATION', firstError(checkSoc.errors));
      const alerts = (Array.isArray(parsed.value) ? parsed.value : [parsed.value]) as SocAlert[];
      const ids = alerts.map((a) => a.id);
      // The store failing before or after the commit is a 503 with Retry-After, never a 500: the SOC resends,
      // and the delivery ids make the resend safe (a signal committed twice folds into the same incident).
      const storeDown = (err: unknown) => {
        rejected.inc({ endpoint: 'soc', reason: 'store' });
        d.log.error('soc delivery bookkeeping failed', { source: src.name, err: (err as Error).message });
        reply.header('retry-after', '5');
        return sendError(reply, 503, 'KZ_ERR_STORE', 'the store is unavailable; send the delivery again later');
      };
      let seen: { rows: { delivery_id: string }[] };
      try {
        seen = await d.q.query<{ delivery_id: string }>(
          `SELECT delivery_id FROM intake_deliveries WHERE source = $1 AND delivery_id IN (SELECT jsonb_array_elements_text($2::jsonb))`,
          [src.name, JSON.stringify(ids)],
        );
      } catch (err) {
        return storeDown(err);
      }
      const dup = new Set(seen.rows.map((r) => r.delivery_id));
      const fresh = alerts.filter((a, i) => !dup.has(a.id) && ids.indexOf(a.id) === i);
      if (fresh.length) {
        // Each chunk's ids are recorded after its commit: a crash in between means a retried delivery is folded into the
        // same incident, never lost; a 503 half-way leaves the committed chunks marked, so the retry takes the rest.
        const record = async (slice: SocAlert[]) => {
          await d.q.query(
            `INSERT INTO intake_deliveries (source, delivery_id, received_at) SELECT $1, x, $3 FROM jsonb_array_elements_text($2::jsonb) AS x ON CONFLICT DO NOTHING`,
            [src.name, JSON.stringify(slice.map((a) => a.id)), new Date(d.clock.now()).toISOString()],
          );
        };
        try {
          if (!(await commitInChunks('soc', fresh, (a) => socToSignal(src.name, a, src.system), reply, record))) return reply;
        } catch (err) {
          return storeDown(err);
        }
      }
      return reply.code(202).send({ accepted: fresh.length, duplicates: alerts.length - fresh.length });
    });
  });

  // --- Alertmanager API v2, enough for Prometheus, Grafana and amtool to deliver unchanged.
  const amAuth = d.authorize('soc');
  const amAuthIfRequired = async function (this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
    if (d.config().alertmanager.require_auth) return amAuth.call(this, req, reply, () => {});
  };
  // Refused Alertmanager posts (a missing or weak token, a body over the limit, a malformed body) are counted by reason
  // and logged, rate-limited: machines retry, and their refusals are not people's actions for the audit log.
  const amRefusals = new RefusalLog(d.log, d.clock, 'Alertmanager API');
  const amCounted = new WeakSet<FastifyRequest>();
  const amRefuse = (req: FastifyRequest, reason: string) => {
    amCounted.add(req);
    rejected.inc({ endpoint: 'alertmanager', reason });
  };
  app.addHook('onClose', async () => amRefusals.close());
  const postAlerts = async (sub: FastifyInstance) => {
    sub.addHook('onResponse', async (req, reply) => {
      if (reply.statusCode < 400 || reply.statusCode === 503) return; // 503: counted as overloaded/store, logged there
      const reason = reply.statusCode === 401 ? 'unauthenticated' : reply.statusCode === 403 ? 'forbidden' : reply.statusCode === 413 ? 'too_large' : `status_${reply.statusCode}`;
      if (!amCounted.has(req)) rejected.inc({ endpoint: 'alertmanager', reason });
      amRefusals.note({ reason, status: reply.statusCode, source: 'alertmanager', address: req.ip });
    });
    sub.removeContentTypeParser('application/json');
    sub.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    sub.post<{ Body: Buffer }>('/api/v2/alerts', {
      // onRequest: the token is checked before the body is read.
      onRequest: amAuthIfRequired,
      // Each alert is in the ledger with the token that sent it (payload.credential); no audit row per request.
      config: { audit: false },
      schema: { tags: ['intake'], summary: 'Alertmanager-compatible: Prometheus posts its alerts here (answers exactly 200)' },
    }, async (req, reply) => {
      const parsed = parseJson(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      if (!parsed.ok) {
        amRefuse(req, parsed.why);
        return sendError(reply, 400, 'KZ_ERR_VALIDATION', parsed.reason);
      }
      if (Array.isArray(parsed.value) && parsed.value.length > maxAlerts()) {
        amRefuse(req, 'too_many');
        return sendError(reply, 413, 'KZ_ERR_PAYLOAD_TOO_LARGE', tooMany(parsed.value.length, maxAlerts()));
      }
      const problem = Array.isArray(parsed.value) ? await checkItems(parsed.value, checkAlert) : checkAlerts(parsed.value) ? null : firstError(checkAlerts.errors);
      if (problem) {
        amRefuse(req, 'schema');
        return sendError(reply, 400, 'KZ_ERR_VALIDATION', problem);
      }
      const alerts = parsed.value as PostableAlert[];
      const now = d.clock.now();
      const def = d.config().alertmanager.default_system;
      const credential = req.principal ? `token:${req.principal.name}` : null;
      const signals = alerts.map((a) => {
        const sg = alertToSignal(a, now, def);
        return credential ? { ...sg, payload: { ...sg.payload, credential } } : sg;
      });
      // Each alert's expiry commits with its signal: an accepted alert always resolves when it ends.
      attachAlertRows(alerts, signals, now, resolveTimeoutMs(d.config()));
      if (signals.length && !(await commitInChunks('alertmanager', signals, (s) => s, reply))) return reply;
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
    // Authenticated like the alerts (role soc unless intake.alertmanager.require_auth is false): amtool and Grafana send
    // the credentials of their http config; Prometheus never reads it.
    api.get('/api/v2/status', { onRequest: amAuthIfRequired, schema: { tags: ['intake'], summary: 'Alertmanager-compatible status (for amtool and Grafana; role soc)' } }, async () => ({
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
