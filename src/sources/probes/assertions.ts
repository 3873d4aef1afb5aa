import { RE2JS } from 're2js';
import { parseDuration } from '../../clock.ts';
import type { HttpExchange } from './http-client.ts';
import type { AssertionOutcome, BodyAssertion, CompareOp, HttpRequestSpec } from './types.ts';

// Conditions on an HTTP response, each reported as the operator wrote it with what was seen.
// Regular expressions run on RE2 (linear time): a hostile body cannot make a probe spin.

const regexCache = new Map<string, RE2JS>();
export function compileRegex(pattern: string): RE2JS {
  let re = regexCache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

const clip = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);

export function checkResponse(spec: HttpRequestSpec, ex: HttpExchange): AssertionOutcome[] {
  const out: AssertionOutcome[] = [];
  const statuses = spec.expect_status;
  out.push(
    statuses
      ? { name: `status in [${statuses.join(', ')}]`, ok: statuses.includes(ex.status), actual: `status ${ex.status}` }
      : { name: 'status 200–399', ok: ex.status >= 200 && ex.status < 400, actual: `status ${ex.status}` },
  );
  if (spec.latency_budget) {
    const budget = parseDuration(spec.latency_budget) ?? Infinity;
    out.push({ name: `response time <= ${spec.latency_budget}`, ok: ex.durationMs <= budget, actual: `${Math.round(ex.durationMs)} ms` });
  }
  let json: { value: unknown } | { error: string } | undefined;
  const parsed = () => {
    if (!json) {
      try {
        json = { value: JSON.parse(ex.text ?? '') };
      } catch (err) {
        json = { error: `body is not JSON: ${(err as Error).message}` };
      }
    }
    return json;
  };
  for (const a of spec.assertions ?? []) out.push(checkOne(a, ex, parsed));
  return out;
}

function checkOne(a: BodyAssertion, ex: HttpExchange, parsed: () => { value: unknown } | { error: string }): AssertionOutcome {
  const text = ex.text ?? '';
  if ('header' in a) return checkHeader(a, ex);
  if ('contains' in a) return { name: `body contains ${JSON.stringify(a.contains)}`, ok: text.includes(a.contains), actual: `${ex.bytes} bytes` };
  if ('not_contains' in a) {
    const at = text.indexOf(a.not_contains);
    return { name: `body does not contain ${JSON.stringify(a.not_contains)}`, ok: at < 0, actual: at < 0 ? undefined : `found at character ${at}` };
  }
  if ('regex' in a) {
    const m = compileRegex(a.regex).matcher(text);
    const ok = m.find();
    return { name: `body matches /${a.regex}/`, ok, actual: ok ? `matched ${JSON.stringify(clip(m.group() ?? ''))}` : 'no match' };
  }
  if ('json_path' in a) {
    const op = a.op ?? (a.value === undefined ? 'exists' : '==');
    const name = op === 'exists' ? `${a.json_path} exists` : `${a.json_path} ${op} ${JSON.stringify(a.value)}`;
    const doc = parsed();
    if ('error' in doc) return { name, ok: false, actual: doc.error };
    const found = jsonPath(doc.value, a.json_path);
    if (!found.found) return { name, ok: false, actual: found.error };
    if (op === 'exists') return { name, ok: true, actual: clip(JSON.stringify(found.value) ?? 'undefined') };
    return { name, ok: compare(found.value, op, a.value ?? null), actual: clip(JSON.stringify(found.value) ?? 'undefined') };
  }
  return { name: 'unknown assertion', ok: false };
}

function checkHeader(a: { header: string; contains?: string; equals?: string }, ex: HttpExchange): AssertionOutcome {
  const raw = ex.headers[a.header.toLowerCase()];
  const value = Array.isArray(raw) ? raw.join(', ') : raw;
  if (a.equals !== undefined) return { name: `header ${a.header} == ${JSON.stringify(a.equals)}`, ok: value === a.equals, actual: value ?? 'absent' };
  if (a.contains !== undefined)
    return { name: `header ${a.header} contains ${JSON.stringify(a.contains)}`, ok: value?.includes(a.contains) ?? false, actual: value ?? 'absent' };
  return { name: `header ${a.header} present`, ok: value !== undefined, actual: value ?? 'absent' };
}

/** Compare a found value with the expected one: numerically when the expectation is a number. */
export function compare(actual: unknown, op: CompareOp, expected: string | number | boolean | null): boolean {
  if (typeof expected === 'number') {
    const n = typeof actual === 'number' ? actual : typeof actual === 'string' && actual.trim() !== '' ? Number(actual) : NaN;
    if (Number.isNaN(n)) return op === '!=';
    return cmp(n, op, expected);
  }
  if (typeof expected === 'string') {
    const s = actual instanceof Date ? actual.toISOString() : typeof actual === 'string' || typeof actual === 'number' || typeof actual === 'boolean' ? String(actual) : undefined;
    if (s === undefined) return op === '!=';
    return cmp(s, op, expected);
  }
  const same = actual === expected || (expected === null && actual === undefined);
  if (op === '==') return same;
  if (op === '!=') return !same;
  return false;
}

function cmp<T extends number | string>(a: T, op: CompareOp, b: T): boolean {
  switch (op) {
    case '==': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
  }
}

/**
 * A small JSON path: `$`, `.key`, `['key']`, `[3]`, `[-1]`, and `.length` of arrays and strings.
 * It walks the path, not the document, so a deeply nested body cannot overflow the stack.
 */
export function jsonPath(doc: unknown, path: string): { found: true; value: unknown } | { found: false; error: string } {
  const re = /\.([A-Za-z_$][\w$-]*)|\[(-?\d+)\]|\[['"]([^'"]*)['"]\]/gy;
  if (!path.startsWith('$')) return { found: false, error: 'path must start with $' };
  re.lastIndex = 1;
  let cur: unknown = doc;
  let walked = '$';
  while (re.lastIndex < path.length) {
    const start = re.lastIndex;
    const m = re.exec(path);
    if (!m) return { found: false, error: `cannot parse path at "${path.slice(start)}"` };
    const key = m[1] ?? m[3];
    if (m[2] !== undefined) {
      if (!Array.isArray(cur)) return { found: false, error: `${walked} is not an array` };
      const i = Number(m[2]);
      const idx = i < 0 ? cur.length + i : i;
      if (idx < 0 || idx >= cur.length) return { found: false, error: `${walked} has ${cur.length} elements, no [${i}]` };
      cur = cur[idx];
    } else if (key === 'length' && (Array.isArray(cur) || typeof cur === 'string')) {
      cur = cur.length;
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, key!))
        return { found: false, error: `${walked} has no "${key}"` };
      cur = (cur as Record<string, unknown>)[key!];
    }
    walked = path.slice(0, re.lastIndex);
  }
  return { found: true, value: cur };
}
