import { parseDuration, type Clock, type Timer } from '../../clock.ts';
import { maskPersonal } from '../../log.ts';
import { fingerprintOf, normalizeSeverity, type Severity, type Signal } from '../../signals/signal.ts';
import type { LogRuleConfig } from './config.ts';
import { LogMatcher } from './matcher.ts';
import { compilePattern, PatternError, type CompiledPattern } from './patterns.ts';

// Log rules turn matching lines into signals. A rule fires after `threshold.count` matches within
// `threshold.window` (one match by default) and resolves after `resolve_after` with no match (the quiet
// period). An absence rule fires when its pattern has not matched for `absent_for` and resolves on the
// next match. Signals go only at transitions, so a storm of matching lines is one firing signal.
// State is in memory: after a restart windows start empty and absence periods start again.

export interface CompiledRule {
  readonly index: number;
  readonly name: string;
  readonly pattern: CompiledPattern;
  readonly severity: Severity;
  readonly inputs: ReadonlySet<string> | null;
  readonly system: string | undefined;
  readonly summary: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly groupBy: readonly string[];
  readonly count: number;
  /** threshold.distinct: the named group whose different values are counted. */
  readonly distinct: string | null;
  readonly windowMs: number;
  readonly resolveAfterMs: number;
  readonly absentForMs: number | null;
}

export class RuleError extends Error {
  /** `field`: the rule's field at fault (a path inside the rule, for config error locations). */
  constructor(readonly rule: string, message: string, readonly field: Array<string | number> = []) {
    super(message);
    this.name = 'RuleError';
  }
}

const DEFAULT_RESOLVE_MS = 5 * 60_000;
/** Label sets tracked per rule; past it new ones are dropped (counted), so a bad group cannot exhaust memory. */
export const MAX_KEYS_PER_RULE = 10_000;
const SAMPLE_CHARS = 1024;
const LABEL_CHARS = 256;

function ms(rule: string, field: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = parseDuration(text);
  if (v === undefined || v <= 0) throw new RuleError(rule, `rule ${rule}: ${field} ${JSON.stringify(text)} is not a duration`, field.split('.'));
  return v;
}

/** Check and compile rules from config; throws RuleError naming the rule and the field. */
export function compileRules(configs: readonly LogRuleConfig[]): CompiledRule[] {
  const seen = new Set<string>();
  return configs.map((c, index) => {
    if (seen.has(c.name)) throw new RuleError(c.name, `rule ${c.name}: the name is used twice`, ['name']);
    seen.add(c.name);
    let pattern: CompiledPattern;
    try {
      pattern = compilePattern(c.pattern);
    } catch (err) {
      throw new RuleError(c.name, `rule ${c.name}: ${err instanceof PatternError ? err.message : String(err)}`, ['pattern']);
    }
    for (const [gi, g] of (c.group_by ?? []).entries()) {
      if (!pattern.groupNames.includes(g) && g !== 'input' && g !== 'host' && g !== 'app') {
        throw new RuleError(c.name, `rule ${c.name}: group_by names ${JSON.stringify(g)}, which is not a named group of the pattern`, ['group_by', gi]);
      }
    }
    if (c.threshold?.distinct !== undefined && !pattern.groupNames.includes(c.threshold.distinct)) {
      throw new RuleError(c.name, `rule ${c.name}: threshold.distinct names ${JSON.stringify(c.threshold.distinct)}, which is not a named group of the pattern`, ['threshold', 'distinct']);
    }
    if (c.absent_for !== undefined && c.threshold !== undefined) {
      throw new RuleError(c.name, `rule ${c.name}: absent_for and threshold cannot be combined`, ['absent_for']);
    }
    return {
      index,
      name: c.name,
      pattern,
      severity: normalizeSeverity(c.severity, 'warning'),
      inputs: c.inputs ? new Set(c.inputs) : null,
      system: c.system,
      summary: c.summary,
      labels: { ...(c.labels ?? {}) },
      groupBy: c.group_by ?? pattern.groupNames,
      count: c.threshold?.count ?? 1,
      distinct: c.threshold?.distinct ?? null,
      windowMs: ms(c.name, 'threshold.window', c.threshold?.window, 60_000),
      resolveAfterMs: ms(c.name, 'resolve_after', c.resolve_after, DEFAULT_RESOLVE_MS),
      absentForMs: c.absent_for === undefined ? null : ms(c.name, 'absent_for', c.absent_for, 0),
    };
  });
}

