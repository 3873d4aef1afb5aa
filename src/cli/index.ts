import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createToken, isRole, listTokens, revokeToken, ROLES } from '../access/tokens.ts';
import { archiveAudit, recordedArchives, verifyAuditArchive } from '../access/audit-archive.ts';
import { parseDuration, systemClock } from '../clock.ts';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.ts';
import type { PublicIncident } from '../incidents/rows.ts';
import { SEVERITIES } from '../signals/signal.ts';
import { embeddedUrl } from '../store/embedded.ts';
import { holderOf } from '../store/lock.ts';
import { migrate } from '../store/migrate.ts';
import { openStore, type Store } from '../store/store.ts';
import type { EscalationConfig } from '../escalation/config.ts';
import { oncallNowCommand, silenceAddCommand, silenceExpireCommand, silenceListCommand } from '../escalation/cli.ts';
import { BACKUP_ACTIONS, backupCommand, BackupService, resolveBackupsConfig, type BackupsConfig } from '../backups/index.ts';
import { IncidentEngine } from '../incidents/engine.ts';
import { lifecyclePolicy } from '../incidents/lifecycle.ts';
import { createMetrics } from '../metrics.ts';
import { calendarDueCommand } from '../requests/calendar-cli.ts';
import { loadCalendarFile } from '../requests/calendar-file.ts';
import { resolveRequestsConfig, type RequestsConfigInput } from '../requests/config.ts';
import { reportCommand } from '../reports/cli.ts';
import { REPORT_FORMATS, REPORT_KINDS, REPORT_LANGS, resolveReportsConfig, type ReportsConfig } from '../reports/config.ts';
import { envFromConfig } from '../reports/env.ts';
import { ReportService } from '../reports/service.ts';
import { runProbeOnce, type ProbeFile } from '../sources/probes/index.ts';
import { schemaPlugins } from '../sections.ts';
import { DATE_OR_INSTANT_HINT, localTime, parseDateOrInstant } from '../local-time.ts';
import { api, ApiError } from './api-client.ts';
import { incidentDetail, incidentTable, table } from './format.ts';

// `kuzet …`: every subcommand prints what it did, exits 0 on success, 1 on bad input or failure, 2 on usage errors.

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const DEFAULT_CONFIG = process.env.KUZET_CONFIG ?? 'config/kuzet.yaml';

class Exit extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

function readConfig(file: string): LoadedConfig {
  try {
    return loadConfig(file, schemaPlugins);
  } catch (err) {
    if (err instanceof ConfigError) throw new Exit(1, `${err.message}\n${err.problems.length} problem(s) in the configuration`);
    throw err;
  }
}

/**
 * Open the configured store for a one-off command. Beside a running daemon on the embedded store, the command uses
 * the daemon's server; with no daemon, it starts the embedded server for its own duration.
 */
async function withStore<T>(file: string, fn: (s: Store, cfg: LoadedConfig) => Promise<T>): Promise<T> {
  const cfg = readConfig(file);
  const s = cfg.kuzet.store;
  if (!s.url) {
    const dir = resolve(cfg.dir, s.data_dir);
    const pid = holderOf(dir);
    if (pid && !embeddedUrl(dir)) throw new Exit(1, `the embedded store ${s.data_dir} is in use by the running daemon (pid ${pid}), and its server is not running; use the API (or stop the daemon)`);
  }
  const store = await openStore(s.url ? { url: s.url, poolSize: 2 } : { dataDir: resolve(cfg.dir, s.data_dir), attach: true, poolSize: 2 });
  try {
    await migrate(store);
    return await fn(store, cfg);
  } finally {
    await store.close();
  }
}

