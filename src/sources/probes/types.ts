// Declared probe configuration (as read from probes/*.yaml, after defaults) and the result every
// probe returns. Declared config is frozen; runtime state (failure counts) lives in the state machine.

export const PROBE_KINDS = ['http', 'flow', 'tcp', 'dns', 'tls', 'postgres', 'sql', 'host', 'heartbeat'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];
export type ProbeSeverity = 'info' | 'warning' | 'minor' | 'major' | 'critical';

/** Body / header / JSON assertions on an HTTP response, read like the operator thinks. */
export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type BodyAssertion =
  | { contains: string }
  | { not_contains: string }
  | { regex: string }
  | { json_path: string; op?: CompareOp | 'exists'; value?: string | number | boolean | null }
  | { header: string; contains?: string; equals?: string };

export interface TlsClientOptions {
  /** Verify the server certificate (default true). */
  verify?: boolean;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  /** SNI / certificate name to expect, when it differs from the URL host. */
  servername?: string;
}

export interface HttpRequestSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** Raw request body. */
  body?: string;
  /** Form fields, sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** JSON body. */
  json?: unknown;
  /** Status codes that count as success (default 200–399 after redirects). */
  expect_status?: number[];
  /** Response time above this fails the probe ("2s"). */
  latency_budget?: string;
  assertions?: BodyAssertion[];
  /** false: do not follow; a number: follow at most that many (default 5). */
  follow_redirects?: boolean | number;
  /** Largest body read, in bytes (default 1 MiB); a larger body fails the probe. */
  max_body_bytes?: number;
  tls?: TlsClientOptions;
}

export interface FlowStep extends HttpRequestSpec {
  name: string;
  /** Values taken from this step's response into variables usable as {{name}} in later steps. */
  extract?: Record<string, { json_path: string } | { regex: string } | { header: string }>;
}

export interface FlowSpec {
  steps: FlowStep[];
  variables?: Record<string, string>;
  /** Secrets usable as {{login}}, {{password}}, {{token}}; resolved from the environment by the loader. */
  credentials?: { login?: string; password?: string; token?: string };
}

export interface TcpSpec {
  host: string;
  port: number;
  /** Send this after connecting and expect `expect` in the answer (optional). */
  send?: string;
  expect?: string;
  tls?: boolean;
}

export type DnsRecordType = 'A' | 'AAAA' | 'CNAME' | 'MX' | 'TXT' | 'NS';
export interface DnsSpec {
  name: string;
  type?: DnsRecordType;
  /** Resolver address "host" or "host:port" (default: the system resolvers). */
  server?: string;
  /** Every listed value must be among the answers. */
  expect?: string[];
}

export interface TlsSpec {
  host: string;
  port?: number;
  servername?: string;
  /** Days before expiry that make the probe fail with severity warning / critical. */
  warn_days?: number;
  critical_days?: number;
  ca_file?: string;
}

export interface PostgresSpec {
  /** postgres://user@host:port/db (no password in the URL; use `password`). */
  url: string;
  password?: string;
  query?: string;
  /** A query slower than this fails ("500ms"). */
  latency_budget?: string;
}

export interface SqlCondition {
  column: string;
  op: CompareOp;
  value: number | string | boolean | null;
}
/** Values kuzet binds to the query's $1, $2, … in order: its own clock, and a cadence's last finished period. */
export type SqlParam = 'now' | 'period_start' | 'period_end';
export type Cadence = 'monthly' | 'quarterly' | 'half-yearly' | 'yearly';

export interface SqlSpec extends PostgresSpec {
  query: string;
  /** Conditions on the first row. */
  expect?: SqlCondition[];
  /** Condition on the number of rows returned. */
  rows?: { op: CompareOp; value: number };
  /** Bound as $1, $2, … (never spliced into the text). */
  params?: SqlParam[];
  /** The cadence whose last finished period `period_start` / `period_end` name (calendar periods in `zone`). */
  period?: Cadence;
  /** Time zone of periods and of `now`'s local date (default Asia/Almaty). */
  zone?: string;
  /** On failure, name the rows by this column (masked: first and last character), up to 20 of them. */
  report_column?: string;
}

