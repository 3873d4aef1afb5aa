import { parseDuration } from '../clock.ts';
import type { EscalationConfig, Lang, PolicyConfig, Target } from './config.ts';
import type { Recipient } from './outbox.ts';
import { onCallAt } from './rotation.ts';

// The ladder, as pure functions: a policy snapshot (taken when escalation starts, so a reload never
// rewrites a ladder halfway up), when each step falls due, and whom a step's targets reach right now.

export interface LadderSnapshot {
  policy: string;
  steps: Array<{ afterMs: number; notify: Target[] }>;
  ackMs: number | null;
  resolveMs: number | null;
  repeat: { everyMs: number; times: number } | null;
  onBreach: Target[];
}

const dur = (s: string | undefined): number | null => (s === undefined ? null : (parseDuration(s) ?? null));

export function snapshotPolicy(p: PolicyConfig): LadderSnapshot {
  const steps = p.steps.map((s) => ({ afterMs: dur(s.after) ?? 0, notify: s.notify.map((t) => ({ ...t })) })).sort((a, b) => a.afterMs - b.afterMs);
  const every = dur(p.repeat?.every);
  return {
    policy: p.name,
    steps,
    ackMs: dur(p.ack_deadline),
    resolveMs: dur(p.resolve_deadline),
    repeat: every ? { everyMs: every, times: p.repeat?.times ?? 3 } : null,
    onBreach: (p.on_breach?.notify ?? []).map((t) => ({ ...t })),
  };
}

/** The length of one round of the ladder (start to start) when it repeats. */
function roundLength(s: LadderSnapshot): number {
  return (s.steps[s.steps.length - 1]?.afterMs ?? 0) + (s.repeat?.everyMs ?? 0);
}

export function stepDueAt(s: LadderSnapshot, startedAt: number, round: number, step: number): number {
  return startedAt + round * roundLength(s) + s.steps[step]!.afterMs;
}

/** The step after (round, step), or null when the ladder is finished. */
export function nextStep(s: LadderSnapshot, round: number, step: number): { round: number; step: number } | null {
  if (step + 1 < s.steps.length) return { round, step: step + 1 };
  if (s.repeat && round + 1 <= s.repeat.times) return { round: round + 1, step: 0 };
  return null;
}

export interface Delivery {
  channel: string;
  recipient: Recipient;
  lang: Lang;
}

export interface Resolution {
  deliveries: Delivery[];
  problems: string[];
}

const addressOf = (type: string, p: { email?: string; slack?: string; telegram?: string }): string | undefined =>
  type === 'email' ? p.email : type === 'slack' ? p.slack : type === 'telegram' ? p.telegram : undefined;

/** Whom these targets reach at `now`: a rotation's current on-call, a person by their channels, a channel as is. */
export function resolveTargets(cfg: EscalationConfig, targets: Target[], now: number): Resolution {
  const out: Delivery[] = [];
  const problems: string[] = [];
  const def: Lang = cfg.default_lang ?? 'ru';
  const channels = cfg.channels ?? {};
  const viaPerson = (personId: string, via: string[] | undefined) => {
    const person = cfg.people?.[personId];
    if (!person) {
      problems.push(`person ${personId} is not configured`);
      return;
    }
    // Without `via`: the first configured channel of each type the person has an address for (not every
    // Slack channel in config, which would page them once per bot).
    const names =
      via ??
      person.via ??
      Object.keys(channels).filter((c, i, all) => addressOf(channels[c]!.type, person) !== undefined && all.findIndex((x) => channels[x]!.type === channels[c]!.type) === i);
    let reached = 0;
    for (const c of names) {
      const ch = channels[c];
      if (!ch) {
        problems.push(`channel ${c} is not configured`);
        continue;
      }
      const address = addressOf(ch.type, person);
      if (address === undefined && ch.type !== 'webhook') {
        problems.push(`person ${personId} has no ${ch.type} address`);
        continue;
      }
      out.push({ channel: c, recipient: { person: personId, name: person.name, address }, lang: person.lang ?? ch.lang ?? def });
      reached++;
    }
    if (!reached) problems.push(`person ${personId} is reachable by no channel`);
  };
  for (const t of targets) {
    if (t.channel) {
      const ch = channels[t.channel];
      if (!ch) problems.push(`channel ${t.channel} is not configured`);
      else out.push({ channel: t.channel, recipient: {}, lang: ch.lang ?? def });
    } else if (t.person) {
      viaPerson(t.person, t.via);
    } else if (t.rotation) {
      const rot = cfg.rotations?.[t.rotation];
      if (!rot) {
        problems.push(`rotation ${t.rotation} is not configured`);
        continue;
      }
      const who = onCallAt(t.rotation, rot, now);
      if (!who.person) problems.push(`rotation ${t.rotation} has nobody on call`);
      else viaPerson(who.person, t.via);
    }
  }
  // One message per channel and receiver, even when two targets name the same person.
  const seen = new Set<string>();
  return {
    deliveries: out.filter((d) => {
      const k = `${d.channel}\u0000${d.recipient.person ?? ''}\u0000${d.recipient.address ?? ''}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    }),
    problems,
  };
}
