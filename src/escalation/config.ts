// The `escalation:` config section: its TS shape and its JSON Schema (draft-07, ajv-compatible).
// Durations are strings ("30s", "15m", "1h30m"); secrets (`password`, `token`, `secret`) are resolved
// by the config loader from "${ENV}" or a sibling `<name>_file` before this code sees them.

export type Lang = 'ru' | 'kk' | 'en';
export type ChannelType = 'email' | 'slack' | 'telegram' | 'webhook';
export type MatchValue = string | string[];

/** Label matchers: every key must match; a value list matches any of its values; "!x" negates. */
export type Matchers = Record<string, MatchValue>;

export interface PolicyMatch {
  systems?: string[];
  severities?: string[];
  sources?: string[];
  labels?: Matchers;
}

/** Whom a step pages: exactly one of rotation, person or channel. `via` names channels for people. */
export interface Target {
  rotation?: string;
  person?: string;
  channel?: string;
  via?: string[];
}

export interface StepConfig {
  after: string;
  notify: Target[];
}

export interface PolicyConfig {
  name: string;
  match?: PolicyMatch;
  ack_deadline?: string;
  resolve_deadline?: string;
  steps: StepConfig[];
  /** Run the ladder again (from its first step) this long after its last step while unacknowledged. */
  repeat?: { every: string; times?: number };
  /** Who hears about a breached deadline (besides the breach mark and the metric). */
  on_breach?: { notify?: Target[] };
}

export interface PersonConfig {
  name: string;
  email?: string;
  slack?: string;
  telegram?: string;
  lang?: Lang;
  /** Channels used when a step names this person (or their rotation) without `via`. */
  via?: string[];
}

export interface LayerConfig {
  name: string;
  members: string[];
  hand_off: 'daily' | 'weekly';
  /** Local time of the hand-off, "HH:MM". */
  hand_off_time?: string;
  /** For weekly hand-offs: the weekday (monday ... sunday). */
  hand_off_day?: string;
  /** The first shift starts at this local date ("YYYY-MM-DD"), with members[0]. */
  start: string;
  /** Only cover these local hours ("09:00-18:00") and weekdays; outside them a lower layer answers. */
  restrict?: { hours?: string; days?: string[] };
}

export interface OverrideConfig {
  person: string;
  start: string;
  end: string;
}

export interface RotationConfig {
  time_zone?: string;
  /** Later layers take precedence where they cover the moment; overrides beat every layer. */
  layers: LayerConfig[];
  overrides?: OverrideConfig[];
}

export interface ChannelConfig {
  type: ChannelType;
  lang?: Lang;
  timeout?: string;
  /** Deprecated and ignored: transient failures retry until `outbox.max_age`, permanent ones dead-letter at once. */
  max_attempts?: number;
  rate_per_minute?: number;
  /** After this many failed attempts, the message goes to the fallback channel instead. */
  fallback?: string;
  fallback_after?: number;
  // email
  host?: string;
  port?: number;
  secure?: boolean;
  user?: string;
  password?: string;
  from?: string;
  to?: string;
  // slack
  token?: string;
  api_url?: string;
  slack_channel?: string;
  // telegram
  chat_id?: string;
  // webhook
  url?: string;
  secret?: string;
}

export interface SilenceConfig {
  matchers: Matchers;
  starts_at?: string;
  ends_at: string;
  author: string;
  reason: string;
}

export interface InhibitRule {
  /** An unresolved incident matching `cause` ... */
  cause: Matchers;
  /** ... holds the paging of new incidents matching `suppress`, which are linked to it. */
  suppress: Matchers;
}

export interface StormGuard {
  /** More than `max_incidents` new incidents within `window` become one grouped page. */
  max_incidents: number;
  window: string;
  notify: Target[];
}

export interface EscalationConfig {
  default_lang?: Lang;
  /** Base URL for incident and acknowledge links in messages. */
  public_url?: string;
  ack_links?: { secret: string; ttl?: string };
  /** Absent or empty: incidents are recorded, nobody is paged. */
  policies?: PolicyConfig[];
  rotations?: Record<string, RotationConfig>;
  people?: Record<string, PersonConfig>;
  channels?: Record<string, ChannelConfig>;
  silences?: SilenceConfig[];
  inhibit?: InhibitRule[];
  storm_guard?: StormGuard;
  /**
   * `check_interval` / `max_check_interval`: while a channel has dead pages that could be re-driven, its health is
   * checked this often, the gap doubling up to the maximum while it is still down (default 30s and 5m).
   */
  outbox?: { lease?: string; base_backoff?: string; max_backoff?: string; max_age?: string; concurrency?: number; check_interval?: string; max_check_interval?: string };
  /** The e-mail channel that writes to users (request acknowledgements); default: the first e-mail channel. */
  user_mail_channel?: string;
  /**
   * Addresses in these domains (and their subdomains) are placeholders: a message to one is held with the reason
   * "placeholder address" and never handed to a channel. The shipped config lists example.kz and the reserved names.
   */
  placeholder_domains?: string[];
}

