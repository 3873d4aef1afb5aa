import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Clock } from './clock.ts';
import type { LoadedConfig } from './config/load.ts';
import type { EscalationConfig } from './escalation/config.ts';
import { resolveTargets } from './escalation/ladder.ts';
import type { Channel } from './notify/channel.ts';
import { buildChannels, closeChannels } from './notify/channels.ts';
import { isPlaceholderAddress, SHIPPED_PLACEHOLDER_DOMAINS } from './notify/placeholders.ts';
import type { LogsConfig } from './sources/logs/index.ts';
import type { IntakeConfig } from './sources/webhooks/schema.ts';
import { redactUrl } from './store/store.ts';

// The operator's first hour: what kuzet watches, where its data lives, who it can page and which shipped
// placeholders are still in place. Logged as one block at start-up and served by GET /api/v1/status
// (`kuzet status`). Built from the configuration and a few cheap looks (files, a channel's greeting).

export interface ChannelStatus {
  name: string;
  type: string;
  /** true: answered; false: refused or timed out; null: this type is not checked (nothing is sent to find out). */
  answers: boolean | null;
  detail: string;
}

export interface StatusSummary {
  url: string;
  public_url: string;
  version: string;
  data: { store: string; path: string; attachments: string };
  probes: { enabled: number; disabled_placeholders: number; by_system: Array<{ system: string; enabled: number; disabled: number }> };
  logs: { files: Array<{ name: string; path: string; found: boolean }>; found: number; missing: number; journald: string[] };
  syslog: Array<{ protocol: 'udp' | 'tcp'; host: string; port: number }>;
  soc_sources: Array<{ name: string; system: string }>;
  channels: ChannelStatus[];
  unreachable_people: Array<{ person: string; why: string }>;
  placeholders: string[];
  bootstrap_token_active: boolean;
}

export interface SummaryDeps {
  config: LoadedConfig;
  clock: Clock;
  url: string;
  version: string;
  /** Channel clients to ask; default: built from the config for this look and closed after. */
  channels?: (cfg: EscalationConfig) => Record<string, Channel>;
  /** How long a channel may take to answer (ms). */
  checkTimeoutMs?: number;
}

