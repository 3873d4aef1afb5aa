import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { Clock } from '../../clock.ts';
import { KuzetError } from '../../errors.ts';
import { matchersFromAm, toGettableSilence } from '../../escalation/am-silences.ts';
import type { EscalationConfig } from '../../escalation/config.ts';
import { subjectLabels } from '../../escalation/match.ts';
import { activeSilences, createSilence, expireSilence, listSilences, silencing } from '../../escalation/silences.ts';
import type { Role } from '../../access/tokens.ts';
import { alertToSignal, amFingerprint, compileMatchers, parseMatcher, type AmMatcher } from '../../sources/webhooks/alertmanager.ts';
import { unresolvedAlerts, type StoredAlert } from '../../sources/webhooks/alert-state.ts';
import type { IntakeConfig } from '../../sources/webhooks/schema.ts';
import type { Store } from '../../store/store.ts';
import { sendError } from '../errors.ts';

// The read side of the Alertmanager v2 API: the alerts kuzet holds (amtool alert query, Grafana's Alertmanager
// data source) and kuzet's silences in Alertmanager's shape (amtool silence add / query / expire).

export interface AlertmanagerReadDeps {
  store: Store;
  clock: Clock;
  config: () => IntakeConfig;
  escalation: () => EscalationConfig;
  authorize: (role: Role) => preHandlerHookHandler;
}

const RECEIVER = { name: 'kuzet' };
const matcherSchema = {
  type: 'object',
  required: ['name', 'value', 'isRegex'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 256 },
    value: { type: 'string', maxLength: 1024 },
    isRegex: { type: 'boolean' },
    isEqual: { type: 'boolean' },
  },
} as const;
const filterSchema = { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 2048 } } as const;

function filterOf(reply: FastifyReply, texts: string[] | undefined): ((labels: Record<string, string>) => boolean) | null {
  const ms: AmMatcher[] = [];
  for (const [i, t] of (texts ?? []).entries()) {
    const m = parseMatcher(t);
    if (typeof m === 'string') {
      sendError(reply, 400, 'KZ_ERR_VALIDATION', `querystring.filter[${i}]: ${m}`, { field: 'filter' });
      return null;
    }
    ms.push(m);
  }
  const test = compileMatchers(ms);
  if (typeof test === 'string') {
    sendError(reply, 400, 'KZ_ERR_VALIDATION', `querystring.filter: ${test}`, { field: 'filter' });
    return null;
  }
  return test;
}