const positiveInt = (v: string) => {
  if (!/^\d{1,15}$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a positive whole number');
  return Number(v);
};

const dateOrInstant = (v: string) => {
  if (Number.isNaN(parseDateOrInstant(v))) throw new InvalidArgumentError(`expected ${DATE_OR_INSTANT_HINT}`);
  return v;
};

export function buildCli(io: Io, hooks: { run: (configFile: string) => Promise<void> }): Command {
  const program = new Command('kuzet')
    .description('kuzet watches the Ministry of Labour portals and information systems, turns failures into incidents and pages the on-call engineer.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  const cfgOpt = () => new Option('-c, --config <file>', 'main configuration file').default(DEFAULT_CONFIG);
  const apiOptsOf = (c: Command) =>
    c
      .addOption(cfgOpt())
      .addOption(new Option('--url <url>', 'kuzet base URL (default: server.public_url from the config)').env('KUZET_URL'))
      .addOption(new Option('--token <token>', 'API token').env('KUZET_TOKEN'));

  program
    .command('run')
    .description('start the daemon: probes, intake, incident engine, escalation, HTTP API')
    .addOption(cfgOpt())
    .action(async (o: { config: string }) => hooks.run(o.config));

  program
    .command('check-config')
    .description('validate config/kuzet.yaml and probes/*.yaml; exit 1 and name file:line:column of every problem')
    .addOption(cfgOpt())
    .action(async (o: { config: string }) => {
      const cfg = readConfig(o.config);
      const probes = cfg.probeFiles.reduce((n, f) => n + f.probes.length, 0);
      io.out(`configuration OK: ${o.config}, ${cfg.kuzet.systems.length} systems, ${probes} probes in ${cfg.probeFiles.length} files\n`);
    });

  program
    .command('probe')
    .description('run one probe once now and print the outcome of each step and assertion (nothing is stored or paged)')
    .addOption(cfgOpt())
    .argument('<name>', 'probe name from probes/*.yaml')
    .action(async (name: string, o: { config: string }) => {
      const cfg = readConfig(o.config);
      const r = await runProbeOnce(name, cfg.probeFiles as unknown as ProbeFile[]);
      if (r.exitCode === 2) throw new Exit(2, r.text.trimEnd());
      io.out(r.text.endsWith('\n') ? r.text : r.text + '\n');
      if (r.exitCode !== 0) throw new Exit(r.exitCode, `probe ${name} is down`);
    });

  program
    .command('backup')
    .description('run, verify or drill backups now, with progress; a failure is recorded as a signal like a scheduled one')
    .addOption(cfgOpt())
    .argument('<action>', BACKUP_ACTIONS.join(' | '))
    .argument('[name]', 'one job (default: every job)')
    .action(async (action: string, name: string | undefined, o: { config: string }) => {
      await withStore(o.config, async (store, cfg) => {
        const policy = lifecyclePolicy(cfg.kuzet.incidents);
        const engine = new IncidentEngine({ store, clock: systemClock, policy: () => policy });
        const service = new BackupService({
          store,
          clock: systemClock,
          sink: { submit: (s) => engine.processBatch(s) },
          registry: createMetrics(async () => []).registry,
          config: resolveBackupsConfig((cfg.kuzet.backups ?? {}) as BackupsConfig),
        });
        const code = await backupCommand(action, name, { service, out: (line) => io.out(line + '\n') });
        if (code !== 0) throw new Exit(code, `kuzet backup ${action}: ${code === 2 ? 'nothing was run' : 'failed'}`);
      });
    });

  const audit = program.command('audit').description('the audit trail (002 §13.2): monthly archive files chained by SHA-256');
  audit
    .command('archive')
    .description('archive every finished month not archived yet, then drop archived rows past audit.retention')
    .addOption(cfgOpt())
    .action(async (o: { config: string }) => {
      await withStore(o.config, async (store, cfg) => {
        const a = cfg.kuzet.audit;
        const dir = resolve(cfg.dir, a.archive_dir);
        const run = await archiveAudit(store, systemClock, { dir, zone: a.zone, retentionMs: parseDuration(a.retention) ?? 0 });
        for (const w of run.written) io.out(`wrote ${w.file}: ${w.rows} rows, sha256 ${w.sha256}\n`);
        io.out(`${run.written.length ? `${run.written.length} month(s) archived` : 'nothing to archive: every finished month is archived'} in ${dir}; ${run.deleted} row(s) past retention deleted from the store\n`);
      });
    });
  audit
    .command('verify')
    .description('check the archive chain: each file names the SHA-256 of the one before; exit 1 naming the first broken link')
    .addOption(cfgOpt())
    .option('--dir <folder>', 'the archive folder (default: audit.archive_dir from the config)')
    .option('--store', 'also compare each file with the SHA-256 recorded in the store when it was written')
    .action(async (o: { config: string; dir?: string; store?: boolean }) => {
      const cfg = o.dir && !o.store ? undefined : readConfig(o.config);
      const dir = o.dir ? resolve(o.dir) : resolve(cfg!.dir, cfg!.kuzet.audit.archive_dir);
      const recorded = o.store ? await withStore(o.config, (store) => recordedArchives(store)) : undefined;
      const r = verifyAuditArchive(dir, recorded);
      if (!r.ok) throw new Exit(1, `audit archive ${dir}: ${r.problems.length} problem(s)\n${r.problems.join('\n')}`);
      io.out(`audit archive ${dir}: ${r.files} file(s), ${r.rows} row(s), the chain is intact${recorded ? ' and matches the store' : ''}\n`);
    });

  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .addOption(cfgOpt())
    .action(async (o: { config: string }) => {
      await withStore(o.config, async (store) => {
        const applied = await migrate(store);
        io.out(applied.length ? `applied: ${applied.join(', ')}\n` : 'the store is up to date\n');
      });
    });

  apiOptsOf(program.command('status').description('what a running kuzet watches, where its data is, who it can page, and the shipped placeholders still in use'))
    .option('--json', 'print JSON')
    .action(async (o: { config: string; url?: string; token?: string; json?: boolean }) => {
      const r = await api<{ text: string[] }>(o.url ?? readConfig(o.config).kuzet.server.public_url, o.token, 'GET', '/api/v1/status');
      io.out((o.json ? JSON.stringify(r, null, 2) : `${r.text.join('\n')}\nas of ${localTime(systemClock.now())}`) + '\n');
    });

  apiOptsOf(program.command('instances').description('the kuzet instances sharing the store: location, version, live, dead or stopped'))
    .option('--json', 'print JSON')
    .action(async (o: { config: string; url?: string; token?: string; json?: boolean }) => {
      type Inst = { id: string; location: string; version: string; status: string; started_at: string; heartbeat_at: string; self: boolean };
      const r = await api<{ self: string; instances: Inst[] }>(o.url ?? readConfig(o.config).kuzet.server.public_url, o.token, 'GET', '/api/v1/instances');
      if (o.json) return void io.out(JSON.stringify(r, null, 2) + '\n');
      const rows = [['ID', 'LOCATION', 'STATUS', 'VERSION', 'STARTED', 'LAST HEARTBEAT'], ...r.instances.map((i) => [i.id + (i.self ? ' *' : ''), i.location, i.status, i.version, localTime(i.started_at), localTime(i.heartbeat_at)])];
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
      io.out(rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + `\n(* answered this request; ${r.instances.filter((i) => i.status === 'live').length} live)\n`);
    });

  const inc = program.command('incidents').description('list, show, open, acknowledge, resolve and annotate incidents (through the API of a running kuzet)');
  const apiOpts = apiOptsOf;
  const target = (o: { config: string; url?: string }) => o.url ?? readConfig(o.config).kuzet.server.public_url;

  apiOpts(inc.command('ls').description('list incidents, newest first'))
    .addOption(new Option('--status <status>', 'filter by status').choices(['open', 'acknowledged', 'resolved', 'unresolved']))
    .option('--system <id>', 'filter by system')
    .addOption(new Option('--severity <level>').choices([...SEVERITIES]))
    .option('--since <time>', 'opened at or after: a date (2026-12-01 = midnight Asia/Almaty) or an ISO time with offset', dateOrInstant)
    .option('--until <time>', 'opened before: a date or an ISO time with offset', dateOrInstant)
    .option('--limit <n>', 'how many', positiveInt, 50)
    .option('--json', 'print JSON')
    .action(async (o: { config: string; url?: string; token?: string; status?: string; system?: string; severity?: string; since?: string; until?: string; limit: number; json?: boolean }) => {
      const qs = new URLSearchParams();
      for (const k of ['status', 'system', 'severity', 'since', 'until'] as const) if (o[k]) qs.set(k, o[k]!);
      qs.set('limit', String(o.limit));
      const r = await api<{ items: PublicIncident[] }>(target(o), o.token, 'GET', `/api/v1/incidents?${qs}`);
      io.out((o.json ? JSON.stringify(r, null, 2) : incidentTable(r.items)) + '\n');
    });
  apiOpts(inc.command('show').description('one incident with its timeline').argument('<id>', 'incident id', positiveInt))
    .option('--json', 'print JSON')
    .action(async (id: number, o: { config: string; url?: string; token?: string; json?: boolean }) => {
      const r = await api<PublicIncident>(target(o), o.token, 'GET', `/api/v1/incidents/${id}`);
      io.out((o.json ? JSON.stringify(r, null, 2) : incidentDetail(r)) + '\n');
    });
  apiOpts(inc.command('open').description('report a failure by hand (a specialist report)'))
    .requiredOption('--system <id>', 'system id from the config')
    .requiredOption('--title <text>', 'what is wrong')
    .addOption(new Option('--severity <level>').choices([...SEVERITIES]).default('major'))
    .option('--description <text>', 'details')
    .action(async (o: { config: string; url?: string; token?: string; system: string; title: string; severity: string; description?: string }) => {
      const r = await api<PublicIncident>(target(o), o.token, 'POST', '/api/v1/incidents', {
        system: o.system, title: o.title, severity: o.severity, ...(o.description ? { description: o.description } : {}),
      });
      io.out(`incident #${r.id} ${r.status}: ${r.title} (opened ${localTime(r.opened_at)})\n`);
    });
  for (const [name, path, what] of [['ack', 'ack', 'acknowledge'], ['resolve', 'resolve', 'resolve']] as const) {
    apiOpts(inc.command(name).description(`${what} an incident`).argument('<id>', 'incident id', positiveInt))
      .option('--note <text>', 'a note for the timeline')
      .action(async (id: number, o: { config: string; url?: string; token?: string; note?: string }) => {
        const r = await api<PublicIncident>(target(o), o.token, 'POST', `/api/v1/incidents/${id}/${path}`, o.note ? { note: o.note } : {});
        io.out(`incident #${r.id} is ${r.status}\n`);
      });
  }
  apiOpts(inc.command('note').description('add a note to the timeline').argument('<id>', 'incident id', positiveInt).argument('<text>', 'the note'))
    .action(async (id: number, text: string, o: { config: string; url?: string; token?: string }) => {
      await api(target(o), o.token, 'POST', `/api/v1/incidents/${id}/notes`, { text });
      io.out(`note added to incident #${id}\n`);
    });

  program
    .command('report')
    .description('a report: availability, incidents, requests, backups, feeds or nqs-yearly, for a month, quarter, year or days')
    .addOption(cfgOpt())
    .argument('<kind>', REPORT_KINDS.join(' | '))
    .requiredOption('--period <period>', 'a month 2026-11, a quarter 2026-Q4, a year 2026 or days 2026-11-01..2026-11-15 (Asia/Almaty)')
    .option('--system <id>', 'one system (default: every system)')
    .option('--format <format>', REPORT_FORMATS.join(' | '), 'json')
    .option('--lang <lang>', `${REPORT_LANGS.join(' | ')} (default: reports.lang)`)
    .option('--exclude-maintenance', 'leave maintenance windows out of the down time and the period')
    .option('--bom', 'CSV: start with a byte-order mark (for Excel)')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('--notes <file>', 'nqs-yearly: YAML with situation, problems and proposals')
    .option('--submit', 'nqs-yearly: keep it as the submitted analysis of the year (stops the deadline reminders)')
    .action(async (kind: string, o: { config: string; period: string; system?: string; format: string; lang?: string; excludeMaintenance?: boolean; bom?: boolean; output?: string; notes?: string; submit?: boolean }) => {
      await withStore(o.config, async (store, cfg) => {
        const reqCfg = resolveRequestsConfig(cfg.kuzet.requests as RequestsConfigInput);
        const calendar = loadCalendarFile(resolve(reqCfg.calendar_file)).calendar;
        const jobs = resolveBackupsConfig((cfg.kuzet.backups ?? {}) as BackupsConfig).jobs;
        const service = new ReportService({
          store,
          clock: systemClock,
          version: VERSION,
          config: () => resolveReportsConfig(cfg.kuzet.reports as Partial<ReportsConfig>),
          env: () => envFromConfig(cfg, calendar, jobs),
        });
        const policy = lifecyclePolicy(cfg.kuzet.incidents);
        const engine = new IncidentEngine({ store, clock: systemClock, policy: () => policy });
        const r = await reportCommand(service, kind, o, (q, s) => engine.applyInTx(q, s));
        if (r.code !== 0) throw new Exit(r.code, r.message);
        if (r.body) {
          if (o.format === 'pdf') process.stdout.write(r.body);
          else io.out(r.body.toString('utf8'));
        }
        io.err(r.message + '\n');
      });
    });

  program
    .command('calendar')
    .description('the Kazakhstan working calendar')
    .command('due')
    .description('when a deadline falls: receipt day D0, working or calendar days, 18:00 Asia/Almaty')
    .requiredOption('--from <time>', 'receipt time: ISO with a zone, or Almaty local "2026-03-20 17:59"')
    .requiredOption('--rule <rule>', 'e.g. "3 working days", "3 calendar days"')
    .option('--extend-to <days>', 'also show an extension to this many working days from the same D0', positiveInt)
    .addOption(new Option('--calendar <file>', 'calendar file').default('config/calendars/kz.yaml'))
    .addOption(new Option('--mode <mode>', 'calendar-day counting').choices(['next-working-day', 'elapsed']))
    .action(async (o: { from: string; rule: string; extendTo?: number; calendar: string; mode?: 'next-working-day' | 'elapsed' }) => {
      const r = await calendarDueCommand({ from: o.from, rule: o.rule, calendarFile: o.calendar, extendTo: o.extendTo, mode: o.mode });
      if (r.exitCode !== 0) throw new Exit(r.exitCode, r.text.trimEnd());
      io.out(r.text.endsWith('\n') ? r.text : r.text + '\n');
    });

  const done = (r: { text: string; code: number }) => {
    if (r.code !== 0) throw new Exit(r.code, r.text);
    io.out(r.text + '\n');
  };
  program
    .command('oncall')
    .description('who is on call')
    .command('now')
    .description('who is on call now (or --at a time), per rotation, with overrides')
    .addOption(cfgOpt())
    .option('--rotation <name>', 'one rotation only')
    .option('--at <time>', 'ISO 8601 time instead of now')
    .option('--json', 'print JSON')
    .action(async (o: { config: string; rotation?: string; at?: string; json?: boolean }) => {
      const cfg = readConfig(o.config);
      done(oncallNowCommand(cfg.kuzet.escalation as unknown as EscalationConfig, systemClock.now(), o));
    });

  const sil = program.command('silence').description('hold paging for matching incidents (they are still recorded)');
  sil
    .command('add')
    .description('add a silence: kuzet silence add --match system=enbek --for 2h --reason "planned release"')
    .addOption(cfgOpt())
    .requiredOption('--match <key=value...>', 'label matchers (system, severity, source, check, any label)')
    .option('--for <duration>', 'how long, e.g. 2h')
    .option('--until <time>', 'or until an ISO 8601 time')
    .requiredOption('--reason <text>', 'why')
    .option('--author <name>', 'who', process.env.USER ?? 'cli')
    .action(async (o: { config: string; match: string[]; for?: string; until?: string; reason: string; author: string }) => {
      await withStore(o.config, async (store) => done(await silenceAddCommand(store, systemClock.now(), o)));
    });
  sil.command('ls').description('list active silences').addOption(cfgOpt()).option('--all', 'include expired').action(async (o: { config: string; all?: boolean }) => {
    await withStore(o.config, async (store) => done(await silenceListCommand(store, systemClock.now(), o.all)));
  });
  sil.command('expire').description('end a silence now').addOption(cfgOpt()).argument('<id>').action(async (id: string, o: { config: string }) => {
    await withStore(o.config, async (store) => done(await silenceExpireCommand(store, systemClock.now(), id)));
  });

  const tok = program.command('token').description('manage API tokens (directly in the store)');
  tok
    .command('create')
    .description('create an API token; it is printed once and stored only as a hash')
    .addOption(cfgOpt())
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--name <name>', 'who or what uses it', 'cli')
    .action(async (o: { config: string; role: string; name: string }) => {
      if (!isRole(o.role)) throw new Exit(2, `--role: expected one of ${ROLES.join(', ')}, got "${o.role}"`);
      const role = o.role;
      await withStore(o.config, async (store) => {
        const t = await createToken(store, systemClock, o.name, role, 'cli');
        io.out(`${t.token}\n`);
        io.err(`token #${t.id} (${o.name}, role ${role}) created; it is not shown again\n`);
      });
    });
  tok.command('ls').description('list tokens (never their values)').addOption(cfgOpt()).action(async (o: { config: string }) => {
    await withStore(o.config, async (store) => {
      const rows = await listTokens(store);
      io.out(table([['ID', 'NAME', 'ROLE', 'CREATED', 'REVOKED'], ...rows.map((r) => [String(r.id), r.name, r.role, localTime(new Date(r.created_at).getTime()), r.revoked_at ? localTime(new Date(r.revoked_at).getTime()) : '-'])]) + '\n');
    });
  });
  tok.command('revoke').description('revoke a token').addOption(cfgOpt()).argument('<id>', 'token id', positiveInt).action(async (id: number, o: { config: string }) => {
    await withStore(o.config, async (store) => {
      if (!(await revokeToken(store, systemClock, id))) throw new Exit(1, `token ${id} not found or already revoked`);
      io.out(`token ${id} revoked\n`);
    });
  });
  return program;
}

/** Run the CLI; resolves to the process exit code. */
export async function runCli(argv: string[], io: Io, hooks: { run: (configFile: string) => Promise<void> }): Promise<number> {
  const program = buildCli(io, hooks);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return e.exitCode === 0 ? 0 : 2;
    if (err instanceof Exit) {
      io.err(err.message + '\n');
      return err.code;
    }
    if (err instanceof ApiError) {
      io.err(`kuzet: ${err.message}\n`);
      return 1;
    }
    io.err(`kuzet: ${e.message}\n`);
    return 1;
  }
}
