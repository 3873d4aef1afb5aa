import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Registry } from 'prom-client';
import YAML from 'yaml';
import { parseDuration, type Clock } from '../../clock.ts';
import { nullLogger, type Logger } from '../../log.ts';
import { signalProblems, type Signal } from '../../signals/signal.ts';
import type { SignalSink } from '../../signals/sink.ts';
import type { Store } from '../../store/store.ts';
import type { LogRuleConfig, LogsConfig } from './config.ts';
import { globProblem } from './files.ts';
import { JournaldReader } from './journald.ts';
import { createLogMetrics, type LogMetrics } from './metrics.ts';
import { saveCheckpoint, type Checkpoint } from './offsets.ts';
import { compilePattern, PatternError } from './patterns.ts';
import { compileRules, RuleEngine, RuleError } from './rules.ts';
import { SyslogServer } from './syslog-server.ts';
import { FileTailer, type TailBatch } from './tailer.ts';

// The log intake: file tailers, journald readers and the syslog listener feed one rule engine; its signals
// go to the SignalSink. For files and journald the read position is committed after (or, with `commit`,
// together with) the signals derived from the lines before it.

export interface LogIntakeDeps {
  store: Store;
  clock: Clock;
  sink: SignalSink;
  logger?: Logger;
  registry?: Registry;
  /** Directory `rule_files` are relative to (the config file's). */
  configDir?: string;
  /**
   * Commit signals and a checkpoint. Default: `sink.submit(signals)`, then the checkpoint in its own
   * transaction (strictly after). Give one that does both in one transaction for exactly-once across a crash.
   */
  commit?: (signals: Signal[], checkpoint: Checkpoint | null) => Promise<void>;
}

export class LogConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogConfigError';
  }
}

/** Rules from the config and its rule files, in order. Throws LogConfigError naming the file. */
export function loadLogRules(cfg: LogsConfig, configDir = '.'): LogRuleConfig[] {
  const rules = [...(cfg.rules ?? [])];
  for (const f of cfg.rule_files ?? []) {
    const path = isAbsolute(f) ? f : resolve(configDir, f);
    let doc: unknown;
    try {
      doc = YAML.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new LogConfigError(`rule file ${f}: ${(err as Error).message}`);
    }
    const list = (doc as { rules?: unknown } | null)?.rules;
    if (!Array.isArray(list)) throw new LogConfigError(`rule file ${f}: expected a top-level "rules:" list`);
    for (const [i, r] of list.entries()) {
      if (!r || typeof r !== 'object' || typeof (r as LogRuleConfig).name !== 'string' || typeof (r as LogRuleConfig).pattern !== 'string') {
        throw new LogConfigError(`rule file ${f}: rules[${i}] needs a name and a pattern`);
      }
      rules.push(r as LogRuleConfig);
    }
  }
  return rules;
}

export interface LogConfigProblem {
  /** Where, from the top of kuzet.yaml (["logs", "rules", 2, "pattern"]); a rule from a rule file points at the file. */
  path: Array<string | number>;
  message: string;
}

/**
 * Every problem in the logs section that the schema cannot see (patterns, globs, durations, duplicate or
 * unknown names, rule files), each with its location, all of them rather than the first.
 */