export async function registerAlertmanagerReadRoutes(app: FastifyInstance, d: AlertmanagerReadDeps): Promise<void> {
  const viewer = d.authorize('viewer');
  const oncall = d.authorize('oncall');
  // Reading alerts follows intake.alertmanager.require_auth (as posting them does); silences always need a token.
  const readAlerts = async function (this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
    if (d.config().alertmanager.require_auth) return viewer.call(this, req, reply, () => {});
  };

  /** The alerts in force, each with its Alertmanager state (suppressed when a kuzet silence holds it). */
  async function gettableAlerts(q: {
    active?: boolean;
    silenced?: boolean;
    inhibited?: boolean;
    unprocessed?: boolean;
    receiver?: string;
  }, test: (labels: Record<string, string>) => boolean) {
    const now = d.clock.now();
    const def = d.config().alertmanager.default_system;
    const [alerts, silences] = await Promise.all([unresolvedAlerts(d.store, now), activeSilences(d.store, d.escalation(), now)]);
    if (q.receiver !== undefined) {
      let re: RegExp | null = null;
      try {
        re = new RegExp(`^(?:${q.receiver})$`);
      } catch {
        re = null;
      }
      if (!re?.test(RECEIVER.name)) return [];
    }
    const out = [];
    for (const a of alerts) {
      if (!test(a.labels)) continue;
      const s = alertToSignal({ labels: a.labels }, now, def);
      const held = silencing(silences, subjectLabels({ system: s.system, check: s.check, source: s.source, severity: s.severity, labels: s.labels }));
      const silencedBy = held ? [held.id === null ? 'config' : String(held.id)] : [];
      if (held ? q.silenced === false : q.active === false) continue;
      out.push(gettable(a, held ? 'suppressed' : 'active', silencedBy));
    }
    return out;
  }

  const alertsQuery = {
    type: 'object',
    properties: {
      active: { type: 'boolean' },
      silenced: { type: 'boolean' },
      inhibited: { type: 'boolean' },
      unprocessed: { type: 'boolean' },
      filter: filterSchema,
      receiver: { type: 'string', maxLength: 256 },
    },
  } as const;
  type AlertsQuery = { active?: boolean; silenced?: boolean; inhibited?: boolean; unprocessed?: boolean; filter?: string[]; receiver?: string };

  app.get('/api/v2/alerts', {
    preHandler: readAlerts,
    schema: { tags: ['intake'], summary: 'Alertmanager-compatible: the alerts in force (amtool alert query, Grafana)', querystring: alertsQuery },
  }, async (req, reply) => {
    const q = req.query as AlertsQuery;
    const test = filterOf(reply, q.filter);
    if (!test) return reply;
    return gettableAlerts(q, test);
  });

  app.get('/api/v2/alerts/groups', {
    preHandler: readAlerts,
    schema: { tags: ['intake'], summary: 'Alertmanager-compatible: the alerts in force, in one group (kuzet groups into incidents itself)', querystring: alertsQuery },
  }, async (req, reply) => {
    const q = req.query as AlertsQuery;
    const test = filterOf(reply, q.filter);
    if (!test) return reply;
    const alerts = await gettableAlerts(q, test);
    return alerts.length ? [{ labels: {}, receiver: RECEIVER, alerts }] : [];
  });

  app.get('/api/v2/receivers', { preHandler: readAlerts, schema: { tags: ['intake'], summary: 'Alertmanager-compatible: the one receiver, kuzet' } }, async () => [RECEIVER]);

  app.get('/api/v2/silences', {
    preHandler: viewer,
    schema: { tags: ['intake'], summary: "Alertmanager-compatible: kuzet's silences (amtool silence query)", querystring: { type: 'object', properties: { filter: filterSchema } } },
  }, async (req, reply) => {
    const test = filterOf(reply, (req.query as { filter?: string[] }).filter);
    if (!test) return reply;
    const now = d.clock.now();
    return (await listSilences(d.store, true, now))
      .map((s) => toGettableSilence(s, now))
      // As Alertmanager: a silence passes the filter when the labels its equality matchers spell do.
      .filter((s) => test(Object.fromEntries(s.matchers.filter((m) => m.isEqual && !m.isRegex).map((m) => [m.name, m.value]))));
  });

  const idParams = { type: 'object', required: ['silenceID'], properties: { silenceID: { type: 'string', maxLength: 64 } } } as const;
  const silenceId = (reply: FastifyReply, text: string): number | null => {
    if (/^[1-9]\d{0,15}$/.test(text)) return Number(text);
    sendError(reply, 400, 'KZ_ERR_VALIDATION', `silenceID: expected a kuzet silence id (a positive number), got "${text.slice(0, 64)}"`, { field: 'silenceID' });
    return null;
  };

  app.get('/api/v2/silence/:silenceID', { preHandler: viewer, schema: { tags: ['intake'], summary: 'Alertmanager-compatible: one silence', params: idParams } }, async (req, reply) => {
    const id = silenceId(reply, (req.params as { silenceID: string }).silenceID);
    if (id === null) return reply;
    const now = d.clock.now();
    const s = (await listSilences(d.store, true, now)).find((x) => x.id === id);
    if (!s) return sendError(reply, 404, 'KZ_ERR_NOT_FOUND', `silence ${id} not found`);
    return toGettableSilence(s, now);
  });

  app.post('/api/v2/silences', {
    preHandler: oncall,
    schema: {
      tags: ['intake'],
      summary: 'Alertmanager-compatible: create a kuzet silence (amtool silence add); with an id, replace that silence',
      body: {
        type: 'object',
        required: ['matchers', 'startsAt', 'endsAt', 'createdBy', 'comment'],
        properties: {
          id: { type: 'string', maxLength: 64 },
          matchers: { type: 'array', minItems: 1, maxItems: 32, items: matcherSchema },
          startsAt: { type: 'string', format: 'date-time' },
          endsAt: { type: 'string', format: 'date-time' },
          createdBy: { type: 'string', minLength: 1, maxLength: 200 },
          comment: { type: 'string', minLength: 1, maxLength: 1000 },
        },
      },
    },
  }, async (req, reply) => {
    const b = req.body as { id?: string; matchers: AmMatcher[]; startsAt: string; endsAt: string; createdBy: string; comment: string };
    const matchers = matchersFromAm(b.matchers);
    if (typeof matchers === 'string') return sendError(reply, 400, 'KZ_ERR_VALIDATION', `body.${matchers}`, { field: 'matchers' });
    const replaces = b.id ? silenceId(reply, b.id) : null;
    if (b.id && replaces === null) return reply;
    const now = d.clock.now();
    try {
      const s = await d.store.tx(async (q) => {
        // Alertmanager updates a silence by expiring it and creating its successor; so does kuzet, in one transaction.
        if (replaces !== null) await expireSilence(q, replaces, now);
        const startsAt = Math.max(Date.parse(b.startsAt), now);
        return createSilence(q, { matchers, startsAt, endsAt: Date.parse(b.endsAt), author: b.createdBy, reason: b.comment }, now);
      });
      return { silenceID: String(s.id) };
    } catch (err) {
      if (err instanceof KuzetError && err.statusCode < 500) return sendError(reply, err.statusCode, err.code, err.message);
      throw err;
    }
  });

  app.delete('/api/v2/silence/:silenceID', {
    preHandler: oncall,
    schema: { tags: ['intake'], summary: 'Alertmanager-compatible: expire a silence now (amtool silence expire)', params: idParams },
  }, async (req, reply) => {
    const id = silenceId(reply, (req.params as { silenceID: string }).silenceID);
    if (id === null) return reply;
    try {
      await expireSilence(d.store, id, d.clock.now());
      return reply.code(200).send();
    } catch (err) {
      if (err instanceof KuzetError && err.statusCode < 500) return sendError(reply, err.statusCode, err.code, err.message);
      throw err;
    }
  });
}

function gettable(a: StoredAlert, state: 'active' | 'suppressed', silencedBy: string[]) {
  return {
    labels: a.labels,
    annotations: a.annotations,
    startsAt: new Date(a.startsAt).toISOString(),
    endsAt: new Date(a.expiresAt).toISOString(),
    updatedAt: new Date(a.updatedAt).toISOString(),
    ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
    // Alertmanager's own fingerprint, computed when read: the intake's hot path does not pay for it.
    fingerprint: amFingerprint(a.labels),
    receivers: [RECEIVER],
    status: { state, silencedBy, inhibitedBy: [] as string[] },
  };
}
