import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { parseDuration } from '../clock.ts';
import { kuzetSchema, probeFileSchema, type KuzetConfig } from './schema.ts';

// Loads config/kuzet.yaml and probes/*.yaml, resolves ${ENV} and *_file secrets, validates everything
// against one schema, and reports every problem as `file:line:col: path: what was expected, got what`.

export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export const formatProblem = (p: ConfigProblem) => `${p.file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`;

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export interface ProbeFile {
  file: string;
  probes: Array<Record<string, unknown>>;
  maintenance: Array<Record<string, unknown>>;
}

export interface LoadedConfig {
  /** The main file, as given. */
  file: string;
  dir: string;
  kuzet: KuzetConfig;
  probeFiles: ProbeFile[];
}

/** Schemas of the sections other stages own, and of one probe file; the composition root passes them. */
export interface SchemaPlugins {
  sections?: Partial<Record<'intake' | 'logs' | 'escalation' | 'backups' | 'requests' | 'probes' | 'reports', object>>;
  probeFile?: object;
  /** Checks the schema cannot express (cross-references); each problem's path starts at the top of kuzet.yaml. */
  checks?: Array<(kuzet: KuzetConfig, configDir: string) => Array<{ path: Array<string | number>; message: string }>>;
  /** Checks across all probe files (names unique everywhere, …); each problem names its file and a path in it. */
  probeChecks?: Array<(files: Array<{ file: string; data: ProbeFile }>, kuzet: KuzetConfig) => Array<{ file: string; path: Array<string | number>; message: string }>>;
}

const SECRET_KEY = /(^|_)(password|secret|token|api_key|apikey|private_key)$/i;
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, verbose: true });
  ajv.addFormat('duration', { type: 'string', validate: (s: string) => parseDuration(s) !== undefined });
  return ajv;
}

function withSections(plugins: SchemaPlugins): object {
  const props: Record<string, unknown> = { ...kuzetSchema.properties };
  for (const [k, v] of Object.entries(plugins.sections ?? {})) props[k] = { default: {}, ...v };
  return { ...kuzetSchema, properties: props };
}

/** Validate every file and return the config, or throw ConfigError listing every problem found. */
export function loadConfig(file: string, plugins: SchemaPlugins = {}, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const ajv = makeAjv();
  const main = readYaml(file, problems, env);
  const kuzet = main ? validate(ajv, withSections(plugins), main, file, problems) : undefined;
  if (kuzet) fillDerived(kuzet as unknown as KuzetConfig);
  const probeFiles: ProbeFile[] = [];
  if (kuzet && main) {
    for (const check of plugins.checks ?? []) {
      for (const p of check(kuzet as unknown as KuzetConfig, dirname(resolve(file)))) problems.push({ file, ...locate(main, p.path), path: showPath(p.path), message: p.message });
    }
  }
  if (kuzet) {
    const dir = resolve(dirname(file), (kuzet as unknown as KuzetConfig).probes_dir);
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort();
    } catch (err) {
      const at = main ? locate(main, ['probes_dir']) : { line: 1, col: 1 };
      problems.push({ file, ...at, path: 'probes_dir', message: `cannot read folder ${JSON.stringify(dir)}: ${(err as NodeJS.ErrnoException).code}` });
    }
    const shown = (p: string) => {
      const rel = relative(process.cwd(), p);
      return rel.startsWith('..') ? p : rel || basename(p);
    };
    const names_seen = new Map<string, string>();
    const docs = new Map<string, ParsedDoc>();
    for (const n of names) {
      const path = join(dir, n);
      const doc = readYaml(path, problems, env, shown(path));
      if (!doc) continue;
      const v = validate(ajv, plugins.probeFile ?? probeFileSchema, doc, shown(path), problems) as ProbeFile | undefined;
      if (!v) continue;
      docs.set(shown(path), doc);
      if (!plugins.probeChecks) {
        v.probes.forEach((p, i) => {
          const name = typeof p.name === 'string' ? p.name : undefined;
          if (!name) return;
          const before = names_seen.get(name);
          if (before) problems.push({ file: shown(path), ...locate(doc, ['probes', i, 'name']), path: `probes[${i}].name`, message: `duplicate probe name "${name}" (also in ${before})` });
          else names_seen.set(name, shown(path));
        });
      }
      probeFiles.push({ file: shown(path), probes: v.probes ?? [], maintenance: v.maintenance ?? [] });
    }
    for (const check of plugins.probeChecks ?? []) {
      for (const p of check(probeFiles.map((f) => ({ file: f.file, data: f })), kuzet as unknown as KuzetConfig)) {
        const doc = docs.get(p.file);
        problems.push({ file: p.file, ...(doc ? locate(doc, p.path) : { line: 1, col: 1 }), path: showPath(p.path), message: p.message });
      }
    }
  }
  if (problems.length || !kuzet) throw new ConfigError(problems);
  return deepFreeze({ file, dir: dirname(resolve(file)), kuzet: kuzet as unknown as KuzetConfig, probeFiles });
}

