import { parseDuration } from '../clock.ts';
import { KuzetError } from '../errors.ts';
import type { Queryable } from '../store/store.ts';
import type { EscalationConfig } from './config.ts';
import { onCallNow } from './rotation.ts';
import { createSilence, expireSilence, listSilences } from './silences.ts';
import { localTime } from '../local-time.ts';

// Plain functions behind `kuzet oncall now` and `kuzet silence ...`: arguments in, text and exit code out.

export interface CliOutput {
  text: string;
  code: number;
}

const almaty = (t: number) => localTime(t);

/** `kuzet oncall now [--rotation NAME] [--at ISO] [--json]` */
export function oncallNowCommand(cfg: EscalationConfig, now: number, opts: { rotation?: string; at?: string; json?: boolean } = {}): CliOutput {
  const at = opts.at === undefined ? now : Date.parse(opts.at);
  if (Number.isNaN(at)) return { text: `invalid --at ${JSON.stringify(opts.at)}: expected an ISO 8601 time`, code: 2 };
  let all = onCallNow(cfg.rotations, at);
  if (opts.rotation !== undefined) {
    all = all.filter((o) => o.rotation === opts.rotation);
    if (!all.length) return { text: `unknown rotation ${JSON.stringify(opts.rotation)}`, code: 2 };
  }
  if (opts.json) return { text: JSON.stringify(all, null, 2), code: 0 };
  if (!all.length) return { text: 'no rotations configured', code: 0 };
  const lines = all.map((o) => {
    const who = o.person ? (cfg.people?.[o.person]?.name ?? o.person) : 'nobody';
    const why = o.override ? 'override' : o.layer ? `layer ${o.layer}` : 'no layer covers now';
    return `${o.rotation}: ${who} (${why}${o.until ? `, until ${almaty(o.until)}` : ''})`;
  });
  return { text: lines.join('\n'), code: 0 };
}

/** `kuzet silence add --match k=v ... --for 2h|--until ISO --reason TEXT --author NAME` */
export async function silenceAddCommand(
  store: Queryable,
  now: number,
  args: { match: string[]; for?: string; until?: string; reason?: string; author: string },
): Promise<CliOutput> {
  const matchers: Record<string, string | string[]> = {};
  for (const m of args.match) {
    const eq = m.indexOf('=');
    if (eq < 1) return { text: `invalid matcher ${JSON.stringify(m)}: expected key=value`, code: 2 };
    const k = m.slice(0, eq);
    const v = m.slice(eq + 1);
    const prev = matchers[k];
    matchers[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  if (!args.reason) return { text: 'a silence needs --reason', code: 2 };
  let endsAt: number;
  if (args.for !== undefined) {
    const d = parseDuration(args.for);
    if (d === undefined) return { text: `invalid --for ${JSON.stringify(args.for)}: expected a duration like 2h`, code: 2 };
    endsAt = now + d;
  } else if (args.until !== undefined) {
    endsAt = Date.parse(args.until);
    if (Number.isNaN(endsAt)) return { text: `invalid --until ${JSON.stringify(args.until)}: expected an ISO 8601 time`, code: 2 };
  } else return { text: 'a silence needs --for or --until', code: 2 };
  try {
    const s = await createSilence(store, { matchers, endsAt, author: args.author, reason: args.reason }, now);
    return { text: `silence ${s.id} until ${almaty(s.endsAt)}`, code: 0 };
  } catch (err) {
    if (err instanceof KuzetError) return { text: err.message, code: 2 };
    throw err;
  }
}

/** `kuzet silence list [--all]` */
export async function silenceListCommand(store: Queryable, now: number, all = false): Promise<CliOutput> {
  const items = await listSilences(store, all, now);
  if (!items.length) return { text: 'no silences', code: 0 };
  return {
    text: items
      .map((s) => `${s.id}\t${JSON.stringify(s.matchers)}\tuntil ${almaty(s.endsAt)}${s.expiredAt ? ' (expired)' : ''}\t${s.author}: ${s.reason}`)
      .join('\n'),
    code: 0,
  };
}

/** `kuzet silence expire ID` */
export async function silenceExpireCommand(store: Queryable, now: number, id: string): Promise<CliOutput> {
  if (!/^\d{1,15}$/.test(id)) return { text: `invalid silence id ${JSON.stringify(id)}`, code: 2 };
  try {
    await expireSilence(store, Number(id), now);
    return { text: `silence ${id} expired`, code: 0 };
  } catch (err) {
    if (err instanceof KuzetError) return { text: err.message, code: 1 };
    throw err;
  }
}
