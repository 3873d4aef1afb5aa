import { duration } from '../../config/schema.ts';

/** The `intake:` section of config/kuzet.yaml. */
export const intakeSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    max_alerts_per_request: {
      type: 'integer', minimum: 1, maximum: 100_000, default: 1000,
      description: 'alerts in one request to /api/v2/alerts or the SOC webhook; a larger request is refused with 413',
    },
    alertmanager: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        require_auth: { type: 'boolean', default: true, description: 'refuse alerts without a soc (or admin) token' },
        default_system: { type: 'string', default: 'unknown', description: 'system for alerts with no system/service/job label' },
        resolve_timeout: { ...duration('5m'), description: 'an alert sent without endsAt resolves this long after it was last sent (as Alertmanager)' },
        path_prefix: {
          type: 'string',
          default: '/alertmanager',
          pattern: '^(/[A-Za-z0-9._~-]+)*$',
          description: 'the API is also served under this prefix (Prometheus path_prefix, amtool --alertmanager.url=…/prefix); "" for none; read at start',
        },
        api_version: {
          type: 'string',
          default: '0.25.0',
          pattern: '^\\d+\\.\\d+\\.\\d+$',
          description: 'the Alertmanager version whose API kuzet answers as (versionInfo in /api/v2/status); amtool warns when its major.minor differs',
        },
      },
    },
    soc: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        replay_window: duration('5m'),
        sources: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'secret'],
            properties: {
              name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' },
              secret: { type: 'string', minLength: 16 },
              system: { type: 'string', default: 'unknown' },
            },
          },
        },
      },
    },
  },
};

export interface IntakeConfig {
  max_alerts_per_request?: number;
  alertmanager: { require_auth: boolean; default_system: string; resolve_timeout: string; path_prefix: string; api_version: string };
  soc: { replay_window: string; sources: Array<{ name: string; secret: string; system: string }> };
}
