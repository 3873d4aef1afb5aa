import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { scheduleAuditArchive } from './access/audit-archive.ts';
import { writeAudits, type AuditEntry } from './access/audit.ts';
import { TokenVerifier } from './access/tokens.ts';
import { parseDuration, systemClock, type Clock } from './clock.ts';
import { loadConfig, type LoadedConfig } from './config/load.ts';
import { IncidentEngine } from './incidents/engine.ts';
import { lifecyclePolicy } from './incidents/lifecycle.ts';
import { openCounts } from './incidents/queries.ts';
import { actorOf, makeAuthorize } from './http/auth.ts';
import { registerIncidentRoutes } from './http/routes/incidents.ts';
import { registerIntakeRoutes } from './http/routes/intake.ts';
import type { EscalationConfig } from './escalation/config.ts';
import { enqueueNotifications } from './escalation/outbox.ts';
import { wireRequestDeadlines } from './escalation/request-deadlines.ts';
import { registerEscalationRoutes } from './escalation/routes.ts';
import { createEscalationService, type EscalationService } from './notify/service.ts';
import { systemNamer } from './notify/templates.ts';
import { registerAdminRoutes } from './http/routes/tokens.ts';
import { BackupService, registerBackupRoutes, resolveBackupsConfig, type BackupsConfig } from './backups/index.ts';
import { nextCronTime } from './backups/config.ts';
import { AttachmentStore } from './requests/attachments.ts';
import { wireUserReports } from './requests/user-reports.ts';
import { shipped } from './paths.ts';
import { CalendarSource } from './requests/calendar-source.ts';
import { resolveRequestsConfig, type RequestsConfig, type RequestsConfigInput } from './requests/config.ts';
import { registerRequestRoutes } from './requests/http.ts';
import { registerRequestMetrics } from './requests/metrics.ts';
import { RequestService } from './requests/service.ts';
import { installOutputMasking } from './http/mask-output.ts';
import { createServer } from './http/server.ts';
import { resolveReportsConfig, type ReportsConfig } from './reports/config.ts';
import { backupInfos, maintenanceInfos, probeInfos, systemInfos } from './reports/env.ts';
import { registerReportRoutes } from './reports/routes.ts';
import { REPORT_TIMER, ReportService } from './reports/service.ts';
import type { Channel } from './notify/channel.ts';
import { buildSummary, summaryText } from './summary.ts';
import { registerConsole, requestStatusUrl } from './console/index.ts';
import { parseCookies } from './console/layout.ts';
import { SESSION_COOKIE, Sessions } from './console/sessions.ts';
import { loadRunbooks } from './notify/runbooks.ts';
import { createLogger, type Logger } from './log.ts';
import { redactAckTokens } from './mask.ts';
import { createMetrics } from './metrics.ts';
import { schemaPlugins } from './sections.ts';
import { GroupCommitter } from './signals/batcher.ts';
import type { Signal } from './signals/signal.ts';
import type { SignalSink } from './signals/sink.ts';
import { LogIntake, saveCheckpoint, type LogsConfig } from './sources/logs/index.ts';
import { Membership, registerInstanceRoutes } from './cluster/index.ts';
import { ProbeService, registerHeartbeatRoutes, type ProbeFile, type ProbesSection } from './sources/probes/index.ts';
import { AlertExpiry, alertRowsPrelude } from './sources/webhooks/alert-state.ts';
import type { IntakeConfig } from './sources/webhooks/schema.ts';
import { migrate, pendingMigrations } from './store/migrate.ts';
import { openStore, redactUrl, type Store } from './store/store.ts';

// The composition root: builds every component from the config and returns { start, stop, reload }.

const STORY_EVENTS = new Set(['opened', 'reopened', 'resolved', 'acknowledged']);

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface AppOptions {
  configFile: string;
  clock?: Clock;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Use this store instead of opening the configured one (tests). */
  store?: Store;
  /** Override the listening port (tests pass 0). */
  port?: number;
  /** Channel clients the status summary asks (tests); default: built from the config for each look. */
  summaryChannels?: (cfg: EscalationConfig) => Record<string, Channel>;
}

