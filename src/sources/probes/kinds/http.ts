import type { Clock } from '../../../clock.ts';
import { checkResponse, compileRegex, jsonPath } from '../assertions.ts';
import { CookieJar } from '../cookies.ts';
import { exchange, type HttpAgents } from '../http-client.ts';
import type { AssertionOutcome, FlowSpec, FlowStep, HttpRequestSpec, Probe, ProbeResult, ProbeRunContext, StepOutcome } from '../types.ts';

// The http probe (one request, its assertions) and the flow probe (several requests as one user:
// cookies carried along, values extracted from one step into the next, each step timed).

export interface HttpDeps {
  clock: Clock;
  agents: HttpAgents;
}

const firstFailure = (list: AssertionOutcome[]) => {
  const bad = list.find((a) => !a.ok);
  return bad ? `${bad.name} failed${bad.actual ? `: ${bad.actual}` : ''}` : undefined;
};

export function httpProbe(name: string, spec: HttpRequestSpec, deps: HttpDeps): Probe {
  return {
    name,
    kind: 'http',
    async run(ctx: ProbeRunContext): Promise<ProbeResult> {
      const startedAt = deps.clock.now();
      const got = await exchange(spec, { agents: deps.agents, signal: ctx.signal, timeoutMs: ctx.timeoutMs, jar: new CookieJar(() => deps.clock.now()) });
      if (!got.ok) return { ok: false, reason: got.reason, startedAt, durationMs: got.durationMs, assertions: [] };
      const assertions = checkResponse(spec, got.exchange);
      const reason = firstFailure(assertions);
      return { ok: !reason, reason, startedAt, durationMs: got.exchange.durationMs, assertions };
    },
  };
}

export function flowProbe(name: string, flow: FlowSpec, deps: HttpDeps): Probe {
  return {
    name,
    kind: 'flow',
    async run(ctx: ProbeRunContext): Promise<ProbeResult> {
      const startedAt = deps.clock.now();
      const jar = new CookieJar(() => deps.clock.now());
      const vars = new Map<string, string>(Object.entries({ ...(flow.variables ?? {}) }));
      for (const [k, v] of Object.entries(flow.credentials ?? {})) if (typeof v === 'string') vars.set(k, v);
      const steps: StepOutcome[] = [];
      let total = 0;
      for (const step of flow.steps) {
        const spec = substituteStep(step, vars);
        if ('missing' in spec) {
          steps.push({ name: step.name, ok: false, durationMs: 0, reason: `unknown variable {{${spec.missing}}}`, assertions: [] });
          break;
        }
        const got = await exchange(spec, { agents: deps.agents, signal: ctx.signal, timeoutMs: ctx.timeoutMs, jar });
        if (!got.ok) {
          total += got.durationMs;
          steps.push({ name: step.name, ok: false, durationMs: got.durationMs, reason: got.reason, assertions: [] });
          break;
        }
        total += got.exchange.durationMs;
        const assertions = checkResponse(spec, got.exchange);
        for (const [v, how] of Object.entries(step.extract ?? {})) {
          const value = extract(how, got.exchange.text ?? '', got.exchange.headers);
          assertions.push({ name: `extract ${v}`, ok: value !== undefined, actual: value === undefined ? 'not found' : `${value.length} characters` });
          if (value !== undefined) vars.set(v, value);
        }
        const reason = firstFailure(assertions);
        steps.push({ name: step.name, ok: !reason, durationMs: got.exchange.durationMs, reason, assertions });
        if (reason) break;
      }
      const failed = steps.find((s) => !s.ok);
      const ok = !failed && steps.length === flow.steps.length;
      return {
        ok,
        reason: failed ? `step "${failed.name}" (${steps.length} of ${flow.steps.length}): ${failed.reason}` : undefined,
        startedAt,
        durationMs: Math.round(total * 100) / 100,
        assertions: steps.flatMap((s) => s.assertions.map((a) => ({ ...a, name: `${s.name}: ${a.name}` }))),
        steps,
      };
    },
  };
}

function extract(how: NonNullable<FlowStep['extract']>[string], text: string, headers: Record<string, string | string[] | undefined>): string | undefined {
  if ('header' in how) {
    const h = headers[how.header.toLowerCase()];
    return Array.isArray(h) ? h[0] : h;
  }
  if ('regex' in how) {
    const m = compileRegex(how.regex).matcher(text);
    if (!m.find()) return undefined;
    return (m.groupCount() > 0 ? m.group(1) : m.group()) ?? undefined;
  }
  try {
    const r = jsonPath(JSON.parse(text), how.json_path);
    if (!r.found || r.value === null || r.value === undefined) return undefined;
    return typeof r.value === 'string' ? r.value : JSON.stringify(r.value);
  } catch {
    return undefined;
  }
}

const VAR = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Replace {{name}} in a step. In the URL a value is percent-encoded (it may hold any text);
 * in headers and bodies it goes in as is.
 */
export function substituteStep(step: FlowStep, vars: Map<string, string>): HttpRequestSpec | { missing: string } {
  let missing: string | undefined;
  const sub = (s: string, encode: boolean) =>
    s.replace(VAR, (_m, k: string) => {
      const v = vars.get(k);
      if (v === undefined) {
        missing ??= k;
        return '';
      }
      return encode ? encodeURIComponent(v) : v;
    });
  const deep = (v: unknown, depth = 0): unknown => {
    if (typeof v === 'string') return sub(v, false);
    if (depth > 20 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => deep(x, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x, depth + 1)]));
  };
  const spec: HttpRequestSpec = {
    ...step,
    url: sub(step.url, true),
    headers: step.headers && (deep(step.headers) as Record<string, string>),
    body: step.body === undefined ? undefined : sub(step.body, false),
    form: step.form && (deep(step.form) as Record<string, string>),
    json: step.json === undefined ? undefined : deep(step.json),
  };
  // A whole-URL variable ("{{next_url}}") must not be percent-encoded.
  const whole = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}(.*)$/.exec(step.url);
  if (whole) {
    const v = vars.get(whole[1]!);
    if (v === undefined) missing ??= whole[1];
    else spec.url = v + sub(whole[2]!, true);
  }
  return missing ? { missing } : spec;
}
