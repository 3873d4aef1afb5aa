import { Ajv, type ErrorObject } from 'ajv';
import { CronExpressionParser } from 'cron-parser';
import { RE2JS } from 're2js';
import { DURATION_RE, parseDuration } from '../../clock.ts';
import { PROBE_DEFAULTS, probeFileSchema } from './schema.ts';
import type { BodyAssertion, ConfirmPolicy, MaintenanceWindow, ProbeDefinition, ProbeFile, ProbeKind, ProbeSeverity } from './types.ts';

// Validation past the schema, and the one step that turns a declared probe into its resolved form.

export interface ProbeProblem {
  file: string;
  /** JSON pointer of the field at fault ("/probes/2/interval"). */
  path: string;
  /** The same path as segments (["probes", 2, "interval"]), for the config loader's line:column lookup. */
  segments: (string | number)[];
  message: string;
}

export interface ResolvedProbe {
  readonly def: ProbeDefinition;
  readonly name: string;
  readonly kind: ProbeKind;
  readonly system: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly confirm: Required<ConfirmPolicy>;
  readonly recoverSuccesses: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly severity: ProbeSeverity;
}

let compiled: ReturnType<Ajv['compile']> | undefined;

/** Schema check of one parsed file (for callers without the config loader: tests, `kuzet probe`). */
export function schemaProblems(file: string, data: unknown): ProbeProblem[] {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addFormat('duration', DURATION_RE);
    compiled = ajv.compile(probeFileSchema);
  }
  if (compiled(data)) return [];
  return (compiled.errors ?? []).filter(usefulError).map((e) => ({ file, path: e.instancePath || '/', segments: segmentsOf(e.instancePath), message: describe(e) }));
}

const segmentsOf = (pointer: string): (string | number)[] =>
  pointer
    .split('/')
    .slice(1)
    .filter((x) => x !== '')
    .map((x) => (/^\d+$/.test(x) ? Number(x) : x.replace(/~1/g, '/').replace(/~0/g, '~')));

// oneOf / if-then produce an echo error on top of the real one; keep the ones that name a field.
const usefulError = (e: ErrorObject) => !['if', 'oneOf', 'anyOf'].includes(e.keyword);

