// JSON Schema (draft-07, ajv) for probes/*.yaml. The config loader validates each file with it and
// reports file:line:column; `probeFileProblems` adds the checks a schema cannot express (unique names,
// cron syntax, time zones, regular expressions), each with the JSON path of the offending field.

const duration = { type: 'string', format: 'duration' } as const;
const str = { type: 'string', minLength: 1 } as const;
const name = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,126}$' } as const;
const compareOp = { enum: ['==', '!=', '<', '<=', '>', '>='] } as const;
const scalar = { type: ['string', 'number', 'boolean', 'null'] } as const;
// A pattern, not format: "date-time", so the schema needs no format plugin; the zone is required.
const dateTime = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$' } as const;
const stringMap = { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 64 } as const;

const tlsClient = {
  type: 'object',
  additionalProperties: false,
  properties: {
    verify: { type: 'boolean' },
    ca_file: str,
    cert_file: str,
    key_file: str,
    servername: str,
  },
} as const;

const assertion = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['contains'], properties: { contains: str } },
    { type: 'object', additionalProperties: false, required: ['not_contains'], properties: { not_contains: str } },
    { type: 'object', additionalProperties: false, required: ['regex'], properties: { regex: str } },
    {
      type: 'object',
      additionalProperties: false,
      required: ['json_path'],
      properties: { json_path: { type: 'string', pattern: '^\\$' }, op: { enum: ['==', '!=', '<', '<=', '>', '>=', 'exists'] }, value: scalar },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['header'],
      properties: { header: str, contains: { type: 'string' }, equals: { type: 'string' } },
    },
  ],
} as const;

const httpProps = {
  url: { type: 'string', pattern: '^https?://' },
  method: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
  headers: stringMap,
  body: { type: 'string' },
  form: stringMap,
  json: {},
  expect_status: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 100, maximum: 599 } },
  latency_budget: duration,
  assertions: { type: 'array', items: assertion },
  follow_redirects: { type: ['boolean', 'integer'], minimum: 0, maximum: 20 },
  max_body_bytes: { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024 },
  tls: tlsClient,
} as const;

const http = { type: 'object', additionalProperties: false, required: ['url'], properties: httpProps } as const;

const extractor = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['json_path'], properties: { json_path: { type: 'string', pattern: '^\\$' } } },
    { type: 'object', additionalProperties: false, required: ['regex'], properties: { regex: str } },
    { type: 'object', additionalProperties: false, required: ['header'], properties: { header: str } },
  ],
} as const;

const flow = {
  type: 'object',
  additionalProperties: false,
  required: ['steps'],
  properties: {
    steps: {
      type: 'array',
      minItems: 1,
      maxItems: 20,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'url'],
        properties: {
          ...httpProps,
          url: { type: 'string', pattern: '^(https?://|\\{\\{)' },
          name: str,
          extract: { type: 'object', additionalProperties: extractor, propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } },
        },
      },
    },
    variables: stringMap,
    credentials: {
      type: 'object',
      additionalProperties: false,
      properties: { login: { type: 'string' }, password: { type: 'string' }, token: { type: 'string' } },
    },
  },
} as const;

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;

const postgresProps = {
  url: { type: 'string', pattern: '^postgres(ql)?://' },
  password: { type: 'string' },
  query: str,
  latency_budget: duration,
} as const;