export interface HostSpec {
  cpu_percent?: number;
  memory_percent?: number;
  load1?: number;
  disks?: { mount: string; max_percent: number }[];
  /** A threshold must be exceeded this long before the probe fails (default 0: at once). */
  for?: string;
}

export interface HeartbeatSpec {
  /** Expected time between pings. */
  period: string;
  /** Extra time allowed before a missing ping fails. */
  grace?: string;
  /** Per-heartbeat secret the pinging job presents. */
  token: string;
}

export interface ConfirmPolicy {
  /** Failures needed: consecutive, or among the last `of` results when `of` is set. */
  failures: number;
  of?: number;
  /** Live locations that must see it failing (each by the rule above) before the signal fires; default 1. */
  locations?: number;
}

interface ProbeBase {
  name: string;
  system: string;
  description?: string;
  interval?: string;
  timeout?: string;
  retries?: number;
  confirm?: ConfirmPolicy;
  recover?: { successes: number };
  labels?: Record<string, string>;
  severity?: ProbeSeverity;
  enabled?: boolean;
}

export type ProbeDefinition =
  | (ProbeBase & { kind: 'http'; http: HttpRequestSpec })
  | (ProbeBase & { kind: 'flow'; flow: FlowSpec })
  | (ProbeBase & { kind: 'tcp'; tcp: TcpSpec })
  | (ProbeBase & { kind: 'dns'; dns: DnsSpec })
  | (ProbeBase & { kind: 'tls'; tls: TlsSpec })
  | (ProbeBase & { kind: 'postgres'; postgres: PostgresSpec })
  | (ProbeBase & { kind: 'sql'; sql: SqlSpec })
  | (ProbeBase & { kind: 'host'; host: HostSpec })
  | (ProbeBase & { kind: 'heartbeat'; heartbeat: HeartbeatSpec });

export interface MaintenanceWindow {
  name: string;
  /** One-off window: ISO 8601 start and end. */
  start?: string;
  end?: string;
  /** Recurring window: a cron expression for its start, a zone, and a length. */
  cron?: string;
  timezone?: string;
  duration?: string;
  /** Limit to these systems / probes (default: all). */
  systems?: string[];
  probes?: string[];
}

/** One probes/*.yaml file. */
export interface ProbeFile {
  probes?: ProbeDefinition[];
  maintenance?: MaintenanceWindow[];
}

// ---------------------------------------------------------------- results

export interface AssertionOutcome {
  /** What was checked, as the operator wrote it ("status in [200]", "body contains \"Вакансии\""). */
  name: string;
  ok: boolean;
  /** What was seen ("status 503", "12 ms"). */
  actual?: string;
}

export interface StepOutcome {
  name: string;
  ok: boolean;
  durationMs: number;
  reason?: string;
  assertions: AssertionOutcome[];
}

/**
 * The outcome of one probe run. A probe never throws: every failure (network, timeout, assertion,
 * a bug in the probe itself) becomes ok=false with a precise `reason`.
 */
export interface ProbeResult {
  ok: boolean;
  /** First failure, precise enough to act on ("timed out after 2000 ms reading the body (4096 bytes received)"). */
  reason?: string;
  /** ms since the epoch (the clock's). */
  startedAt: number;
  durationMs: number;
  assertions: AssertionOutcome[];
  steps?: StepOutcome[];
  /** Overrides the probe's severity for this failure (TLS expiry warn vs critical). */
  severity?: ProbeSeverity;
  /** Attempts made (1 + retries used). */
  attempts?: number;
}

export interface ProbeRunContext {
  /** Aborted at the probe's timeout (or at stop); a probe must return promptly once aborted. */
  signal: AbortSignal;
  timeoutMs: number;
}

/** One module per kind implements this. `run` never rejects. */
export interface Probe {
  readonly name: string;
  readonly kind: ProbeKind;
  run(ctx: ProbeRunContext): Promise<ProbeResult>;
  /** Release sockets / pools held by the probe. */
  close?(): Promise<void>;
}