function describe(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return `unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'enum') return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  if (e.keyword === 'not') return 'has a block for another kind, or fields that exclude each other';
  return e.message ?? e.keyword;
}

const ms = (text: string | undefined, fallback: string) => parseDuration(text ?? fallback) ?? parseDuration(fallback)!;

/** Checks a schema cannot express, across all files (probe names are unique across files). */
export function probeSetProblems(files: { file: string; data: ProbeFile }[]): ProbeProblem[] {
  const out: ProbeProblem[] = [];
  const seen = new Map<string, string>();
  for (const { file, data } of files) {
    const at = (path: string, message: string) => out.push({ file, path, segments: segmentsOf(path), message });
    (data.probes ?? []).forEach((p, i) => {
      const base = `/probes/${i}`;
      const prev = seen.get(p.name);
      if (prev) at(`${base}/name`, `probe "${p.name}" is already defined in ${prev}`);
      else seen.set(p.name, file);
      const interval = ms(p.interval, PROBE_DEFAULTS.interval);
      const timeout = ms(p.timeout, PROBE_DEFAULTS.timeout);
      if (interval < 1000) at(`${base}/interval`, 'must be at least 1s');
      const attempts = 1 + (p.retries ?? PROBE_DEFAULTS.retries);
      if (timeout > interval) at(`${base}/timeout`, `timeout ${p.timeout ?? PROBE_DEFAULTS.timeout} is longer than the interval ${p.interval ?? PROBE_DEFAULTS.interval}`);
      else if (timeout * attempts > interval)
        at(`${base}/retries`, `${attempts} attempts of up to ${p.timeout ?? PROBE_DEFAULTS.timeout} do not fit in the interval ${p.interval ?? PROBE_DEFAULTS.interval}`);
      if (p.confirm?.of !== undefined && p.confirm.of < p.confirm.failures) at(`${base}/confirm/of`, `must be at least failures (${p.confirm.failures})`);
      const regexes = (list: BodyAssertion[] | undefined, path: string) =>
        list?.forEach((a, j) => {
          if ('regex' in a) checkRegex(a.regex, `${path}/${j}/regex`, at);
        });
      if (p.kind === 'http') regexes(p.http.assertions, `${base}/http/assertions`);
      if (p.kind === 'flow') {
        p.flow.steps.forEach((s, j) => {
          regexes(s.assertions, `${base}/flow/steps/${j}/assertions`);
          for (const [k, x] of Object.entries(s.extract ?? {})) if ('regex' in x) checkRegex(x.regex, `${base}/flow/steps/${j}/extract/${k}/regex`, at);
        });
      }
      if (p.kind === 'tls' && p.tls.warn_days !== undefined && p.tls.critical_days !== undefined && p.tls.critical_days > p.tls.warn_days)
        at(`${base}/tls/critical_days`, 'must not exceed warn_days');
      // A disabled heartbeat may wait for its token; an enabled one needs a real secret.
      if (p.kind === 'heartbeat' && p.enabled !== false && p.heartbeat.token.length < 16) at(`${base}/heartbeat/token`, 'must be at least 16 characters (set it from the environment)');
      if (p.kind === 'sql' && p.sql.params?.some((x) => x !== 'now') && !p.sql.period) at(`${base}/sql/params`, 'period_start and period_end need sql.period (monthly, quarterly, half-yearly, yearly)');
      if (p.kind === 'sql' && p.sql.zone && !isKnownZone(p.sql.zone)) at(`${base}/sql/zone`, `unknown time zone "${p.sql.zone}"`);
      if (p.kind === 'postgres' || p.kind === 'sql') {
        const url = p.kind === 'sql' ? p.sql.url : p.postgres.url;
        if (/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/.test(url)) at(`${base}/${p.kind}/url`, 'put the password in the `password` field (from the environment), not in the URL');
      }
    });
    (data.maintenance ?? []).forEach((w, i) => maintenanceProblems(w, `/maintenance/${i}`, at));
  }
  return out;
}

function checkRegex(pattern: string, path: string, at: (path: string, message: string) => void): void {
  try {
    RE2JS.compile(pattern);
  } catch (err) {
    at(path, `invalid regular expression: ${(err as Error).message}`);
  }
}

export function maintenanceProblems(w: MaintenanceWindow, base: string, at: (path: string, message: string) => void): void {
  if (w.start && Number.isNaN(Date.parse(w.start))) at(`${base}/start`, 'not a valid date and time');
  else if (w.end && Number.isNaN(Date.parse(w.end))) at(`${base}/end`, 'not a valid date and time');
  else if (w.start && w.end && !(Date.parse(w.start) < Date.parse(w.end))) at(`${base}/end`, 'must be after start');
  if (w.timezone && !validZone(w.timezone)) at(`${base}/timezone`, `unknown time zone "${w.timezone}"`);
  if (w.cron) {
    try {
      CronExpressionParser.parse(w.cron, { tz: w.timezone ?? 'UTC' });
    } catch (err) {
      at(`${base}/cron`, `invalid cron expression: ${(err as Error).message}`);
    }
  }
}

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Defaults applied, durations in ms, frozen. Call on a definition that passed validation. */
export function resolveProbe(def: ProbeDefinition): ResolvedProbe {
  const confirm = def.confirm ?? PROBE_DEFAULTS.confirm;
  return Object.freeze({
    def: Object.freeze(structuredClone(def)),
    name: def.name,
    kind: def.kind,
    system: def.system,
    intervalMs: ms(def.interval, PROBE_DEFAULTS.interval),
    timeoutMs: ms(def.timeout, PROBE_DEFAULTS.timeout),
    retries: def.retries ?? PROBE_DEFAULTS.retries,
    confirm: { failures: confirm.failures, of: 'of' in confirm && confirm.of !== undefined ? confirm.of : confirm.failures, locations: ('locations' in confirm ? confirm.locations : undefined) ?? 1 },
    recoverSuccesses: def.recover?.successes ?? PROBE_DEFAULTS.recover.successes,
    labels: Object.freeze({ ...(def.labels ?? {}) }),
    severity: def.severity ?? PROBE_DEFAULTS.severity,
  });
}

function isKnownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