interface KeyState {
  rule: CompiledRule;
  fingerprint: string;
  labels: Record<string, string>;
  system: string;
  /** Times of the last `count` matches (oldest first). */
  times: number[];
  /** With threshold.distinct: each value of that group seen within the window, and when last. */
  values: Map<string, number>;
  lastMatch: number;
  firing: boolean;
  timer: Timer | null;
  sample: string;
}

interface AbsenceState {
  lastSeen: number;
  firing: boolean;
  timer: Timer | null;
  system: string;
}

export interface RuleMetrics {
  matched(rule: string): void;
  dropped(reason: 'rule_keys_full', n?: number): void;
}

export interface RuleEngineDeps {
  clock: Clock;
  /** System for rules and inputs that name none. */
  defaultSystem?: string;
  /** System of each input (from its config). */
  inputSystems?: ReadonlyMap<string, string>;
  metrics?: RuleMetrics;
}

/** Per-input view: the matcher over the rules that read this input, and their global indices. */
export interface InputRules {
  readonly input: string;
  readonly matcher: LogMatcher;
  readonly rules: readonly CompiledRule[];
}

export class RuleEngine {
  readonly #rules: readonly CompiledRule[];
  readonly #deps: RuleEngineDeps;
  readonly #keys = new Map<string, KeyState>();
  readonly #keysPerRule = new Map<string, number>();
  readonly #absence = new Map<string, AbsenceState>();
  readonly #inputs = new Map<string, InputRules>();
  #out: Signal[] = [];
  #onReady: (() => void) | null = null;
  #started = false;

  constructor(rules: readonly CompiledRule[], deps: RuleEngineDeps) {
    this.#rules = rules;
    this.#deps = deps;
  }

  get rules(): readonly CompiledRule[] {
    return this.#rules;
  }

  /** Called (synchronously) whenever signals become ready; the owner then calls takeSignals(). */
  onReady(fn: () => void): void {
    this.#onReady = fn;
  }

  /** The matcher for one input, built once. */
  forInput(input: string): InputRules {
    let r = this.#inputs.get(input);
    if (!r) {
      const rules = this.#rules.filter((x) => !x.inputs || x.inputs.has(input));
      r = { input, rules, matcher: new LogMatcher(rules.map((x) => x.pattern)) };
      this.#inputs.set(input, r);
    }
    return r;
  }

  /** Arm absence rules (their period starts now). Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const now = this.#deps.clock.now();
    for (const rule of this.#rules) {
      if (rule.absentForMs === null) continue;
      const st: AbsenceState = { lastSeen: now, firing: false, timer: null, system: this.#systemFor(rule, undefined) };
      this.#absence.set(rule.name, st);
      this.#armAbsence(rule, st);
    }
  }

  stop(): void {
    this.#started = false;
    for (const k of this.#keys.values()) k.timer?.cancel();
    for (const a of this.#absence.values()) a.timer?.cancel();
    this.#keys.clear();
    this.#keysPerRule.clear();
    this.#absence.clear();
  }

  /** Signals produced since the last call, in order. */
  takeSignals(): Signal[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  get pending(): number {
    return this.#out.length;
  }

  /** A block of single-line events from one input. */
  scanBlock(input: InputRules, text: string, eventLabels?: Record<string, string>): void {
    input.matcher.scanLines(text, (line, hits) => {
      for (const h of hits) this.#hit(input.rules[h]!, input.input, line, eventLabels);
    });
  }

  /** One event (possibly several lines) from one input. */
  scanEvent(input: InputRules, text: string, eventLabels?: Record<string, string>): void {
    for (const h of input.matcher.matchEvent(text)) this.#hit(input.rules[h]!, input.input, text, eventLabels);
  }

  #systemFor(rule: CompiledRule, input: string | undefined): string {
    return rule.system ?? (input !== undefined ? this.#deps.inputSystems?.get(input) : undefined) ?? this.#deps.defaultSystem ?? 'logs';
  }

  #emit(s: Signal): void {
    this.#out.push(s);
    this.#onReady?.();
  }

