import type { Matchers, PolicyConfig, PolicyMatch } from './config.ts';

// Matching incidents to policies, silences and inhibit rules. The subject's labels are extended with
// pseudo-labels `system`, `check`, `source` and `severity`, so a matcher can name any of them.

export interface Subject {
  system: string;
  check: string;
  source: string;
  severity: string;
  labels: Record<string, string>;
}

export function subjectLabels(s: Subject): Record<string, string> {
  return { ...s.labels, system: s.system, check: s.check, source: s.source, severity: s.severity };
}

/**
 * One matcher value: "x" equals, "!x" differs, "~re" matches a regular expression (anchored), "!~re" does not
 * match it (a missing label is the empty string there, as in Alertmanager). A list matches any.
 */
function matchOne(want: string, have: string | undefined): boolean {
  if (want.startsWith('!~')) return !safeRegex(want.slice(2)).test(have ?? '');
  if (want.startsWith('!')) return have !== want.slice(1);
  if (want.startsWith('~')) return have !== undefined && safeRegex(want.slice(1)).test(have);
  return have === want;
}

const regexCache = new Map<string, RegExp>();
function safeRegex(src: string): RegExp {
  let re = regexCache.get(src);
  if (!re) {
    try {
      re = new RegExp(`^(?:${src})$`);
    } catch {
      re = /$^/; // an invalid pattern matches nothing (check-config reports it)
    }
    regexCache.set(src, re);
  }
  return re;
}

export function matchesLabels(m: Matchers | undefined, labels: Record<string, string>): boolean {
  if (!m) return true;
  for (const [k, v] of Object.entries(m)) {
    const have = labels[k];
    const wants = Array.isArray(v) ? v : [v];
    if (wants.length && !wants.some((w) => matchOne(w, have))) return false;
  }
  return true;
}

export function matchesPolicy(m: PolicyMatch | undefined, s: Subject): boolean {
  if (!m) return true;
  if (m.systems?.length && !m.systems.includes(s.system)) return false;
  if (m.severities?.length && !m.severities.includes(s.severity)) return false;
  if (m.sources?.length && !m.sources.includes(s.source)) return false;
  return matchesLabels(m.labels, subjectLabels(s));
}

/** The first policy (in config order) that matches; null when none does (the incident is recorded, not paged). */
export function matchPolicy(policies: readonly PolicyConfig[], s: Subject): PolicyConfig | null {
  return policies.find((p) => matchesPolicy(p.match, s)) ?? null;
}
