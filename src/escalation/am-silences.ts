import { RE2JS } from 're2js';
import type { AmMatcher } from '../sources/webhooks/alertmanager.ts';
import type { Matchers } from './config.ts';
import type { Silence } from './silences.ts';

// kuzet's silences as the Alertmanager v2 API shows them (amtool silence add / query / expire, Grafana).
// A kuzet matcher value is "x" (equals), "!x" (differs), "~re" (matches) or "!~re" (does not match); an
// Alertmanager silence is a list of {name, value, isRegex, isEqual}, all of which must hold.

export interface GettableSilence {
  id: string;
  matchers: Array<Required<AmMatcher>>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  createdBy: string;
  comment: string;
  status: { state: 'active' | 'pending' | 'expired' };
}

const escapeRe = (s: string) => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/** Alertmanager matchers -> kuzet matchers, or a message naming what kuzet cannot hold. */
export function matchersFromAm(ms: AmMatcher[]): Matchers | string {
  const out: Matchers = {};
  for (const [i, m] of ms.entries()) {
    const where = `matchers[${i}]`;
    if (Object.hasOwn(out, m.name)) return `${where}: a second matcher on label "${m.name}": kuzet holds one matcher per label in a silence`;
    const equal = m.isEqual !== false;
    if (m.isRegex) {
      try {
        RE2JS.compile(m.value);
      } catch (err) {
        return `${where}.value: "${m.value.slice(0, 100)}" is not a valid regular expression (${(err as Error).message})`;
      }
      out[m.name] = (equal ? '~' : '!~') + m.value;
    } else if (equal) {
      // A value that itself begins with "!" or "~" is written as an exact regular expression.
      out[m.name] = /^[!~]/.test(m.value) ? `~${escapeRe(m.value)}` : m.value;
    } else {
      out[m.name] = `!${m.value}`;
    }
  }
  return out;
}

function one(name: string, v: string): Required<AmMatcher> {
  if (v.startsWith('!~')) return { name, value: v.slice(2), isRegex: true, isEqual: false };
  if (v.startsWith('!')) return { name, value: v.slice(1), isRegex: false, isEqual: false };
  if (v.startsWith('~')) return { name, value: v.slice(1), isRegex: true, isEqual: true };
  return { name, value: v, isRegex: false, isEqual: true };
}

/** kuzet matchers -> Alertmanager matchers. A list of values ("any of") becomes one regular expression. */
export function matchersToAm(m: Matchers): Array<Required<AmMatcher>> {
  const out: Array<Required<AmMatcher>> = [];
  for (const [name, v] of Object.entries(m)) {
    if (!Array.isArray(v)) out.push(one(name, v));
    else if (v.length === 1) out.push(one(name, v[0]!));
    else if (v.every((x) => !x.startsWith('!'))) {
      out.push({ name, value: v.map((x) => (x.startsWith('~') ? `(?:${x.slice(1)})` : escapeRe(x))).join('|'), isRegex: true, isEqual: true });
    } else {
      for (const x of v) out.push(one(name, x)); // a list with negations has no single Alertmanager form: shown item by item
    }
  }
  return out;
}

export function silenceState(s: Silence, nowMs: number): GettableSilence['status']['state'] {
  if (s.expiredAt !== null || s.endsAt <= nowMs) return 'expired';
  return s.startsAt > nowMs ? 'pending' : 'active';
}

export function toGettableSilence(s: Silence, nowMs: number): GettableSilence {
  const ends = s.expiredAt !== null ? Math.min(s.endsAt, s.expiredAt) : s.endsAt;
  return {
    id: String(s.id),
    matchers: matchersToAm(s.matchers),
    startsAt: new Date(s.startsAt).toISOString(),
    endsAt: new Date(ends).toISOString(),
    updatedAt: new Date(s.expiredAt ?? s.startsAt).toISOString(),
    createdBy: s.author,
    comment: s.reason,
    status: { state: silenceState(s, nowMs) },
  };
}