export interface App {
  readonly config: LoadedConfig;
  readonly store: Store;
  readonly engine: IncidentEngine;
  readonly sink: SignalSink;
  readonly http: FastifyInstance;
  readonly log: Logger;
  readonly escalation: EscalationService;
  readonly requests: RequestService;
  readonly probes: ProbeService;
  readonly membership: Membership;
  readonly logs: LogIntake;
  readonly backups: BackupService;
  readonly reports: ReportService;
  readonly alertExpiry: AlertExpiry;
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
  /** Re-read the config; an invalid one is refused and the running config kept. Returns the problems, if any. */
  reload(): Promise<string | null>;
}

export async function createApp(opts: AppOptions): Promise<App> {
  const clock = opts.clock ?? systemClock;
  let config = loadConfig(opts.configFile, schemaPlugins, opts.env);
  const log = opts.log ?? createLogger({ level: config.kuzet.log.level });
  let policy = lifecyclePolicy(config.kuzet.incidents);

  const storeCfg = config.kuzet.store;
  const ownStore = !opts.store;
  // A lost connection is logged (at most once every 10 s) and never fatal: the pool reconnects on demand.
  let lastConnLog = -Infinity;
  const onConnectionError = (err: Error) => {
    const t = clock.now();
    if (t - lastConnLog < 10_000) return;
    lastConnLog = t;
    log.warn('store connection lost; requests that need the store answer 503 until it is back', { err: err.message });
  };
  const store =
    opts.store ??
    (await openStore(
      storeCfg.url
        ? { url: storeCfg.url, poolSize: storeCfg.pool_size, onConnectionError }
        : { dataDir: resolve(config.dir, storeCfg.data_dir), poolSize: storeCfg.pool_size, log: log.child({ component: 'postgres' }), onConnectionError },
    ));
  log.info('store opened', storeCfg.url ? { kind: 'postgres', url: redactUrl(storeCfg.url) } : { kind: 'embedded', data_dir: storeCfg.data_dir });
  const applied = await migrate(store, (m) => log.info(m));
  if (applied.length) log.info('migrations applied', { applied });

  const metrics = createMetrics(() => openCounts(store));
  const engine = new IncidentEngine({
    store,
    clock,
    policy: () => policy,
    metrics: {
      signalsAccepted: (source, n) => metrics.signals.inc({ source }, n),
      incidentResolved: (s) => metrics.incidentDuration.observe(s),
    },
  });
  // Log lines that tell the story: one info line per incident change that matters to a person, with its link.
  const incidentUrl = (id: number) => `${config.kuzet.server.public_url.replace(/\/+$/, '')}/incidents/${id}`;
  engine.onChanges(async (_q, changes) => {
    for (const { incident: i, event: e } of changes) {
      if (!STORY_EVENTS.has(e.kind)) continue;
      log.info(`incident ${i.id} ${e.kind}: ${i.system}/${i.check} ${i.severity} "${i.title.slice(0, 200)}" ${incidentUrl(i.id)}`, {
        incident: i.id,
        url: incidentUrl(i.id),
        event: e.kind,
        system: i.system,
        check: i.check,
        severity: i.severity,
        actor: e.actor,
      });
    }
  });
  // Alerts from the Alertmanager API carry their expiry; it commits with their signals (alert-state.ts).
  const intake = new GroupCommitter<Signal, unknown>((s) => engine.processBatch(s, alertRowsPrelude(s)), {
    maxBatch: config.kuzet.signals.max_batch,
    maxQueue: config.kuzet.signals.max_queue,
  });
  const sink: SignalSink = intake;

  const audits = new GroupCommitter<AuditEntry, void>(
    async (entries) => {
      await writeAudits(store, clock, entries);
      return entries.map(() => undefined);
    },
    { maxBatch: 500, maxQueue: 100_000 },
  );
  const audit = (e: AuditEntry) => {
    // An acknowledge link's secret never reaches a record (its URL is the audited target of the ack routes).
    if (e.target) e = { ...e, target: redactAckTokens(e.target) };
    audits.submit([e]).catch((err: Error) => log.error('audit write failed', { err: err.message, action: e.action }));
  };

  const verifier = new TokenVerifier(store, clock, config.kuzet.auth.bootstrap_token);
  if (config.kuzet.auth.bootstrap_token) {
    log.warn('the bootstrap admin token (KUZET_ADMIN_TOKEN) is active: it has the admin role until it is removed; create tokens with `kuzet token create` and unset it');
  }
  const consoleSessions = new Sessions(store, clock);
  const authorize = makeAuthorize(verifier, async (req) => (await consoleSessions.get(parseCookies(req)[SESSION_COOKIE]))?.principal ?? null);
  const http = await createServer({
    log,
    bodyLimit: config.kuzet.server.body_limit_bytes,
    trustProxy: config.kuzet.server.trust_proxy,
    clock,
    bodyTimeoutMs: parseDuration(config.kuzet.server.body_timeout) ?? 30_000,
    registry: metrics.registry,
    audit,
    onError: (code) => metrics.httpErrors.inc({ code }),
    version: VERSION,
    readiness: async () => {
      // A store that does not answer within 3 s is as good as down (a probe must not hang on it).
      let timer: NodeJS.Timeout | undefined;
      const slow = new Promise<never>((_r, fail) => (timer = setTimeout(() => fail(new Error('no answer within 3 s')), 3_000)));
      const pending = await Promise.race([pendingMigrations(store), slow]).finally(() => clearTimeout(timer));
      return pending.length ? `migrations not applied: ${pending.join(', ')}` : null;
    },
  });
  // Personal data leaves whole only for the roles in requests.personal_data_roles (read per answer: a reload applies).
  installOutputMasking(http, { personalRoles: () => requestsCfg.personal_data_roles, exempt: ['/api/v1/openapi.json'] });
  let systems = new Set(config.kuzet.systems.map((s) => s.id));
  let affected: (ids: number[]) => Promise<Map<number, number>> = async () => new Map();
  await registerIncidentRoutes(http, { q: store, engine, sink, clock, authorize, systems: () => systems, affected: (ids) => affected(ids) });
  await registerAdminRoutes(http, { q: store, clock, authorize, forget: () => verifier.forget() });
  await registerIntakeRoutes(http, {
    q: store,
    store,
    sink: intake,
    clock,
    log,
    registry: metrics.registry,
    authorize,
    config: () => config.kuzet.intake as unknown as IntakeConfig,
    startedAt: clock.now(),
    version: VERSION,
    escalation: () => config.kuzet.escalation as unknown as EscalationConfig,
  });
  // Alerts from the Alertmanager API resolve when they expire without a re-send (endsAt, or resolve_timeout).
  const alertExpiry = new AlertExpiry({
    store,
    clock,
    log,
    config: () => config.kuzet.intake as unknown as IntakeConfig,
    apply: (q, signals) => engine.applyInTx(q, signals),
    onExpired: (n) => metrics.signals.inc({ source: 'alertmanager' }, n),
  });

  // Escalation: SLA policies, on-call, durable timers, and the outbox with its delivery worker.
  const escalationCfg = () => config.kuzet.escalation as unknown as EscalationConfig;
  const escalation = createEscalationService({
    store,
    clock,
    engine,
    config: escalationCfg,
    runbooksDir: config.kuzet.runbooks_dir ? resolve(config.dir, config.kuzet.runbooks_dir) : shipped('runbooks'),
    systemName: (id, lang) => systemNamer(config.kuzet.systems)(id, lang),
    log,
    registry: metrics.registry,
    instanceId: `${hostname()}:${process.pid}`,
  });
  await registerEscalationRoutes(http, {
    store,
    clock,
    config: escalationCfg,
    authorize,
    acknowledge: (id, actor, note) => engine.acknowledge(id, actor, note),
    actorOf,
  });
  if (/change-me/.test(escalationCfg().ack_links?.secret ?? '')) {
    log.warn('escalation.ack_links.secret is the shipped placeholder: anyone who reads the config can forge acknowledge links; set KUZET_ACK_SECRET');
  }
  const deadlines = wireRequestDeadlines(escalation.escalator, engine, clock, () => calendar.get());
  const userReports = wireUserReports(engine, () => requestsCfg, clock);
  const userMailChannel = (): string | undefined => {
    const e = escalationCfg();
    return e.user_mail_channel ?? Object.entries(e.channels ?? {}).find(([, c]) => c.type === 'email')?.[0];
  };

  // Requests: user trouble reports and access requests with deadlines on the working calendar.
  let requestsCfg: RequestsConfig = resolveRequestsConfig(config.kuzet.requests as RequestsConfigInput, config.kuzet.systems);
  const calendar = new CalendarSource({ file: requestsCfg.calendar_file ? resolve(config.dir, requestsCfg.calendar_file) : shipped('config', 'calendars', 'kz.yaml'), clock, logger: log.child({ component: 'calendar' }) });
  calendar.start();
  const requestMetrics = registerRequestMetrics(metrics.registry, { store, clock });
  const attachments = new AttachmentStore(resolve(config.dir, requestsCfg.attachments.dir));
  const requests = new RequestService({
    store,
    clock,
    calendar: () => calendar.get(),
    config: () => requestsCfg,
    logger: log.child({ component: 'requests' }),
    removeAttachment: (n) => attachments.remove(n),
    incidentUrl,
    metrics: requestMetrics,
    onDeadline: (q, change) => deadlines.onDeadline(q, change),
    // The user's acknowledgement e-mail leaves through the outbox, committed with the acknowledgement itself.
    // The user's mails (receipt, answer) leave through the outbox, committed with the decision itself.
    onMail: async (q, mail) => {
      const channel = userMailChannel();
      if (!channel) {
        log.warn('no e-mail channel configured: a mail to a user is not sent', { request: mail.number, mail: mail.kind });
        return;
      }
      await enqueueNotifications(q, [{
        key: mail.key,
        subjectKind: 'request',
        subjectId: mail.requestId,
        channel,
        recipient: { address: mail.to },
        lang: mail.lang,
        message: { kind: 'mail', mail: { subject: mail.subject, text: mail.text } },
      }], clock.now());
    },
    onReceived: (q, r) => userReports.onReceived(q, r),
    // The signed link to the user's status page (src/console), given in the receipt and the answer.
    statusUrl: (number) => requestStatusUrl(escalationCfg().public_url ?? config.kuzet.server.public_url, escalationCfg().ack_links?.secret, number),
  });
  affected = (ids) => requests.requestCountsByIncident(ids);
  await registerRequestRoutes(http, {
    service: requests,
    config: () => requestsCfg,
    clock,
    logger: log.child({ component: 'requests' }),
    attachments,
    authorize,
    roleOf: (req) => req.principal?.role ?? 'viewer',
    actorOf,
    metrics: requestMetrics,
    audit,
  });

  // Several instances on one store: membership by heartbeats; each probe runs on one live instance of a location.
  const clusterCfg = config.kuzet.cluster;
  const membership = new Membership({
    store,
    clock,
    id: clusterCfg.instance_id || `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    location: clusterCfg.location,
    version: VERSION,
    heartbeatMs: parseDuration(clusterCfg.heartbeat) ?? 5_000,
    logger: log.child({ component: 'cluster' }),
    onBeat: async (changed, departed) => {
      if (changed) await probes.rebalance(departed.length > 0);
      if (membership.live.length > 1) await probes.refreshHeartbeats().catch(() => {});
    },
  });
  await registerInstanceRoutes(http, { store, clock, authorize, membership });

  // Probes: one scheduler for every probe in probes/*.yaml; confirmed changes become signals.
  const probes = new ProbeService({
    cluster: membership,
    clock,
    sink,
    store,
    registry: metrics.registry,
    logger: log.child({ component: 'probes' }),
    incidentUrl,
    settings: config.kuzet.probes as unknown as ProbesSection,
  });
  await probes.apply(config.probeFiles as unknown as ProbeFile[]);
  await registerHeartbeatRoutes(http, probes);

  // Logs: files, journald and syslog through the log rules. The signals of a batch of lines and the read
  // position after them commit in one transaction: a crash re-reads nothing and loses nothing.
  const logs = new LogIntake((config.kuzet.logs ?? {}) as LogsConfig, {
    store,
    clock,
    sink,
    logger: log.child({ component: 'logs' }),
    registry: metrics.registry,
    configDir: config.dir,
    commit: async (signals, checkpoint) => {
      await store.tx(async (q) => {
        await engine.applyInTx(q, signals);
        if (checkpoint && (checkpoint.upserts.length || checkpoint.deletes.length)) await saveCheckpoint(q, checkpoint, clock.now());
      });
      for (const s of signals) metrics.signals.inc({ source: s.source });
    },
  });

  // Backups proven by restoring them: scheduled backups, verification and restore drills.
  const backups = new BackupService({
    store,
    clock,
    sink,
    registry: metrics.registry,
    logger: log.child({ component: 'backups' }),
    config: resolveBackupsConfig((config.kuzet.backups ?? {}) as BackupsConfig),
  });
  await registerBackupRoutes(http, { service: backups, authorize });

  // Reports: availability, incidents, requests, backups, data feeds and the NQS yearly analysis; the monthly
  // delivery (node-cron) and the yearly analysis's deadline (durable timers on the escalation sweeper).
  const reports = new ReportService({
    store,
    clock,
    version: VERSION,
    config: () => resolveReportsConfig(config.kuzet.reports as Partial<ReportsConfig>),
    log: log.child({ component: 'reports' }),
    env: () => ({
      systems: systemInfos(config.kuzet.systems),
      probes: probeInfos(config.probeFiles),
      maintenance: maintenanceInfos(config.probeFiles),
      calendar: calendar.get(),
      backups: backupInfos(resolveBackupsConfig((config.kuzet.backups ?? {}) as BackupsConfig).jobs),
    }),
    mailChannel: userMailChannel,
    publicUrl: () => config.kuzet.server.public_url,
  });
  escalation.escalator.registerTimerHandler(REPORT_TIMER, reports.timerHandler((q, s) => engine.applyInTx(q, s)));
  await registerReportRoutes(http, { service: reports, authorize });

  // The operator's first hour: a start-up summary in the log, and the same at GET /api/v1/status (`kuzet status`).
  let listeningAt = '';
  const summary = () => buildSummary({ config, clock, url: listeningAt, version: VERSION, channels: opts.summaryChannels });
  http.get('/api/v1/status', {
    preHandler: authorize('viewer'),
    schema: { tags: ['operations'], summary: 'What kuzet watches, where its data is, who it can page, and the shipped placeholders still in use' },
  }, async () => {
    const s = await summary();
    return { ...s, text: summaryText(s).split('\n') };
  });

  // The web console, the incident pages every message links to, the public status page and the users' request status.
  const runbooksDir = config.kuzet.runbooks_dir ? resolve(config.dir, config.kuzet.runbooks_dir) : shipped('runbooks');
  let runbooks = { at: -Infinity, list: [] as ReturnType<typeof loadRunbooks> };
  await registerConsole(http, {
    store,
    clock,
    verifier,
    engine,
    audit,
    systems: () => config.kuzet.systems,
    escalation: escalationCfg,
    runbooks: () => {
      if (clock.now() - runbooks.at > 30_000) runbooks = { at: clock.now(), list: loadRunbooks(runbooksDir) };
      return runbooks.list;
    },
    publicUrl: () => escalationCfg().public_url ?? config.kuzet.server.public_url ?? '',
    requests,
    requestsConfig: () => requestsCfg,
    calendar: () => calendar.get(),
    backups,
    maintenance: () => config.probeFiles.flatMap((f) => f.maintenance ?? []) as unknown as Array<Record<string, unknown>>,
    statusSecret: () => escalationCfg().ack_links?.secret,
  });

  // Housekeeping on the injected clock: flapping marks that went quiet, ledger retention.
  let auditArchive: { stop(): void } | undefined;
  let sweepTimer: { cancel(): void } | null = null;
  let stopped = false;
  const sweep = () => {
    sweepTimer = null;
    if (stopped) return;
    Promise.all([engine.sweep(parseDuration(config.kuzet.signals.retention)!), requests.eraseExpired()])
      .then(([r, e]) => (r.deleted + r.settled + e.erased > 0) && log.info('sweep', { ...r, ...e }))
      .catch((err: Error) => log.error('sweep failed', { err: err.message }))
      .finally(() => {
        if (!stopped) sweepTimer = clock.setTimeout(sweep, 60_000);
      });
  };

  let started = false;
  return {
    get config() {
      return config;
    },
    store,
    engine,
    sink,
    http,
    log,
    escalation,
    requests,
    probes,
    membership,
    logs,
    backups,
    reports,
    alertExpiry,
    async start() {
      if (started) throw new Error('already started');
      started = true;
      const port = opts.port ?? config.kuzet.server.port;
      const address = await http.listen({ host: config.kuzet.server.listen, port });
      sweepTimer = clock.setTimeout(sweep, 5_000);
      await escalation.start();
      await membership.start();
      await probes.start();
      await logs.start();
      await backups.start();
      auditArchive = scheduleAuditArchive({
        store,
        clock,
        next: nextCronTime,
        log,
        options: () => {
          const a = config.kuzet.audit;
          return { dir: resolve(config.dir, a.archive_dir), zone: a.zone, schedule: a.schedule, retentionMs: parseDuration(a.retention) ?? 0 };
        },
      });
      await reports.scheduleNqsDeadline();
      reports.start();
      alertExpiry.start();
      log.info('kuzet listening', { address, version: VERSION });
      listeningAt = address;
      const s = await summary();
      log.info(`start-up summary\n${summaryText(s)}`, { summary: s });
      for (const c of s.channels) if (c.answers === false) log.warn(`channel ${c.name} does not answer: ${c.detail}`, { channel: c.name });
      return { url: address };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      sweepTimer?.cancel();
      // Stop intake first (new requests get 503), then finish in-flight writes, then close the store.
      await http.close();
      await probes.stop();
      await membership.stop();
      await logs.stop();
      await backups.stop({ abort: true });
      auditArchive?.stop();
      await reports.stop();
      await intake.drain();
      await alertExpiry.stop();
      await escalation.stop();
      await audits.drain();
      if (ownStore) await store.close();
      log.info('kuzet stopped');
    },
    async reload() {
      try {
        const next = loadConfig(opts.configFile, schemaPlugins, opts.env);
        config = next;
        policy = lifecyclePolicy(next.kuzet.incidents);
        requestsCfg = resolveRequestsConfig(next.kuzet.requests as RequestsConfigInput, next.kuzet.systems);
        if (calendar.reload().ok) await requests.recomputeDeadlines();
        await escalation.reload();
        await probes.apply(next.probeFiles as unknown as ProbeFile[]);
        if (started && !stopped) {
          // A new reports.schedule or timezone takes effect now.
          await reports.stop();
          reports.start();
        }
        systems = new Set(next.kuzet.systems.map((s) => s.id));
        log.info('configuration reloaded', { file: opts.configFile });
        return null;
      } catch (err) {
        const msg = (err as Error).message;
        log.error('configuration reload refused; the running configuration stays', { problems: msg.split('\n') });
        return msg;
      }
    },
  };
}