const kinds = {
  http,
  flow,
  tcp: {
    type: 'object',
    additionalProperties: false,
    required: ['host', 'port'],
    properties: { host: str, port, send: { type: 'string' }, expect: { type: 'string' }, tls: { type: 'boolean' } },
  },
  dns: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: str,
      type: { enum: ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS'] },
      server: str,
      expect: { type: 'array', items: str },
    },
  },
  tls: {
    type: 'object',
    additionalProperties: false,
    required: ['host'],
    properties: {
      host: str,
      port,
      servername: str,
      warn_days: { type: 'integer', minimum: 0 },
      critical_days: { type: 'integer', minimum: 0 },
      ca_file: str,
    },
  },
  postgres: { type: 'object', additionalProperties: false, required: ['url'], properties: postgresProps },
  sql: {
    type: 'object',
    additionalProperties: false,
    required: ['url', 'query'],
    properties: {
      ...postgresProps,
      params: { type: 'array', maxItems: 10, items: { type: 'string', enum: ['now', 'period_start', 'period_end'] } },
      period: { type: 'string', enum: ['monthly', 'quarterly', 'half-yearly', 'yearly'] },
      zone: str,
      report_column: str,
      expect: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['column', 'op', 'value'],
          properties: { column: str, op: compareOp, value: scalar },
        },
      },
      rows: {
        type: 'object',
        additionalProperties: false,
        required: ['op', 'value'],
        properties: { op: compareOp, value: { type: 'integer', minimum: 0 } },
      },
    },
  },
  host: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      cpu_percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
      memory_percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
      load1: { type: 'number', exclusiveMinimum: 0 },
      disks: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['mount', 'max_percent'],
          properties: { mount: str, max_percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 } },
        },
      },
      for: duration,
    },
  },
  heartbeat: {
    type: 'object',
    additionalProperties: false,
    required: ['period', 'token'],
    properties: { period: duration, grace: duration, token: { type: 'string' } },
  },
} as const;

const kindNames = Object.keys(kinds) as (keyof typeof kinds)[];

export const probeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind', 'system'],
  properties: {
    name,
    kind: { enum: kindNames },
    system: name,
    description: { type: 'string' },
    interval: duration,
    timeout: duration,
    retries: { type: 'integer', minimum: 0, maximum: 5 },
    confirm: {
      type: 'object',
      additionalProperties: false,
      required: ['failures'],
      properties: {
        failures: { type: 'integer', minimum: 1, maximum: 100 },
        of: { type: 'integer', minimum: 1, maximum: 100 },
        /** Several locations (cluster.location): this many must see the probe failing before it fires. */
        locations: { type: 'integer', minimum: 1, maximum: 50 },
      },
    },
    recover: {
      type: 'object',
      additionalProperties: false,
      required: ['successes'],
      properties: { successes: { type: 'integer', minimum: 1, maximum: 100 } },
    },
    labels: stringMap,
    severity: { enum: ['info', 'warning', 'minor', 'major', 'critical'] },
    enabled: { type: 'boolean' },
    /** Counts for its system's availability (reports); default true for kinds http and flow. */
    availability: { type: 'boolean' },
    ...kinds,
  },
  // The kind names its own block: `kind: http` needs `http:` and no other kind's block.
  allOf: kindNames.map((k) => ({
    if: { properties: { kind: { const: k } }, required: ['kind'] },
    then: { required: [k], not: { anyOf: kindNames.filter((o) => o !== k).map((o) => ({ required: [o] })) } },
  })),
} as const;

export const maintenanceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: str,
    start: dateTime,
    end: dateTime,
    cron: str,
    timezone: str,
    duration,
    systems: { type: 'array', items: str },
    probes: { type: 'array', items: str },
  },
  oneOf: [
    { required: ['start', 'end'], not: { anyOf: [{ required: ['cron'] }, { required: ['duration'] }] } },
    { required: ['cron', 'duration'], not: { anyOf: [{ required: ['start'] }, { required: ['end'] }] } },
  ],
} as const;

/** Schema of one probes/*.yaml file. */
export const probeFileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://kuzet.invalid/schemas/probe-file.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    probes: { type: 'array', items: probeSchema },
    maintenance: { type: 'array', items: maintenanceSchema },
  },
} as const;

/** Defaults applied to every probe, in one place. */
export const PROBE_DEFAULTS = {
  interval: '60s',
  timeout: '10s',
  retries: 0,
  confirm: { failures: 2 },
  recover: { successes: 2 },
  severity: 'major',
  maxBodyBytes: 1024 * 1024,
  followRedirects: 5,
  heartbeatGrace: '0s',
} as const;