export function logsConfigProblems(cfg: LogsConfig, configDir = '.'): LogConfigProblem[] {
  const problems: LogConfigProblem[] = [];
  const add = (path: Array<string | number>, message: string) => problems.push({ path: ['logs', ...path], message });
  const names = new Set<string>();
  const input = (n: string, path: Array<string | number>) => {
    if (names.has(n)) add(path, `input name ${JSON.stringify(n)} is used twice`);
    names.add(n);
  };
  for (const [i, f] of (cfg.files ?? []).entries()) {
    input(f.name, ['files', i, 'name']);
    for (const [j, p] of f.paths.entries()) {
      const bad = globProblem(p);
      if (bad) add(['files', i, 'paths', j], bad);
    }
    for (const k of ['rotate_wait', 'poll_interval'] as const) {
      if (f[k] !== undefined && !parseDuration(f[k])) add(['files', i, k], `${k} ${JSON.stringify(f[k])} is not a duration`);
    }
    if (f.multiline) {
      try {
        compilePattern(f.multiline.start);
      } catch (err) {
        add(['files', i, 'multiline', 'start'], err instanceof PatternError ? err.message : String(err));
      }
    }
  }
  for (const [i, j] of (cfg.journald ?? []).entries()) input(j.name, ['journald', i, 'name']);
  if (cfg.syslog) input(cfg.syslog.name ?? 'syslog', ['syslog', 'name']);
  // Rules one at a time (so every bad rule is reported), then names across all of them.
  const own = cfg.rules ?? [];
  const seen = new Set<string>();
  const checkRule = (r: LogRuleConfig, where: Array<string | number>, inFile: boolean) => {
    try {
      const [c] = compileRules([r]);
      for (const [k, i] of (c!.inputs ? [...c!.inputs] : []).entries()) {
        if (!names.has(i)) add(inFile ? where : [...where, 'inputs', k], `rule ${r.name}: input ${JSON.stringify(i)} is not defined`);
      }
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      add(inFile ? where : [...where, ...err.field], err.message);
    }
    if (seen.has(r.name)) add(inFile ? where : [...where, 'name'], `rule ${r.name}: the name is used twice`);
    seen.add(r.name);
  };
  for (const [i, r] of own.entries()) checkRule(r, ['rules', i], false);
  for (const [k, f] of (cfg.rule_files ?? []).entries()) {
    let rules: LogRuleConfig[];
    try {
      rules = loadLogRules({ rule_files: [f] }, configDir);
    } catch (err) {
      if (!(err instanceof LogConfigError)) throw err;
      add(['rule_files', k], err.message);
      continue;
    }
    for (const r of rules) checkRule(r, ['rule_files', k], true);
  }
  return problems;
}

/** The same problems as messages ("logs.files.0.paths.1: ..."). */
export function checkLogsConfig(cfg: LogsConfig, configDir = '.'): string[] {
  return logsConfigProblems(cfg, configDir).map((p) => `${p.path.join('.')}: ${p.message}`);
}

const ms = (text: string | undefined, fallback: number) => (text === undefined ? fallback : (parseDuration(text) ?? fallback));
const MAX_RETRY_SIGNALS = 10_000;

export class LogIntake {
  readonly #engine: RuleEngine;
  readonly #tailers: FileTailer[] = [];
  readonly #journals: JournaldReader[] = [];
  readonly #syslog: SyslogServer | null = null;
  readonly #d: LogIntakeDeps;
  readonly #log: Logger;
  readonly #metrics: LogMetrics | undefined;
  #retry: Signal[] = [];
  /** Per input: signals of a delivery that was not committed (its lines are not scanned again). */
  readonly #unsent = new Map<string, Signal[]>();
  readonly #scanned = new WeakSet<object>();
  #flushing: Promise<void> | null = null;
  #flushQueued = false;
  #started = false;

  /** Throws LogConfigError when checkLogsConfig finds problems. */
  constructor(cfg: LogsConfig, deps: LogIntakeDeps) {
    const problems = checkLogsConfig(cfg, deps.configDir);
    if (problems.length) throw new LogConfigError(problems.join('; '));
    this.#d = deps;
    this.#log = (deps.logger ?? nullLogger).child({ component: 'logs' });
    this.#metrics = createLogMetrics(deps.registry);
    const systems = new Map<string, string>();
    for (const f of cfg.files ?? []) if (f.system) systems.set(f.name, f.system);
    for (const j of cfg.journald ?? []) if (j.system) systems.set(j.name, j.system);
    const syslogName = cfg.syslog?.name ?? 'syslog';
    if (cfg.syslog?.system) systems.set(syslogName, cfg.syslog.system);
    this.#engine = new RuleEngine(compileRules(loadLogRules(cfg, deps.configDir)), { clock: deps.clock, inputSystems: systems, metrics: this.#metrics?.rules });
    this.#engine.onReady(() => this.#flushSoon());
    const deliver = (b: TailBatch) => this.#deliver(b);
    for (const f of cfg.files ?? []) {
      this.#tailers.push(
        new FileTailer(
          {
            name: f.name,
            paths: f.paths,
            startAt: f.start_at ?? 'end',
            multiline: f.multiline
              ? { start: compilePattern(f.multiline.start), maxLines: f.multiline.max_lines ?? 500, timeoutMs: ms(f.multiline.timeout, 2000) }
              : undefined,
            maxLineBytes: f.max_line_bytes ?? 65536,
            rotateWaitMs: ms(f.rotate_wait, 10_000),
            pollMs: ms(f.poll_interval, 250),
            watch: f.watch ?? true,
          },
          { store: deps.store, clock: deps.clock, deliver, logger: deps.logger, metrics: this.#metrics?.tail },
        ),
      );
    }
    for (const j of cfg.journald ?? []) {
      this.#journals.push(
        new JournaldReader({ name: j.name, units: j.units ?? [] }, { store: deps.store, clock: deps.clock, deliver, logger: deps.logger, metrics: this.#metrics?.tail }),
      );
    }
    const s = cfg.syslog;
    if (s && (s.udp || s.tcp)) {
      const rules = this.#engine.forInput(syslogName);
      this.#syslog = new SyslogServer(
        {
          udp: s.udp ? { host: s.udp.host ?? '127.0.0.1', port: s.udp.port } : undefined,
          tcp: s.tcp ? { host: s.tcp.host ?? '127.0.0.1', port: s.tcp.port, maxConnections: s.tcp.max_connections ?? 256 } : undefined,
          maxMessageBytes: s.max_message_bytes ?? 65536,
          queue: s.queue ?? 100_000,
        },
        {
          clock: deps.clock,
          logger: deps.logger,
          metrics: this.#metrics?.syslog(syslogName),
          onMessages: (batch) => {
            for (const { msg, labels } of batch) this.#engine.scanEvent(rules, msg.msg, labels);
          },
        },
      );
    }
  }

