import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Matchers } from '../escalation/config.ts';
import { matchesLabels } from '../escalation/match.ts';

// Runbooks are `runbooks/*.md` with a YAML front matter:
//   ---
//   title: Portal unavailable
//   match:            # any one set matching the incident's labels (plus system, check, source, severity)
//     - runbook: portal-unavailable
//     - check: "~http-.*"
//   ---
// A `runbook` label naming a runbook wins; otherwise the most specific matching set (most keys) wins, ties going
// to a set that names the source, then to the file name order.

export interface Runbook {
  name: string;
  title: string;
  match: Matchers[];
  /** The first numbered steps, quoted in the page so the receiver can start before opening the link. */
  firstSteps: string[];
  body: string;
}

export function parseRunbook(name: string, text: string): Runbook {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!m) throw new Error(`runbook ${name}: missing front matter`);
  const meta = (parse(m[1]!) ?? {}) as { title?: unknown; match?: unknown };
  if (typeof meta.title !== 'string' || !meta.title) throw new Error(`runbook ${name}: title is required`);
  if (!Array.isArray(meta.match) || meta.match.some((x) => typeof x !== 'object' || x === null)) throw new Error(`runbook ${name}: match must be a list of label sets`);
  const body = m[2]!;
  const firstSteps = [...body.matchAll(/^\s*\d+\.\s+(.+)$/gm)].slice(0, 4).map((x) => x[1]!.trim());
  return { name, title: meta.title, match: meta.match as Matchers[], firstSteps, body };
}

export function loadRunbooks(dir: string): Runbook[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.md') && f.toLowerCase() !== 'readme.md').sort();
  } catch {
    return [];
  }
  return files.map((f) => parseRunbook(f.replace(/\.md$/, ''), readFileSync(join(dir, f), 'utf8')));
}

export function chooseRunbook(runbooks: readonly Runbook[], labels: Record<string, string>): Runbook | null {
  // An explicit `runbook` label names the runbook: no pattern on the check name can override it.
  const named = labels.runbook ? runbooks.find((r) => r.name === labels.runbook) : undefined;
  if (named) return named;
  let best: Runbook | null = null;
  let score = -1;
  for (const rb of runbooks) {
    for (const set of rb.match) {
      // Among sets of as many keys, one that names the source (soc, backup) outranks a pattern on the check name:
      // a SOC alert about "db-bruteforce" is a SOC alert, not a database outage.
      const n = Object.keys(set).length + ('source' in set ? 0.5 : 0);
      if (n > score && matchesLabels(set, labels)) {
        best = rb;
        score = n;
      }
    }
  }
  return best;
}
