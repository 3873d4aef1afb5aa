import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';
import { RE2JS, type Matcher } from 're2js';

// Log-rule patterns come from config, so a pathological one must not freeze the daemon.
// Every pattern is RE2 syntax and is validated by re2js (linear time: no backreferences, no lookaround).
// A pattern is then run by one of two engines:
//  - 'v8': V8's RegExp, when the pattern lies in the subset where RE2 and JavaScript agree AND V8 can bound
//    its cost: with --enable-experimental-regexp-engine-on-excessive-backtracks V8 switches a match that
//    backtracks too much to its linear-time engine. That engine refuses some patterns (flags i/u, large
//    counted repetitions), for which the fallback silently does not happen, so those never take this path.
//  - 're2': re2js for everything else (inline flags such as (?i), \pL, POSIX classes, big counted repetitions).
// Both give the same answers on the common subset; 'v8' is several times faster, which the log benchmark needs.

export type Engine = 'v8' | 're2';

export interface CompiledPattern {
  readonly source: string;
  readonly engine: Engine;
  /** Named groups, in pattern order. */
  readonly groupNames: readonly string[];
  /** Literal strings of which any match contains at least one; null when none can be derived. */
  readonly atoms: readonly string[] | null;
  /** Text usable inside a combined V8 alternation (named groups made anonymous); null for 're2' patterns. */
  readonly jsBody: string | null;
  test(text: string): boolean;
  /** Named groups of the first match, or null when there is no match. */
  groups(text: string): Record<string, string> | null;
}

export class PatternError extends Error {
  constructor(readonly pattern: string, message: string) {
    super(message);
    this.name = 'PatternError';
  }
}

/** V8's linear engine replicates counted repetitions; past this product along a nesting path it refuses them. */
const MAX_REPLICATION = 16;
const SIMPLE_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S', 'b', 'B', 't', 'n', 'r', 'f', 'v']);

let fallbackChecked: boolean | undefined;

/**
 * Turn on V8's backtrack-bounded fallback and check that it works in this Node (a known exponential pattern
 * must answer at once). When it does not, every pattern uses re2js. Called once, lazily.
 */
export function v8FallbackAvailable(): boolean {
  if (fallbackChecked !== undefined) return fallbackChecked;
  v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  v8.setFlagsFromString('--regexp-backtracks-before-fallback=20000');
  // 2^25 steps without the fallback (about a second); well under a millisecond with it.
  const probes = [new RegExp('(a+)+$'), new RegExp('(?:x{1,3}\\.){2}(a{1,4})+$')];
  const input = 'x.x.' + 'a'.repeat(25) + '!';
  const t0 = performance.now();
  for (const p of probes) p.test(input);
  fallbackChecked = performance.now() - t0 < 100;
  return fallbackChecked;
}

interface Scan {
  /** Pattern rewritten for JavaScript: (?P<n> -> (?<n>. */
  js: string;
  /** Same with every named group made non-capturing (for combined alternations). */
  body: string;
  /** Why V8 may not run it, or null when it may. */
  unsafe: string | null;
  names: string[];
}

/** Walk the pattern text once: translate named groups, find what V8 must not run. */
function scanPattern(p: string): Scan {
  let js = '';
  let body = '';
  let unsafe: string | null = null;
  const names: string[] = [];
  const flag = (why: string) => {
    unsafe ??= why;
  };
  // Each open group keeps the largest replication product found inside it.
  const stack: number[] = [1];
  let lastAtom = 1; // replication product of the last atom (a group's inner product, 1 for a plain atom)
  const quantify = (factor: number) => {
    const top = stack.length - 1;
    stack[top] = Math.max(stack[top]!, lastAtom * factor);
  };
  let i = 0;
  const emit = (a: string, b = a) => {
    js += a;
    body += b;
  };
  while (i < p.length) {
    const c = p[i]!;
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) flag('characters outside the Basic Multilingual Plane');
    if (c === '\\') {
      const n = p[i + 1] ?? '';
      if (n === 'x' && /^[0-9A-Fa-f]{2}$/.test(p.slice(i + 2, i + 4))) {
        emit(p.slice(i, i + 4));
        i += 4;
      } else {
        if (/[A-Za-z0-9]/.test(n) && !SIMPLE_ESCAPES.has(n)) flag(`escape \\${n}`);
        emit(c + n);
        i += 2;
      }
      lastAtom = 1;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      if (p[j] === '^') j++;
      if (p[j] === ']') flag('a class starting with ]');
      if (p[j] === '[' && p[j + 1] === ':') flag('POSIX class');
      for (; j < p.length && p[j] !== ']'; j++) {
        if (p[j] === '[' && p[j + 1] === ':') flag('POSIX class');
        if (p[j] === '\\') {
          const n = p[j + 1] ?? '';
          if (n === 'x' && /^[0-9A-Fa-f]{2}$/.test(p.slice(j + 2, j + 4))) j += 3;
          else {
            if (/[A-Za-z0-9]/.test(n) && !SIMPLE_ESCAPES.has(n)) flag(`escape \\${n}`);
            j++;
          }
        }
      }
      emit(p.slice(i, j + 1));
      i = j + 1;
      lastAtom = 1;
      continue;
    }
    if (c === '(') {
      const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(p.slice(i));
      if (named) {
        names.push(named[1]!);
        emit(`(?<${named[1]}>`, '(?:');
        i += named[0].length;
      } else if (p.startsWith('(?:', i)) {
        emit('(?:');
        i += 3;
      } else if (p[i + 1] === '?') {
        flag('inline flags or group syntax JavaScript does not share');
        emit('(');
        i += 1;
      } else {
        emit('(');
        i += 1;
      }
      stack.push(1);
      continue;
    }
    if (c === ')') {
      lastAtom = stack.length > 1 ? stack.pop()! : 1;
      const top = stack.length - 1;
      stack[top] = Math.max(stack[top]!, lastAtom);
      emit(c);
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      quantify(c === '+' ? 2 : 1);
      emit(c);
      i++;
      if (p[i] === '?') {
        emit('?');
        i++;
      }
      continue;
    }
    if (c === '{') {
      const q = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
      if (q) {
        const min = Number(q[1]);
        const max = q[2] === undefined ? min : q[3] === '' ? Infinity : Number(q[3]);
        quantify(Number.isFinite(max) ? max : min + 1);
        emit(q[0]);
        i += q[0].length;
        if (p[i] === '?') {
          emit('?');
          i++;
        }
        continue;
      }
    }
    emit(c);
    i++;
    lastAtom = 1;
  }
  if (stack[0]! > MAX_REPLICATION) flag('counted repetitions too large for the bounded engine');
  return { js, body, unsafe, names };
}

