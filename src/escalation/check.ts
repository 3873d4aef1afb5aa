import { parseDuration } from '../clock.ts';
import type { EscalationConfig, Matchers, Target } from './config.ts';
import { isValidZone } from './rotation.ts';

// Cross-reference checks the JSON Schema cannot express. Each problem has the path of the offending
// node under `escalation` (the config loader turns it into file:line:column).

export interface ConfigProblem {
  path: Array<string | number>;
  message: string;
}

const addressFor = (type: string, p: { email?: string; slack?: string; telegram?: string }): string | undefined =>
  type === 'email' ? p.email || undefined : type === 'slack' ? p.slack || undefined : type === 'telegram' ? p.telegram || undefined : undefined;

const REQUIRED: Record<string, string[]> = { email: ['host', 'from'], slack: ['token'], telegram: ['token'], webhook: ['url', 'secret'] };

export function escalationConfigProblems(cfg: EscalationConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const add = (path: Array<string | number>, message: string) => out.push({ path: ['escalation', ...path], message });
  const people = cfg.people ?? {};
  const channels = cfg.channels ?? {};
  const rotations = cfg.rotations ?? {};

  // The channel checks' back-off: a zero gap would check without pause, a ceiling below the first gap is a typo.
  const ob = cfg.outbox ?? {};
  const checkMs = ob.check_interval === undefined ? undefined : parseDuration(ob.check_interval);
  const maxCheckMs = ob.max_check_interval === undefined ? undefined : parseDuration(ob.max_check_interval);
  if (checkMs !== undefined && checkMs < 1000) add(['outbox', 'check_interval'], `must be at least 1s, got "${ob.check_interval}"`);
  if (maxCheckMs !== undefined && maxCheckMs < (checkMs ?? 30_000)) add(['outbox', 'max_check_interval'], `must not be shorter than check_interval (${ob.check_interval ?? '30s'}), got "${ob.max_check_interval}"`);

  if (cfg.user_mail_channel !== undefined) {
    const ch = channels[cfg.user_mail_channel];
    if (!ch) add(['user_mail_channel'], `unknown channel "${cfg.user_mail_channel}"`);
    else if (ch.type !== 'email') add(['user_mail_channel'], `channel "${cfg.user_mail_channel}" is ${ch.type}, expected an email channel`);
  }

  const checkTargets = (targets: Target[], path: Array<string | number>) =>
    targets.forEach((t, i) => {
      if (t.rotation !== undefined && !rotations[t.rotation]) add([...path, i, 'rotation'], `unknown rotation "${t.rotation}"`);
      if (t.person !== undefined && !people[t.person]) add([...path, i, 'person'], `unknown person "${t.person}"`);
      if (t.channel !== undefined && !channels[t.channel]) add([...path, i, 'channel'], `unknown channel "${t.channel}"`);
      (t.via ?? []).forEach((c, j) => {
        if (!channels[c]) add([...path, i, 'via', j], `unknown channel "${c}"`);
      });
    });
  const checkMatchers = (m: Matchers | undefined, path: Array<string | number>) => {
    for (const [k, v] of Object.entries(m ?? {})) {
      for (const x of Array.isArray(v) ? v : [v]) {
        const re = x.startsWith('~') ? x.slice(1) : x.startsWith('!~') ? x.slice(2) : null;
        if (re === null) continue;
        try {
          new RegExp(re);
        } catch {
          add([...path, k], `invalid regular expression ${JSON.stringify(re)}`);
        }
      }
    }
  };

  const names = new Set<string>();
  (cfg.policies ?? []).forEach((p, i) => {
    if (names.has(p.name)) add(['policies', i, 'name'], `duplicate policy name "${p.name}"`);
    names.add(p.name);
    checkMatchers(p.match?.labels, ['policies', i, 'match', 'labels']);
    p.steps.forEach((s, j) => checkTargets(s.notify, ['policies', i, 'steps', j, 'notify']));
    checkTargets(p.on_breach?.notify ?? [], ['policies', i, 'on_breach', 'notify']);
    const afters = p.steps.map((s) => parseDuration(s.after) ?? 0);
    if (afters.some((a, j) => j > 0 && a <= afters[j - 1]!)) add(['policies', i, 'steps'], 'steps must be in increasing order of `after`');
    if (p.repeat && (parseDuration(p.repeat.every) ?? 0) <= 0) add(['policies', i, 'repeat', 'every'], 'repeat.every must be longer than zero');
  });

  for (const [name, r] of Object.entries(rotations)) {
    if (r.time_zone && !isValidZone(r.time_zone)) add(['rotations', name, 'time_zone'], `unknown time zone "${r.time_zone}"`);
    r.layers.forEach((l, i) => {
      l.members.forEach((m, j) => {
        if (!people[m]) add(['rotations', name, 'layers', i, 'members', j], `unknown person "${m}"`);
      });
      if (Number.isNaN(Date.parse(`${l.start}T00:00:00Z`))) add(['rotations', name, 'layers', i, 'start'], `invalid date "${l.start}"`);
      if (l.hand_off === 'daily' && l.hand_off_day) add(['rotations', name, 'layers', i, 'hand_off_day'], 'hand_off_day applies to weekly hand-offs only');
    });
    (r.overrides ?? []).forEach((o, i) => {
      if (!people[o.person]) add(['rotations', name, 'overrides', i, 'person'], `unknown person "${o.person}"`);
      if (Date.parse(o.end) <= Date.parse(o.start)) add(['rotations', name, 'overrides', i, 'end'], 'an override must end after it starts');
    });
  }

  for (const [name, person] of Object.entries(people)) {
    (person.via ?? []).forEach((c, j) => {
      if (!channels[c]) add(['people', name, 'via', j], `unknown channel "${c}"`);
    });
    // A person kuzet can page by no channel would be paged in vain: say so now, not at the first outage.
    const reachable = person.via
      ? person.via.some((c) => channels[c] && (channels[c].type === 'webhook' || addressFor(channels[c].type, person) !== undefined))
      : Object.values(channels).some((c) => addressFor(c.type, person) !== undefined);
    if (!reachable) {
      add(['people', name], person.via
        ? `no channel can reach this person: ${person.via.map((c) => `"${c}"`).join(', ')} need an address the person lacks`
        : `no channel can reach this person: give an email, slack or telegram address that a configured channel serves`);
    }
  }

  for (const [name, c] of Object.entries(channels)) {
    for (const f of REQUIRED[c.type] ?? []) {
      if (c[f as keyof typeof c] === undefined || c[f as keyof typeof c] === '') add(['channels', name], `a ${c.type} channel needs "${f}"`);
    }
    if (c.fallback !== undefined) {
      if (!channels[c.fallback]) add(['channels', name, 'fallback'], `unknown channel "${c.fallback}"`);
      else if (c.fallback === name) add(['channels', name, 'fallback'], 'a channel cannot fall back to itself');
    }
  }

  (cfg.silences ?? []).forEach((s, i) => {
    checkMatchers(s.matchers, ['silences', i, 'matchers']);
    if (s.starts_at && Date.parse(s.ends_at) <= Date.parse(s.starts_at)) add(['silences', i, 'ends_at'], 'a silence must end after it starts');
  });
  (cfg.inhibit ?? []).forEach((r, i) => {
    checkMatchers(r.cause, ['inhibit', i, 'cause']);
    checkMatchers(r.suppress, ['inhibit', i, 'suppress']);
    if (!Object.keys(r.suppress).length) add(['inhibit', i, 'suppress'], 'an inhibit rule needs at least one matcher in suppress');
  });
  if (cfg.storm_guard) checkTargets(cfg.storm_guard.notify, ['storm_guard', 'notify']);
  if (cfg.ack_links && !cfg.public_url) add(['ack_links'], 'ack links need public_url');
  return out;
}
