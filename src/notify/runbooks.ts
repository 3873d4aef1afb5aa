import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Lang, Matchers } from '../escalation/config.ts';
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

export interface RunbookSection {
  title: string;
  firstSteps: string[];
}

export interface Runbook {
  name: string;
  title: string;
  match: Matchers[];
  /** The first numbered steps, quoted in the page so the receiver can start before opening the link. */
  firstSteps: string[];
  body: string;
  /**
   * One section per language: a level-1 heading tagged with the language, `# [kk] Портал қолжетімсіз`, starts it.
   * Text before any tagged heading is the Russian section (runbooks written before languages were tagged).
   */
  sections: Partial<Record<Lang, RunbookSection>>;
}

const LANGS: readonly Lang[] = ['ru', 'kk', 'en'];
const stepsOf = (text: string) => [...text.matchAll(/^\s*\d+\.\s+(.+)$/gm)].slice(0, 4).map((x) => x[1]!.trim());

function sectionsOf(body: string, fallbackTitle: string): Partial<Record<Lang, RunbookSection>> {
  const out: Partial<Record<Lang, RunbookSection>> = {};
  const marks = [...body.matchAll(/^#\s*\[(ru|kk|en)\]\s*(.*)$/gm)];
  const head = body.slice(0, marks[0]?.index ?? body.length);
  if (stepsOf(head).length) out.ru = { title: /^#\s+(.+)$/m.exec(head)?.[1]?.trim() ?? fallbackTitle, firstSteps: stepsOf(head) };
  marks.forEach((m, i) => {
    const text = body.slice(m.index! + m[0].length, marks[i + 1]?.index ?? body.length);
    out[m[1] as Lang] = { title: m[2]!.trim() || fallbackTitle, firstSteps: stepsOf(text) };
  });
  return out;
}

/** The runbook in a language; when that section is missing, another one, with `fallback` naming which. */
export function runbookIn(rb: Runbook, lang: Lang): RunbookSection & { lang: Lang; fallback: boolean } {
  const own = rb.sections[lang];
  if (own) return { ...own, lang, fallback: false };
  const other = (['ru', 'en', 'kk'] as const).find((l) => rb.sections[l]);
  if (other) return { ...rb.sections[other]!, lang: other, fallback: true };
  return { title: rb.title, firstSteps: rb.firstSteps, lang: 'ru', fallback: lang !== 'ru' };
}

export function parseRunbook(name: string, text: string): Runbook {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!m) throw new Error(`runbook ${name}: missing front matter`);
  const meta = (parse(m[1]!) ?? {}) as { title?: unknown; match?: unknown };
  if (typeof meta.title !== 'string' || !meta.title) throw new Error(`runbook ${name}: title is required`);
  if (!Array.isArray(meta.match) || meta.match.some((x) => typeof x !== 'object' || x === null)) throw new Error(`runbook ${name}: match must be a list of label sets`);
  const body = m[2]!;
  const sections = sectionsOf(body, meta.title);
  const first = sections.ru ?? LANGS.map((l) => sections[l]).find(Boolean);
  const firstSteps = first?.firstSteps ?? stepsOf(body);
  return { name, title: meta.title, match: meta.match as Matchers[], firstSteps, body, sections };
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