/**
 * Values that follow from others: the public URL from the listen address and port when it is not given (so links
 * and the CLI's default address follow KUZET_PORT), and escalation's public URL from the server's.
 */
export function fillDerived(k: KuzetConfig): void {
  const srv = k.server;
  if (!srv.public_url) {
    const host = srv.listen === '0.0.0.0' || srv.listen === '::' || srv.listen === '' ? '127.0.0.1' : srv.listen.includes(':') ? `[${srv.listen}]` : srv.listen;
    srv.public_url = `http://${host}:${srv.port}`;
  }
  srv.public_url = srv.public_url.replace(/\/+$/, '');
  const esc = k.escalation as { public_url?: string };
  if (esc && !esc.public_url) esc.public_url = srv.public_url;
}

interface ParsedDoc {
  file: string;
  doc: Document;
  lc: LineCounter;
  data: unknown;
}

function readYaml(path: string, problems: ConfigProblem[], env: NodeJS.ProcessEnv, shown = path): ParsedDoc | undefined {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    if (st.size > MAX_CONFIG_BYTES) {
      problems.push({ file: shown, line: 1, col: 1, path: '', message: `file is larger than ${MAX_CONFIG_BYTES} bytes` });
      return undefined;
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push({ file: shown, line: 1, col: 1, path: '', message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    return undefined;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) {
      const pos = lc.linePos(e.pos[0]);
      problems.push({ file: shown, line: pos.line, col: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` });
    }
    return undefined;
  }
  const parsed: ParsedDoc = { file: shown, doc, lc, data: doc.toJS({ maxAliasCount: 100 }) ?? {} };
  parsed.data = resolveRefs(parsed, parsed.data, [], problems, env, dirname(path));
  return parsed;
}

/** Replace ${ENV} references, read *_file secrets, and refuse literal secrets. */
function resolveRefs(d: ParsedDoc, v: unknown, path: Array<string | number>, problems: ConfigProblem[], env: NodeJS.ProcessEnv, base: string): unknown {
  if (typeof v === 'string') {
    // A value that is exactly one reference takes the type its text spells: port: "${PORT:-8080}" is a number.
    const whole = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/.test(v);
    const out = v.replace(ENV_REF, (_m, name: string, def: string | undefined) => {
      const val = env[name];
      if (val !== undefined && val !== '') return val;
      if (def !== undefined) return def;
      problems.push({ file: d.file, ...locate(d, path), path: showPath(path), message: `environment variable ${name} is not set` });
      return '';
    });
    if (whole && /^-?\d+(\.\d+)?$/.test(out)) return Number(out);
    if (whole && (out === 'true' || out === 'false')) return out === 'true';
    return out;
  }
  if (Array.isArray(v)) return v.map((x, i) => resolveRefs(d, x, [...path, i], problems, env, base));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    const raw = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(raw)) {
      const p = [...path, k];
      if (k.endsWith('_file') && SECRET_KEY.test(k.slice(0, -5))) {
        const target = k.slice(0, -5);
        if (typeof x !== 'string') {
          problems.push({ file: d.file, ...locate(d, p), path: showPath(p), message: `expected a file path, got ${describe(x)}` });
          continue;
        }
        try {
          out[target] = readFileSync(resolve(base, resolveRefs(d, x, p, problems, env, base) as string), 'utf8').trim();
        } catch (err) {
          problems.push({ file: d.file, ...locate(d, p), path: showPath(p), message: `cannot read secret file: ${(err as NodeJS.ErrnoException).code}` });
        }
        continue;
      }
      // A flow step's form field may name a value extracted at run time ({{password}}): not a literal secret.
      if (SECRET_KEY.test(k) && typeof x === 'string' && x !== '' && !/\$\{[^}]+\}/.test(x) && !/^\{\{\s*[A-Za-z_][\w.]*\s*\}\}$/.test(x)) {
        problems.push({ file: d.file, ...locate(d, p), path: showPath(p), message: `secrets are never written in YAML: use "\${ENV_NAME}" or ${k}_file` });
        continue;
      }
      if (!(k in out)) out[k] = resolveRefs(d, x, p, problems, env, base);
    }
    return out;
  }
  return v;
}

function validate(ajv: Ajv, schema: object, d: ParsedDoc, file: string, problems: ConfigProblem[]): unknown {
  if (d.data === null || typeof d.data !== 'object' || Array.isArray(d.data)) {
    problems.push({ file, line: 1, col: 1, path: '', message: `expected a mapping at the top level, got ${describe(d.data)}` });
    return undefined;
  }
  const check = ajv.compile(schema);
  if (check(d.data)) return d.data;
  for (const e of pickErrors(check.errors ?? [])) {
    const path = e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
    let at = path;
    let shownPath = path;
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      at = [...path, extra];
      shownPath = at;
      problems.push({ file, ...locate(d, at, true), path: showPath(shownPath), message: `unknown field (allowed: ${allowed(e)})` });
      continue;
    }
    problems.push({ file, ...locate(d, at), path: showPath(shownPath), message: describeError(e) });
  }
  return undefined;
}

function allowed(e: ErrorObject): string {
  const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props).join(', ') : 'none';
}

/** Drop the noise of oneOf/anyOf/if when a more precise error exists. */
function pickErrors(errors: ErrorObject[]): ErrorObject[] {
  const precise = errors.filter((e) => !['oneOf', 'anyOf', 'if', 'not'].includes(e.keyword));
  const seen = new Set<string>();
  return (precise.length ? precise : errors).filter((e) => {
    const k = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function describeError(e: ErrorObject): string {
  const got = describe(e.data);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'format':
      if (p.format === 'duration') return `expected a duration like "30s", got ${got}`;
      return `expected ${p.format}, got ${got}`;
    case 'type':
      return `expected ${article(String(p.type))}, got ${got}`;
    case 'enum':
      return `expected one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}, got ${got}`;
    case 'const':
      return `expected ${JSON.stringify(p.allowedValue)}, got ${got}`;
    case 'required':
      return `missing required field "${String(p.missingProperty)}"`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `expected a number ${String(p.comparison)} ${String(p.limit)}, got ${got}`;
    case 'pattern':
      return `expected a string matching /${String(p.pattern)}/, got ${got}`;
    case 'minLength':
      return `expected at least ${String(p.limit)} characters, got ${got}`;
    case 'maxLength':
      return `expected at most ${String(p.limit)} characters, got ${got}`;
    case 'minItems':
      return `expected at least ${String(p.limit)} items`;
    case 'maxItems':
      return `expected at most ${String(p.limit)} items`;
    default:
      return `${e.message ?? 'invalid'}, got ${got}`;
  }
}

const article = (t: string) => ({ integer: 'an integer', object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' })[t] ?? t;

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

function showPath(path: Array<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** Line and column of the node at `path` (or of its key); falls back to the nearest ancestor that exists. */
function locate(d: ParsedDoc, path: Array<string | number>, key = false): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    if (key && n === path.length && n > 0) {
      const parent = d.doc.getIn(sub.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === sub[sub.length - 1]);
        const r = pair && (pair.key as Node | null)?.range;
        if (r) return d.lc.linePos(r[0]);
      }
      continue;
    }
    const node = (n === 0 ? d.doc.contents : d.doc.getIn(sub, true)) as Node | null | undefined;
    if (node && node.range) return d.lc.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
