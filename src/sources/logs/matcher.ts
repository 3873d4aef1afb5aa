import { escapeLiteral, type CompiledPattern } from './patterns.ts';

// Finds which rules match which lines, fast enough to keep up with grep. Most log lines match no rule,
// so the work is arranged to skip them at native speed:
//  1. one combined regular expression (every V8-safe pattern, plus the literal atoms of the re2 ones) is run
//     over a whole block of lines with the `m` flag; a block with no hit costs one native scan;
//  2. each hit names a line; every pattern is tested on that line alone, which gives the exact answer
//     (a hit may be a false positive: an atom without the rest of the pattern, or a match across lines).
// Patterns with no atoms on the re2 engine cannot be skipped, so blocks holding one are tested line by line.

export type HitHandler = (line: string, rules: readonly number[]) => void;

export class LogMatcher {
  readonly #patterns: readonly CompiledPattern[];
  /** null: some pattern must see every line. */
  readonly #candidate: RegExp | null;
  readonly #everyLine: boolean;
  readonly #hits: number[] = [];

  constructor(patterns: readonly CompiledPattern[]) {
    this.#patterns = patterns;
    const parts: string[] = [];
    let everyLine = false;
    for (const p of patterns) {
      if (p.jsBody !== null) parts.push(`(?:${p.jsBody})`);
      else if (p.atoms) for (const a of p.atoms) parts.push(escapeLiteral(a));
      else everyLine = true;
    }
    this.#everyLine = everyLine;
    this.#candidate = !everyLine && parts.length > 0 ? new RegExp([...new Set(parts)].join('|'), 'gm') : null;
  }

  get size(): number {
    return this.#patterns.length;
  }

  /** Indices of the patterns that match one event (an event may hold several lines). */
  matchEvent(text: string): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#patterns.length; i++) if (this.#patterns[i]!.test(text)) out.push(i);
    return out;
  }

  /**
   * Scan `text`, a block of single-line events separated by '\n' (a trailing '\n' is optional), and call
   * `onHit` for each line that matches at least one pattern, in order. The `rules` array is reused between
   * calls: copy it to keep it.
   */
  scanLines(text: string, onHit: HitHandler): void {
    if (this.#patterns.length === 0) return;
    if (this.#everyLine || this.#candidate === null) {
      this.#eachLine(text, onHit);
      return;
    }
    const re = this.#candidate;
    const hits = this.#hits;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const at = m.index;
      const start = at === 0 ? 0 : text.lastIndexOf('\n', text.charCodeAt(at) === 10 ? at - 1 : at) + 1;
      let end = text.indexOf('\n', at);
      if (end === -1) end = text.length;
      const line = text.slice(start, end);
      hits.length = 0;
      for (let i = 0; i < this.#patterns.length; i++) if (this.#patterns[i]!.test(line)) hits.push(i);
      if (hits.length > 0) onHit(line, hits);
      if (end >= text.length) break;
      re.lastIndex = end + 1;
    }
  }

  #eachLine(text: string, onHit: HitHandler): void {
    const hits = this.#hits;
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      const line = text.slice(start, end);
      hits.length = 0;
      for (let i = 0; i < this.#patterns.length; i++) if (this.#patterns[i]!.test(line)) hits.push(i);
      if (hits.length > 0) onHit(line, hits);
      start = end + 1;
    }
  }
}