const duration = { type: 'string', format: 'duration' } as const;
const strList = { type: 'array', items: { type: 'string', minLength: 1 } } as const;
const matchers = {
  type: 'object',
  additionalProperties: { anyOf: [{ type: 'string' }, strList] },
} as const;
const lang = { type: 'string', enum: ['ru', 'kk', 'en'] } as const;
// Plain patterns rather than ajv-formats' date-time/email: the config loader's Ajv has only "duration".
const dateTime = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$' } as const;
const hhmm = { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' } as const;
const weekday = { type: 'string', enum: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] } as const;
const target = {
  type: 'object',
  additionalProperties: false,
  properties: { rotation: { type: 'string' }, person: { type: 'string' }, channel: { type: 'string' }, via: strList },
  oneOf: [{ required: ['rotation'] }, { required: ['person'] }, { required: ['channel'] }],
} as const;

export const escalationConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties: {
    default_lang: lang,
    public_url: { type: 'string', pattern: '^https?://' },
    ack_links: {
      type: 'object',
      additionalProperties: false,
      required: ['secret'],
      properties: { secret: { type: 'string', minLength: 16 }, ttl: duration },
    },
    policies: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'steps'],
        properties: {
          name: { type: 'string', minLength: 1 },
          match: {
            type: 'object',
            additionalProperties: false,
            properties: { systems: strList, severities: strList, sources: strList, labels: matchers },
          },
          ack_deadline: duration,
          resolve_deadline: duration,
          steps: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['after', 'notify'],
              properties: { after: duration, notify: { type: 'array', minItems: 1, items: target } },
            },
          },
          repeat: {
            type: 'object',
            additionalProperties: false,
            required: ['every'],
            properties: { every: duration, times: { type: 'integer', minimum: 1, maximum: 100 } },
          },
          on_breach: {
            type: 'object',
            additionalProperties: false,
            properties: { notify: { type: 'array', items: target } },
          },
        },
      },
    },
    rotations: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['layers'],
        properties: {
          time_zone: { type: 'string', minLength: 1 },
          layers: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'members', 'hand_off', 'start'],
              properties: {
                name: { type: 'string', minLength: 1 },
                members: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
                hand_off: { type: 'string', enum: ['daily', 'weekly'] },
                hand_off_time: hhmm,
                hand_off_day: weekday,
                start: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
                restrict: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    hours: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d-([01]\\d|2[0-4]):[0-5]\\d$' },
                    days: { type: 'array', items: weekday },
                  },
                },
              },
            },
          },
          overrides: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['person', 'start', 'end'],
              properties: { person: { type: 'string' }, start: dateTime, end: dateTime },
            },
          },
        },
      },
    },
    people: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1 },
          email: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$' },
          slack: { type: 'string' },
          telegram: { type: 'string' },
          lang,
          via: strList,
        },
      },
    },
    channels: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        properties: {
          type: { type: 'string', enum: ['email', 'slack', 'telegram', 'webhook'] },
          lang,
          timeout: duration,
          max_attempts: { type: 'integer', minimum: 1, maximum: 50 },
          rate_per_minute: { type: 'integer', minimum: 1 },
          fallback: { type: 'string' },
          fallback_after: { type: 'integer', minimum: 1 },
          host: { type: 'string' },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          secure: { type: 'boolean' },
          user: { type: 'string' },
          password: { type: 'string' },
          from: { type: 'string' },
          to: { type: 'string' },
          token: { type: 'string' },
          api_url: { type: 'string', pattern: '^https?://' },
          slack_channel: { type: 'string' },
          chat_id: { type: 'string' },
          url: { type: 'string', pattern: '^https?://' },
          secret: { type: 'string' },
        },
      },
    },
    silences: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['matchers', 'ends_at', 'author', 'reason'],
        properties: {
          matchers,
          starts_at: dateTime,
          ends_at: dateTime,
          author: { type: 'string', minLength: 1 },
          reason: { type: 'string', minLength: 1 },
        },
      },
    },
    inhibit: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['cause', 'suppress'],
        properties: { cause: matchers, suppress: matchers },
      },
    },
    storm_guard: {
      type: 'object',
      additionalProperties: false,
      required: ['max_incidents', 'window', 'notify'],
      properties: { max_incidents: { type: 'integer', minimum: 1 }, window: duration, notify: { type: 'array', minItems: 1, items: target } },
    },
    user_mail_channel: { type: 'string', minLength: 1 },
    placeholder_domains: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9.-]+$' } },
    outbox: {
      type: 'object',
      additionalProperties: false,
      properties: {
        lease: duration,
        base_backoff: duration,
        max_backoff: duration,
        max_age: duration,
        concurrency: { type: 'integer', minimum: 1, maximum: 256 },
        check_interval: duration,
        max_check_interval: duration,
      },
    },
  },
} as const;