interface PrefilterNode {
  type: number;
  str?: string;
  subs?: PrefilterNode[];
}

/**
 * Literals of which every match contains one, from re2js's own prefilter (EXACT=1, AND=2, OR=3).
 * re2js uses the same tree to skip matching, so it is sound; when the tree is missing (another re2js
 * version) there are simply no atoms and the pattern is tested on every line.
 */
function atomsOf(node: PrefilterNode | null | undefined): string[] | null {
  if (!node || typeof node.type !== 'number') return null;
  if (node.type === 1) return typeof node.str === 'string' && node.str.length > 0 ? [node.str] : null;
  if (node.type === 2) {
    let best: string[] | null = null;
    for (const s of node.subs ?? []) {
      const a = atomsOf(s);
      if (a && (!best || atomScore(a) > atomScore(best))) best = a;
    }
    return best;
  }
  if (node.type === 3) {
    const out: string[] = [];
    for (const s of node.subs ?? []) {
      const a = atomsOf(s);
      if (!a) return null;
      out.push(...a);
    }
    return out.length ? [...new Set(out)] : null;
  }
  return null;
}

/** Prefer few, long literals: they let more lines skip the pattern. */
const atomScore = (a: string[]): number => Math.min(...a.map((s) => s.length)) - a.length * 0.25;

/** Compile one pattern; throws PatternError with re2js's message when it is not valid RE2 syntax. */
export function compilePattern(source: string, opts: { engine?: Engine | 'auto' } = {}): CompiledPattern {
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(source);
  } catch (err) {
    throw new PatternError(source, `invalid pattern ${JSON.stringify(source)}: ${(err as Error).message}`);
  }
  const scan = scanPattern(source);
  const prefilter = (re2.re2() as unknown as { prefilter?: PrefilterNode | null }).prefilter;
  const atoms = atomsOf(prefilter);
  let js: RegExp | null = null;
  const want = opts.engine ?? 'auto';
  if (want !== 're2' && scan.unsafe === null && v8FallbackAvailable()) {
    try {
      js = new RegExp(scan.js);
    } catch {
      js = null;
    }
  }
  if (want === 'v8' && !js) throw new PatternError(source, `pattern ${JSON.stringify(source)} cannot run on the bounded V8 engine: ${scan.unsafe ?? 'not valid JavaScript'}`);
  const names = Object.keys(re2.namedGroups());
  if (js) {
    const re = js;
    return {
      source,
      engine: 'v8',
      groupNames: scan.names,
      atoms,
      jsBody: scan.body,
      test: (t) => re.test(t),
      groups: (t) => {
        const m = re.exec(t);
        if (!m) return null;
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) out[k] = v;
        return out;
      },
    };
  }
  return {
    source,
    engine: 're2',
    groupNames: names,
    atoms,
    jsBody: null,
    test: (t) => re2.test(t),
    groups: (t) => {
      const m: Matcher = re2.matcher(t);
      if (!m.find()) return null;
      const out: Record<string, string> = {};
      for (const n of names) {
        const v = m.group(n);
        if (v !== null) out[n] = v;
      }
      return out;
    },
  };
}

/** Escape a literal for use inside a RegExp. */
export const escapeLiteral = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