  #hit(rule: CompiledRule, input: string, line: string, eventLabels: Record<string, string> | undefined): void {
    const now = this.#deps.clock.now();
    this.#deps.metrics?.matched(rule.name);
    if (rule.absentForMs !== null) {
      const st = this.#absence.get(rule.name);
      if (!st) return;
      st.lastSeen = now;
      if (st.firing) {
        st.firing = false;
        this.#emit(this.#absenceSignal(rule, st, 'resolved', now, line));
      }
      return;
    }
    const groups = rule.pattern.groupNames.length > 0 ? (rule.pattern.groups(line) ?? {}) : {};
    const all: Record<string, string> = { input, ...(eventLabels ?? {}), ...groups };
    const ident: Record<string, string> = { rule: rule.name };
    for (const g of rule.groupBy) if (all[g] !== undefined) ident[g] = clip(all[g]!, LABEL_CHARS);
    const system = this.#systemFor(rule, input);
    const fingerprint = fingerprintOf({ source: 'log', system, ...ident });
    let st = this.#keys.get(fingerprint);
    if (!st) {
      const n = this.#keysPerRule.get(rule.name) ?? 0;
      if (n >= MAX_KEYS_PER_RULE) {
        this.#sweep(rule, now);
        if ((this.#keysPerRule.get(rule.name) ?? 0) >= MAX_KEYS_PER_RULE) {
          this.#deps.metrics?.dropped('rule_keys_full');
          return;
        }
      }
      const labels: Record<string, string> = { ...rule.labels, rule: rule.name, input };
      // Label values are shown and stored: personal data in them is masked (the fingerprint keeps them apart).
      for (const [k, v] of Object.entries({ ...(eventLabels ?? {}), ...groups })) labels[k] = clip(maskPersonal(v), LABEL_CHARS);
      st = { rule, fingerprint, labels, system, times: [], values: new Map(), lastMatch: now, firing: false, timer: null, sample: '' };
      this.#keys.set(fingerprint, st);
      this.#keysPerRule.set(rule.name, (this.#keysPerRule.get(rule.name) ?? 0) + 1);
    }
    st.lastMatch = now;
    st.sample = line;
    if (st.firing) return;
    if (rule.distinct !== null) {
      // One login from two addresses at once: count different values within the window, not matches.
      const v = groups[rule.distinct];
      if (v === undefined) return;
      st.values.set(v, now);
      for (const [k, at] of st.values) if (now - at > rule.windowMs) st.values.delete(k);
      if (st.values.size >= rule.count) {
        st.firing = true;
        st.labels[`${rule.distinct}_count`] = String(st.values.size);
        st.values.clear();
        this.#emit(this.#keySignal(st, 'firing', now));
        this.#armResolve(st, rule.resolveAfterMs);
      }
      return;
    }
    st.times.push(now);
    if (st.times.length > rule.count) st.times.shift();
    if (st.times.length >= rule.count && now - st.times[0]! <= rule.windowMs) {
      st.firing = true;
      st.times = [];
      this.#emit(this.#keySignal(st, 'firing', now));
      this.#armResolve(st, rule.resolveAfterMs);
    }
  }

