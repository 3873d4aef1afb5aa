// The `reports:` section of config/kuzet.yaml: the monthly delivery and the NQS yearly analysis deadline.

export const REPORT_KINDS = ['availability', 'incidents', 'requests', 'backups', 'feeds', 'nqs-yearly'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];
export const REPORT_FORMATS = ['csv', 'json', 'html', 'pdf'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const REPORT_LANGS = ['ru', 'kk', 'en'] as const;
export type ReportLang = (typeof REPORT_LANGS)[number];

export interface ReportsConfig {
  /** E-mail addresses the monthly reports go to. Empty: reports are kept in the archive only. */
  recipients: string[];
  /** node-cron expression in `timezone` (default: the 1st of every month at 09:00). */
  schedule: string;
  timezone: string;
  /** Reports delivered every month (for the previous month). */
  monthly: ReportKind[];
  format: ReportFormat;
  lang: ReportLang;
  /** The escalation channel the e-mail leaves by (default: the first channel of type email). */
  channel?: string;
  /** Headless Chromium for PDF (Debian package `chromium`). */
  chromium: string;
  nqs_yearly: {
    /** Due day of the yearly analysis, MM-DD, 18:00 Asia/Almaty. */
    due: string;
    /** Reminders this long before the due time; the due time itself is the breach. */
    remind_before: string[];
    /** The person (escalation.people) who writes it; the deadline's signal names them in labels.owner. */
    owner: string;
    system: string;
    severity: 'warning' | 'minor' | 'major' | 'critical';
  };
}

const durationRe = '^(\\d+(ms|s|m|h|d|w))+$';

export const reportsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    recipients: { type: 'array', items: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$' }, default: [] },
    schedule: { type: 'string', minLength: 9, default: '0 9 1 * *' },
    timezone: { type: 'string', default: 'Asia/Almaty' },
    monthly: { type: 'array', items: { enum: [...REPORT_KINDS] }, default: ['availability', 'incidents', 'requests', 'backups', 'feeds'] },
    format: { enum: [...REPORT_FORMATS], default: 'html' },
    lang: { enum: [...REPORT_LANGS], default: 'ru' },
    channel: { type: 'string', minLength: 1 },
    chromium: { type: 'string', minLength: 1, default: '/usr/bin/chromium' },
    nqs_yearly: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        due: { type: 'string', pattern: '^(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$', default: '12-15' },
        remind_before: { type: 'array', items: { type: 'string', pattern: durationRe }, default: ['14d', '7d', '1d'] },
        owner: { type: 'string', default: 'head-ops' },
        system: { type: 'string', default: 'nqs' },
        severity: { enum: ['warning', 'minor', 'major', 'critical'], default: 'major' },
      },
    },
  },
} as const;

export const REPORTS_DEFAULTS: ReportsConfig = {
  recipients: [],
  schedule: '0 9 1 * *',
  timezone: 'Asia/Almaty',
  monthly: ['availability', 'incidents', 'requests', 'backups', 'feeds'],
  format: 'html',
  lang: 'ru',
  chromium: '/usr/bin/chromium',
  nqs_yearly: { due: '12-15', remind_before: ['14d', '7d', '1d'], owner: 'head-ops', system: 'nqs', severity: 'major' },
};

export function resolveReportsConfig(input: Partial<ReportsConfig> | undefined): ReportsConfig {
  const i = input ?? {};
  return { ...REPORTS_DEFAULTS, ...i, nqs_yearly: { ...REPORTS_DEFAULTS.nqs_yearly, ...(i.nqs_yearly ?? {}) } };
}

/** Checks beyond the schema: the schedule is a cron expression node-cron accepts, the zone is known. */
export function reportsConfigProblems(input: Partial<ReportsConfig> | undefined, validCron: (expr: string) => boolean): { path: (string | number)[]; message: string }[] {
  const c = resolveReportsConfig(input);
  const out: { path: (string | number)[]; message: string }[] = [];
  if (!validCron(c.schedule)) out.push({ path: ['reports', 'schedule'], message: `not a cron expression: ${JSON.stringify(c.schedule)}` });
  try {
    new Intl.DateTimeFormat('en', { timeZone: c.timezone });
  } catch {
    out.push({ path: ['reports', 'timezone'], message: `unknown time zone ${JSON.stringify(c.timezone)}` });
  }
  return out;
}