  get engine(): RuleEngine {
    return this.#engine;
  }

  /** Bound syslog ports (null when not listening). */
  syslogAddress(): { udp: number | null; tcp: number | null } {
    return this.#syslog?.address() ?? { udp: null, tcp: null };
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#engine.start();
    await this.#syslog?.start();
    for (const t of this.#tailers) await t.start();
    for (const j of this.#journals) await j.start();
  }

  /** Stop reading, then commit what was read (syslog messages already queued included). */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#syslog?.stop();
    for (const t of this.#tailers) await t.stop();
    for (const j of this.#journals) await j.stop();
    await this.#flush();
    this.#engine.stop();
  }

  /**
   * A tailer's batch: scan, then commit signals and checkpoint. When the commit fails the tailer hands the
   * same items again (with more); those already scanned are skipped and their signals are kept here, so a
   * retry neither loses a signal nor counts a line twice toward a threshold.
   */
  async #deliver(batch: TailBatch): Promise<void> {
    const rules = this.#engine.forInput(batch.input);
    for (const item of batch.items) {
      if (this.#scanned.has(item)) continue;
      this.#scanned.add(item);
      if (item.kind === 'lines') this.#engine.scanBlock(rules, item.text);
      else this.#engine.scanEvent(rules, item.text, item.labels);
    }
    const signals = (this.#unsent.get(batch.input) ?? []).concat(this.#engine.takeSignals());
    this.#unsent.delete(batch.input);
    try {
      await this.#commit(signals, batch.checkpoint);
    } catch (err) {
      if (signals.length) this.#unsent.set(batch.input, signals.slice(-MAX_RETRY_SIGNALS));
      throw err;
    }
  }

  async #commit(signals: Signal[], cp: Checkpoint | null): Promise<void> {
    const ok = signals.filter((s) => {
      const p = signalProblems(s);
      if (p.length) {
        this.#log.error('log rule built an invalid signal; dropped', { check: s.check, problems: p });
        this.#metrics?.dropped('rules', 'invalid_signal', 1);
      }
      return p.length === 0;
    });
    if (this.#d.commit) return this.#d.commit(ok, cp);
    if (ok.length) await this.#d.sink.submit(ok);
    if (cp && (cp.upserts.length || cp.deletes.length)) await this.#d.store.tx((q) => saveCheckpoint(q, cp, this.#d.clock.now()));
  }

  #flushSoon(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      void this.#flush();
    });
  }

  /** Signals from syslog and timers (no checkpoint); kept for a retry when the sink refuses them. */
  async #flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    const signals = this.#retry.concat(this.#engine.takeSignals());
    this.#retry = [];
    if (!signals.length) return;
    this.#flushing = this.#commit(signals, null)
      .catch((err: unknown) => {
        this.#log.warn('log signals not accepted; will retry', { err, count: signals.length });
        const keep = signals.slice(-MAX_RETRY_SIGNALS);
        if (keep.length < signals.length) this.#metrics?.dropped('rules', 'queue_full', signals.length - keep.length);
        this.#retry = keep.concat(this.#retry);
        this.#d.clock.setTimeout(() => this.#flushSoon(), 1000);
      })
      .finally(() => {
        this.#flushing = null;
      });
    await this.#flushing;
  }
}