  /** Forget idle, non-firing label sets of one rule (called when its table is full). */
  #sweep(rule: CompiledRule, now: number): void {
    for (const [fp, st] of this.#keys) {
      if (st.rule !== rule || st.firing) continue;
      if (now - st.lastMatch > rule.windowMs) {
        this.#keys.delete(fp);
        this.#keysPerRule.set(rule.name, (this.#keysPerRule.get(rule.name) ?? 1) - 1);
      }
    }
  }

  #armResolve(st: KeyState, delay: number): void {
    st.timer = this.#deps.clock.setTimeout(() => {
      st.timer = null;
      const now = this.#deps.clock.now();
      const quietFor = now - st.lastMatch;
      if (quietFor < st.rule.resolveAfterMs) {
        this.#armResolve(st, st.rule.resolveAfterMs - quietFor);
        return;
      }
      st.firing = false;
      this.#emit(this.#keySignal(st, 'resolved', now));
      this.#keys.delete(st.fingerprint);
      this.#keysPerRule.set(st.rule.name, (this.#keysPerRule.get(st.rule.name) ?? 1) - 1);
    }, delay);
  }

  #armAbsence(rule: CompiledRule, st: AbsenceState): void {
    const period = rule.absentForMs!;
    const due = st.lastSeen + period - this.#deps.clock.now();
    st.timer = this.#deps.clock.setTimeout(() => {
      st.timer = null;
      if (!this.#started) return;
      const now = this.#deps.clock.now();
      if (!st.firing && now - st.lastSeen >= period) {
        st.firing = true;
        this.#emit(this.#absenceSignal(rule, st, 'firing', now, ''));
      }
      // While firing, wait for the next match (handled in #hit); check again one period later.
      if (st.firing) st.timer = this.#deps.clock.setTimeout(() => this.#rearm(rule, st), period);
      else this.#armAbsence(rule, st);
    }, Math.max(0, due));
  }

  #rearm(rule: CompiledRule, st: AbsenceState): void {
    if (this.#started) this.#armAbsence(rule, st);
  }

  #keySignal(st: KeyState, status: 'firing' | 'resolved', now: number): Signal {
    const rule = st.rule;
    const sample = clip(maskPersonal(st.sample), SAMPLE_CHARS);
    const summary =
      status === 'resolved'
        ? `${render(rule, st.labels, sample)} (quiet for ${Math.round(rule.resolveAfterMs / 1000)}s)`
        : render(rule, st.labels, sample);
    return {
      source: 'log',
      system: st.system,
      check: rule.name,
      fingerprint: st.fingerprint,
      severity: rule.severity,
      status,
      summary: clip(summary, 4000),
      labels: st.labels,
      payload: status === 'firing' ? { sample, matches: rule.count, window_ms: rule.windowMs } : { quiet_ms: rule.resolveAfterMs },
      observedAt: now,
    };
  }

  #absenceSignal(rule: CompiledRule, st: AbsenceState, status: 'firing' | 'resolved', now: number, line: string): Signal {
    const labels = { ...rule.labels, rule: rule.name };
    const summary =
      rule.summary !== undefined
        ? render(rule, labels, '')
        : status === 'firing'
          ? `no log line matched ${rule.name} for ${Math.round(rule.absentForMs! / 1000)}s`
          : `${rule.name} matched again`;
    return {
      source: 'log',
      system: st.system,
      check: rule.name,
      fingerprint: fingerprintOf({ source: 'log', system: st.system, rule: rule.name, absence: '1' }),
      severity: rule.severity,
      status,
      summary: clip(summary, 4000),
      labels,
      payload: status === 'firing' ? { absent_ms: now - st.lastSeen } : { sample: clip(maskPersonal(line), SAMPLE_CHARS) },
      observedAt: now,
    };
  }
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

function render(rule: CompiledRule, labels: Record<string, string>, sample: string): string {
  if (rule.summary === undefined) return sample ? `${rule.name}: ${sample}` : rule.name;
  return rule.summary.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, k: string) =>
    k === 'line' ? sample : maskPersonal(labels[k] ?? ''),
  );
}