/** A path or a glob in its last segment: does anything match? */
function exists(path: string): boolean {
  const base = basename(path);
  if (!/[*?[]/.test(base)) {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  }
  const re = new RegExp(`^${base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  try {
    return readdirSync(dirname(path)).some((n) => re.test(n));
  } catch {
    return false;
  }
}

/** A placeholder address as the summary names it: its domain only ("…@example.kz"), which log masking leaves readable. */
const shown = (a: string | undefined) => (a && a.includes('@') ? `…@${a.slice(a.lastIndexOf('@') + 1)}` : String(a));

async function checkChannel(name: string, type: string, ch: Channel | undefined, timeoutMs: number): Promise<ChannelStatus> {
  if (!ch) return { name, type, answers: false, detail: 'not built: the channel is missing a required setting' };
  if (!ch.check) return { name, type, answers: null, detail: `not checked (a ${type} channel is only tried by a real message)` };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ ok: boolean; detail: string }>((r) => {
    timer = setTimeout(() => r({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
  });
  const r = await Promise.race([ch.check(), late]).finally(() => clearTimeout(timer));
  return { name, type, answers: r.ok, detail: r.detail };
}

export async function buildSummary(d: SummaryDeps): Promise<StatusSummary> {
  const { config } = d;
  const k = config.kuzet;
  const esc = (k.escalation ?? {}) as unknown as EscalationConfig;
  const placeholderDomains = esc.placeholder_domains?.length ? esc.placeholder_domains : [...SHIPPED_PLACEHOLDER_DOMAINS];
  const placeholders: string[] = [];

  // Probes: enabled per system; disabled ones are the placeholders for internal addresses an operator fills in.
  const bySystem = new Map<string, { enabled: number; disabled: number }>();
  for (const f of config.probeFiles) {
    for (const p of f.probes) {
      const sys = String(p.system ?? '?');
      const e = bySystem.get(sys) ?? { enabled: 0, disabled: 0 };
      if (p.enabled === false) e.disabled++;
      else e.enabled++;
      bySystem.set(sys, e);
    }
  }
  const by_system = [...bySystem].map(([system, e]) => ({ system, ...e })).sort((a, b) => a.system.localeCompare(b.system));

  const logs = (k.logs ?? {}) as LogsConfig;
  const files = (logs.files ?? []).flatMap((f) => f.paths.map((p) => ({ name: f.name, path: resolve(p), found: exists(resolve(p)) })));
  const syslog: StatusSummary['syslog'] = [];
  if (logs.syslog?.udp) syslog.push({ protocol: 'udp', host: logs.syslog.udp.host ?? '127.0.0.1', port: logs.syslog.udp.port });
  if (logs.syslog?.tcp) syslog.push({ protocol: 'tcp', host: logs.syslog.tcp.host ?? '127.0.0.1', port: logs.syslog.tcp.port });

  const intake = (k.intake ?? {}) as unknown as Partial<IntakeConfig>;
  const soc_sources = (intake.soc?.sources ?? []).map((s) => ({ name: s.name, system: s.system }));

  // Channels: ask each one that can be asked without sending anything.
  const make = d.channels ?? ((cfg: EscalationConfig) => buildChannels(cfg, d.clock));
  let clients: Record<string, Channel> = {};
  let buildError = '';
  try {
    clients = make(esc);
  } catch (err) {
    buildError = (err as Error).message;
  }
  const timeoutMs = d.checkTimeoutMs ?? 5_000;
  const channels = await Promise.all(
    Object.entries(esc.channels ?? {}).map(([name, c]) =>
      buildError && !clients[name] ? Promise.resolve<ChannelStatus>({ name, type: c.type, answers: false, detail: buildError }) : checkChannel(name, c.type, clients[name], timeoutMs),
    ),
  );
  if (!d.channels) await closeChannels(clients);
  const answering = new Map(channels.map((c) => [c.name, c.answers !== false]));

  // People: whom no channel reaches (no address, only placeholder addresses, or only channels that do not answer).
  const unreachable_people: StatusSummary['unreachable_people'] = [];
  const now = d.clock.now();
  for (const [id, person] of Object.entries(esc.people ?? {})) {
    const r = resolveTargets(esc, [{ person: id }], now);
    const real = r.deliveries.filter((x) => !isPlaceholderAddress(x.recipient.address, placeholderDomains));
    const live = real.filter((x) => answering.get(x.channel));
    if (live.length) continue;
    const why = !r.deliveries.length
      ? r.problems.join('; ') || 'no channel'
      : !real.length
        ? `only placeholder addresses (${r.deliveries.map((x) => shown(x.recipient.address)).join(', ')})`
        : `its channels do not answer (${real.map((x) => x.channel).join(', ')})`;
    unreachable_people.push({ person: `${id} (${person.name})`, why });
  }

  // Shipped placeholders still in use.
  const secret = esc.ack_links?.secret ?? '';
  if (/change-me/.test(secret)) placeholders.push('escalation.ack_links.secret is the shipped placeholder: set KUZET_ACK_SECRET');
  for (const [id, p] of Object.entries(esc.people ?? {})) {
    for (const a of [p.email, p.slack, p.telegram]) {
      if (!a || !isPlaceholderAddress(a, placeholderDomains)) continue;
      const held = isPlaceholderAddress(a, esc.placeholder_domains ?? []);
      placeholders.push(`person ${id}: ${shown(a)} is a placeholder address (${held ? 'pages to it are held' : 'add its domain to escalation.placeholder_domains to hold pages to it'})`);
    }
  }
  for (const [name, c] of Object.entries(esc.channels ?? {})) {
    for (const a of [c.from, c.to]) if (a && isPlaceholderAddress(a, placeholderDomains)) placeholders.push(`channel ${name}: ${shown(a)} is a placeholder address`);
  }
  const disabled = by_system.reduce((n, s) => n + s.disabled, 0);
  if (disabled) placeholders.push(`${disabled} probe(s) ship disabled (enabled: false) until their internal addresses are filled in`);

  const store = k.store;
  return {
    url: d.url,
    public_url: k.server.public_url,
    version: d.version,
    data: {
      store: store.url ? 'postgres' : 'embedded',
      path: store.url ? redactUrl(store.url) : resolve(config.dir, store.data_dir),
      attachments: resolve(String((k.requests as { attachments?: { dir?: string } }).attachments?.dir ?? 'data/attachments')),
    },
    probes: { enabled: by_system.reduce((n, s) => n + s.enabled, 0), disabled_placeholders: disabled, by_system },
    logs: { files, found: files.filter((f) => f.found).length, missing: files.filter((f) => !f.found).length, journald: (logs.journald ?? []).map((j) => j.name) },
    syslog,
    soc_sources,
    channels,
    unreachable_people,
    placeholders,
    bootstrap_token_active: Boolean(k.auth.bootstrap_token),
  };
}

/** The summary as the lines a person reads (the log block and `kuzet status`). */
export function summaryText(s: StatusSummary): string {
  const lines = [
    `kuzet ${s.version} at ${s.url} (public URL ${s.public_url})`,
    `data: ${s.data.store} at ${s.data.path}; attachments in ${s.data.attachments}`,
    `probes: ${s.probes.enabled} enabled, ${s.probes.disabled_placeholders} disabled placeholder(s)`,
    ...s.probes.by_system.map((p) => `  ${p.system}: ${p.enabled} enabled${p.disabled ? `, ${p.disabled} disabled` : ''}`),
    `log files: ${s.logs.found} found, ${s.logs.missing} missing`,
    ...s.logs.files.map((f) => `  ${f.found ? 'found  ' : 'MISSING'} ${f.name}: ${f.path}`),
    ...(s.logs.journald.length ? [`journald: ${s.logs.journald.join(', ')}`] : []),
    `syslog: ${s.syslog.length ? s.syslog.map((x) => `${x.protocol} ${x.host}:${x.port}`).join(', ') : 'not listening'}`,
    `SOC sources: ${s.soc_sources.length ? s.soc_sources.map((x) => `${x.name} (${x.system})`).join(', ') : 'none'}`,
    `channels: ${s.channels.length ? '' : 'none: nobody can be paged'}`.trimEnd(),
    ...s.channels.map((c) => `  ${c.answers === true ? 'answers ' : c.answers === false ? 'DOWN    ' : 'unchecked'} ${c.name} (${c.type}): ${c.detail}`),
    `people no channel can reach: ${s.unreachable_people.length ? '' : 'none'}`.trimEnd(),
    ...s.unreachable_people.map((p) => `  ${p.person}: ${p.why}`),
    `shipped placeholders still in use: ${s.placeholders.length ? '' : 'none'}`.trimEnd(),
    ...s.placeholders.map((p) => `  ${p}`),
    ...(s.bootstrap_token_active ? ['the bootstrap admin token (KUZET_ADMIN_TOKEN) is active'] : []),
  ];
  return lines.join('\n');
}
