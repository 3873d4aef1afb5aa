// The `logs:` section of config/kuzet.yaml: files (and globs), journald, a syslog listener, and the rules
// every log line from any of them goes through. Durations are strings ("30s", "5m").

export interface MultilineConfig {
  /** A line matching this starts a new event; other lines continue the current one (a stack trace). */
  start: string;
  /** An event is cut after this many lines (the rest are dropped and counted). Default 500. */
  max_lines?: number;
  /** An unfinished event is handed on after this long without a new line. Default "2s". */
  timeout?: string;
}

export interface FileInputConfig {
  name: string;
  /** Paths or globs (`*`, `?`, `[...]` in the last path segment); new files matching a glob are picked up. */
  paths: string[];
  /** System the signals are about, unless a rule says otherwise. */
  system?: string;
  /** Where to begin in files that exist at the very first start (afterwards offsets are stored). Default end. */
  start_at?: 'beginning' | 'end';
  multiline?: MultilineConfig;
  /** Longer lines are cut to this and counted. Default 65536. */
  max_line_bytes?: number;
  /** How long a rotated-away file is still read for late writes. Default "10s". */
  rotate_wait?: string;
  /** How often files are checked for growth, rotation and new matches. Default "250ms". */
  poll_interval?: string;
  /** Read a file as soon as it changes (inotify), as well as every poll_interval. Default true. */
  watch?: boolean;
}

export interface JournaldInputConfig {
  name: string;
  /** Only these systemd units (journalctl -u); all when absent. */
  units?: string[];
  system?: string;
}

export interface SyslogListenerConfig {
  /** Input name rules may refer to. Default "syslog". */
  name?: string;
  udp?: { host?: string; port: number };
  tcp?: { host?: string; port: number; max_connections?: number };
  system?: string;
  /** Longer messages are dropped (UDP) or cut (TCP) and counted. Default 65536. */
  max_message_bytes?: number;
  /** Messages held in memory between the socket and the rules; past it UDP messages are dropped and counted. */
  queue?: number;
}

export interface LogRuleConfig {
  name: string;
  /** RE2 syntax; named groups `(?P<name>...)` or `(?<name>...)` become labels. */
  pattern: string;
  severity?: string;
  /** Input names this rule reads; all inputs when absent. */
  inputs?: string[];
  system?: string;
  /** Summary template; {{group}} and {{line}} are replaced. */
  summary?: string;
  labels?: Record<string, string>;
  /** Labels that tell incidents apart; default: every named group. */
  group_by?: string[];
  /** Fire only after `count` matches within `window`. Default one match. */
  /** `distinct`: count different values of this named group (one login from two addresses), not matches. */
  threshold?: { count: number; window: string; distinct?: string };
  /** Resolve after this long with no match (the quiet period). Default "5m". */
  resolve_after?: string;
  /** Absence rule: fire when no line matched for this long; resolve on the next match. */
  absent_for?: string;
}

export interface LogsConfig {
  files?: FileInputConfig[];
  journald?: JournaldInputConfig[];
  syslog?: SyslogListenerConfig;
  rules?: LogRuleConfig[];
  /** Files with more rules, merged after `rules` (YAML with a top-level `rules:` list). */
  rule_files?: string[];
}

const duration = { type: 'string', format: 'duration' } as const;
const name = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' } as const;
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const multiline = {
  type: 'object',
  additionalProperties: false,
  required: ['start'],
  properties: {
    start: { type: 'string', minLength: 1 },
    max_lines: { type: 'integer', minimum: 1, maximum: 100000 },
    timeout: duration,
  },
} as const;

export const logRuleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'pattern'],
  properties: {
    name,
    pattern: { type: 'string', minLength: 1, maxLength: 4096 },
    severity: { type: 'string', enum: ['info', 'warning', 'minor', 'major', 'critical'] },
    inputs: { type: 'array', items: name, uniqueItems: true },
    system: { type: 'string', minLength: 1, maxLength: 128 },
    summary: { type: 'string', maxLength: 1024 },
    labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 1024 }, maxProperties: 32 },
    group_by: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
    threshold: {
      type: 'object',
      additionalProperties: false,
      required: ['count', 'window'],
      properties: { count: { type: 'integer', minimum: 1, maximum: 1000000 }, window: duration, distinct: { type: 'string', minLength: 1, maxLength: 64 } },
    },
    resolve_after: duration,
    absent_for: duration,
  },
} as const;

/** JSON Schema (draft-07) of the `logs:` section. */
export const logsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    files: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'paths'],
        properties: {
          name,
          paths: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          system: { type: 'string', minLength: 1, maxLength: 128 },
          start_at: { type: 'string', enum: ['beginning', 'end'] },
          multiline,
          max_line_bytes: { type: 'integer', minimum: 256, maximum: 16777216 },
          rotate_wait: duration,
          poll_interval: duration,
          watch: { type: 'boolean' },
        },
      },
    },
    journald: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name,
          units: { type: 'array', items: { type: 'string', minLength: 1, pattern: '^[^-]' } },
          system: { type: 'string', minLength: 1, maxLength: 128 },
        },
      },
    },
    syslog: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name,
        udp: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          properties: { host: { type: 'string', minLength: 1 }, port },
        },
        tcp: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          properties: { host: { type: 'string', minLength: 1 }, port, max_connections: { type: 'integer', minimum: 1, maximum: 100000 } },
        },
        system: { type: 'string', minLength: 1, maxLength: 128 },
        max_message_bytes: { type: 'integer', minimum: 480, maximum: 16777216 },
        queue: { type: 'integer', minimum: 100, maximum: 10000000 },
      },
    },
    rules: { type: 'array', items: logRuleSchema },
    rule_files: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
} as const;

/** Schema of a shipped rule file (config/rules/*.yaml). */
export const logRuleFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: { rules: { type: 'array', items: logRuleSchema } },
} as const;
