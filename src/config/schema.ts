// One schema for kuzet's configuration: config/kuzet.yaml and probes/*.yaml. The defaults live here too
// (ajv fills them in), so a reader finds every knob and its default in one file.

export const duration = (def?: string) => ({ type: 'string', format: 'duration', ...(def ? { default: def } : {}) });

const systemSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name'],
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' },
    name: { type: 'string', minLength: 1 },
    name_kk: { type: 'string' },
    name_ru: { type: 'string' },
    kind: { type: 'string', enum: ['portal', 'information-system', 'database', 'bus', 'internal'], default: 'information-system' },
    depends_on: { type: 'array', items: { type: 'string' }, default: [] },
    /** The request form users file reports on for this system (enbek, ministry, nqs); none: not offered. */
    form: { type: 'string', enum: ['enbek', 'ministry', 'nqs'] },
  },
};

export const kuzetSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { type: 'string', default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        /** Where people reach kuzet (links in pages and mails); empty: http://<listen>:<port>. */
        public_url: { type: 'string', default: '', pattern: '^(https?://.+)?$' },
        body_limit_bytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024 },
        trust_proxy: { type: 'boolean', default: false },
        body_timeout: { ...duration('30s'), description: 'a request body not fully received this long after its headers is cut with 408' },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        url: { type: 'string', default: '' },
        data_dir: { type: 'string', default: 'data/pg' },
        pool_size: { type: 'integer', minimum: 1, maximum: 100, default: 8 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { level: { type: 'string', enum: ['error', 'warn', 'info', 'debug'], default: 'info' } },
    },
    incidents: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        reopen_window: duration('30m'),
        flapping: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { flips: { type: 'integer', minimum: 2, maximum: 1000, default: 4 }, window: duration('1h'), settle: duration('5m') },
        },
      },
    },
    signals: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        retention: duration('90d'),
        max_batch: { type: 'integer', minimum: 1, maximum: 20_000, default: 2000 },
        max_queue: { type: 'integer', minimum: 1, maximum: 10_000_000, default: 100_000 },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** A token with the admin role accepted in addition to stored tokens (from the environment). */
        bootstrap_token: { type: 'string', default: '' },
      },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Monthly archive files of the audit trail, each carrying the SHA-256 of the one before. */
        archive_dir: { type: 'string', default: 'data/audit' },
        /** Months are calendar months in this zone. */
        zone: { type: 'string', default: 'Asia/Almaty' },
        /** When the finished month is archived (cron, in `zone`). */
        schedule: { type: 'string', default: '0 1 1 * *' },
        /** Audit rows stay in the store this long; older ones are deleted once archived. */
        retention: duration('1095d'),
      },
    },
    /** Several instances on one store (README "Several instances"). */
    cluster: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Where this instance probes from; probes are shared among the live instances of one location. */
        location: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$', default: 'default' },
        /** How often this instance says it is alive; it counts as dead after two missed heartbeats. */
        heartbeat: duration('5s'),
        /** This instance's id; empty: host name, process id and a random suffix. */
        instance_id: { type: 'string', pattern: '^$|^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$', default: '' },
      },
    },
    systems: { type: 'array', items: systemSchema, default: [] },
    probes_dir: { type: 'string', default: '../probes' },
    /** Runbooks (Markdown), relative to this file's folder like every other path here; empty: the shipped ones. */
    runbooks_dir: { type: 'string', default: '' },
    // Sections owned by other stages; their schemas are plugged in by src/config/sections.ts.
    intake: { type: 'object', default: {} },
    logs: { type: 'object', default: {} },
    escalation: { type: 'object', default: {} },
    backups: { type: 'object', default: {} },
    requests: { type: 'object', default: {} },
    probes: { type: 'object', default: {} },
    reports: { type: 'object', default: {} },
  },
} as const;

export interface SystemConfig {
  id: string;
  name: string;
  name_kk?: string;
  name_ru?: string;
  kind: string;
  depends_on: string[];
  form?: 'enbek' | 'ministry' | 'nqs';
}

export interface KuzetConfig {
  server: { listen: string; port: number; public_url: string; body_limit_bytes: number; trust_proxy: boolean; body_timeout: string };
  store: { url: string; data_dir: string; pool_size: number };
  log: { level: 'error' | 'warn' | 'info' | 'debug' };
  incidents: { reopen_window: string; flapping: { flips: number; window: string; settle: string } };
  signals: { retention: string; max_batch: number; max_queue: number };
  auth: { bootstrap_token: string };
  audit: { archive_dir: string; zone: string; schedule: string; retention: string };
  cluster: { location: string; heartbeat: string; instance_id: string };
  systems: SystemConfig[];
  probes_dir: string;
  runbooks_dir: string;
  intake: Record<string, unknown>;
  logs: Record<string, unknown>;
  escalation: Record<string, unknown>;
  backups: Record<string, unknown>;
  requests: Record<string, unknown>;
  probes: Record<string, unknown>;
  reports: Record<string, unknown>;
}

export const probeFileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    probes: { type: 'array', items: { type: 'object' }, default: [] },
    maintenance: { type: 'array', items: { type: 'object' }, default: [] },
  },
};
