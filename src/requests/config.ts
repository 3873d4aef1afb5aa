// The `requests` config section: its JSON Schema (draft-07, ajv) and defaults. The loader validates the section with
// REQUESTS_CONFIG_SCHEMA; `resolveRequestsConfig` fills what is left out.

export type FormKind = 'enbek' | 'ministry' | 'nqs';
export type Role = 'viewer' | 'reporter' | 'soc' | 'oncall' | 'admin';
export type AttachmentType = 'pdf' | 'png' | 'jpeg' | 'gif' | 'webp' | 'docx' | 'xlsx';

export interface SystemEntry {
  id: string;
  form: FormKind;
  name_ru: string;
  name_kk: string;
}

export interface RequestsConfig {
  calendar_file: string;
  /** "N calendar days": 18:00 of D0+N moved to a working day, or the deemed receipt + N × 24 h. */
  calendar_day_mode: 'next-working-day' | 'elapsed';
  /** Warnings before the deadline, as fractions of its span. */
  warn_fractions: number[];
  /** Roles that see IIN, phone, e-mail, name and login whole; every other role sees them masked. */
  personal_data_roles: Role[];
  /** After a request is closed this long, its personal data is erased. */
  retention: string;
  attachments: {
    /** A folder that nothing serves; files get generated names and mode 0600. */
    dir: string;
    max_bytes: number;
    max_files: number;
    types: AttachmentType[];
    /** Public form: attachment bytes one client address may send per day (Asia/Almaty); the API is not limited. */
    daily_bytes_per_address: number;
    /** All attachments together; past it every new attachment is refused. */
    quota_bytes: number;
    /** Free space the attachment folder's file system keeps; an attachment that would eat into it is refused. */
    min_free_bytes: number;
  };
  /** Public page: `max` per client address per `window`. API (authenticated): `api_max` per token per `window`. */
  rate_limit: { max: number; window: string; api_max?: number };
  /**
   * A user report is a source of failure (REQUIREMENTS §2.1): `threshold` trouble reports on one system within
   * `window` open (or join) the system's incident at once; a report matching a critical category needs only
   * `critical_threshold`. Reports filed within `window` before an incident opens are linked to it when it opens.
   */
  user_reports: { window: string; threshold: number; critical_threshold: number; critical_categories: Array<{ name: string; pattern: string }> };
  systems: SystemEntry[];
}

const ROLES: Role[] = ['viewer', 'reporter', 'soc', 'oncall', 'admin'];
export const ATTACHMENT_TYPES: AttachmentType[] = ['pdf', 'png', 'jpeg', 'gif', 'webp', 'docx', 'xlsx'];

const sys = (id: string, form: FormKind, name_ru: string, name_kk: string): SystemEntry => ({ id, form, name_ru, name_kk });

/**
 * The systems of REQUIREMENTS ("The systems to watch") as the request forms offer them when no catalogue is given
 * (unit tests). The daemon takes them from the one catalogue, `systems:` in kuzet.yaml (see `requestSystems`).
 */
export const DEFAULT_SYSTEMS: SystemEntry[] = [
  sys('enbek', 'enbek', 'Электронная биржа труда (enbek.kz)', 'Электрондық еңбек биржасы (enbek.kz)'),
  sys('nqs', 'nqs', 'Цифровая платформа НСК (career.enbek.kz)', 'ҰБЖ цифрлық платформасы (career.enbek.kz)'),
  sys('social-services', 'ministry', 'Портал социальных услуг', 'Әлеуметтік қызметтер порталы'),
  sys('disability-portal', 'ministry', 'Портал «Социальная защита лиц с инвалидностью»', '«Мүгедектігі бар адамдарды әлеуметтік қорғау» порталы'),
  sys('pension-benefits', 'ministry', 'ИС назначения пенсий и пособий', 'Зейнетақылар мен жәрдемақыларды тағайындау АЖ'),
  sys('e-sobes', 'ministry', 'ИС «Е-Собес»', '«Е-Собес» АЖ'),
  sys('social-assistance', 'ministry', 'ИС «Социальная помощь»', '«Әлеуметтік көмек» АЖ'),
  sys('payments', 'ministry', 'ИС обработки платежей', 'Төлемдерді өңдеу АЖ'),
  sys('labour-market', 'ministry', 'ИС «Рынок труда»', '«Еңбек нарығы» АЖ'),
  sys('sic-registration', 'ministry', 'АРМ регистрации социального индивидуального кода', 'Әлеуметтік жеке кодты тіркеу АЖО'),
  sys('payments-db', 'ministry', 'ЦБД получателей пенсий и пособий', 'Зейнетақы мен жәрдемақы алушылардың ОДҚ'),
  sys('qandas', 'ministry', 'ИС «Қандас»', '«Қандас» АЖ'),
  sys('disability-db', 'ministry', 'ЦБД лиц с инвалидностью', 'Мүгедектігі бар адамдардың ОДҚ'),
  sys('foreign-labour', 'ministry', 'ИС «Иностранная рабочая сила»', '«Шетелдік жұмыс күші» АЖ'),
  sys('labour-safety', 'ministry', 'ИС «Охрана и безопасность труда»', '«Еңбекті қорғау және қауіпсіздігі» АЖ'),
  sys('rehab-means', 'ministry', 'ИС «Технические средства реабилитации»', '«Оңалтудың техникалық құралдары» АЖ'),
  sys('integration-bus', 'ministry', 'Интеграционная шина социально-трудовых ИС', 'Әлеуметтік-еңбек АЖ интеграциялық шинасы'),
];

export const REQUESTS_DEFAULTS: RequestsConfig = {
  // Relative to the folder of kuzet.yaml, like every path in it; empty: the calendar shipped with kuzet.
  calendar_file: '',
  calendar_day_mode: 'next-working-day',
  warn_fractions: [0.5, 0.75],
  personal_data_roles: ['reporter', 'admin'],
  retention: '1095d',
  attachments: {
    dir: 'data/attachments', max_bytes: 10 * 1024 * 1024, max_files: 3, types: ['pdf', 'png', 'jpeg', 'docx', 'xlsx'],
    daily_bytes_per_address: 30 * 1024 * 1024, quota_bytes: 2 * 1024 ** 3, min_free_bytes: 1024 ** 3,
  },
  rate_limit: { max: 5, window: '10m', api_max: 200 },
  user_reports: {
    window: '15m',
    threshold: 3,
    critical_threshold: 1,
    // Words a user writes when the whole portal is gone for them (ru, kk, en); RE2 syntax, case-insensitive.
    critical_categories: [
      { name: 'site-down', pattern: 'сайт не (открывается|работает|доступен)|портал не (открывается|работает|доступен)|сайт ашылмайды|портал ашылмайды|сайт жұмыс істемейді|site (is )?down|cannot open the (site|portal)' },
      { name: 'cannot-sign-in', pattern: 'не могу войти|не удается войти|не удаётся войти|кіре алмаймын|cannot (log|sign) in' },
    ],
  },
  systems: DEFAULT_SYSTEMS,
};

export const REQUESTS_CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties: {
    calendar_file: { type: 'string' },
    calendar_day_mode: { type: 'string', enum: ['next-working-day', 'elapsed'] },
    warn_fractions: { type: 'array', maxItems: 5, items: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } },
    personal_data_roles: { type: 'array', uniqueItems: true, items: { type: 'string', enum: ROLES } },
    retention: { type: 'string', format: 'duration' },
    attachments: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: { type: 'string', minLength: 1 },
        max_bytes: { type: 'integer', minimum: 1024, maximum: 100 * 1024 * 1024 },
        max_files: { type: 'integer', minimum: 0, maximum: 10 },
        types: { type: 'array', uniqueItems: true, items: { type: 'string', enum: ATTACHMENT_TYPES } },
        daily_bytes_per_address: { type: 'integer', minimum: 0, maximum: 2 ** 40 },
        quota_bytes: { type: 'integer', minimum: 0, maximum: 2 ** 50 },
        min_free_bytes: { type: 'integer', minimum: 0, maximum: 2 ** 50 },
      },
    },
    rate_limit: {
      type: 'object',
      additionalProperties: false,
      required: ['max', 'window'],
      properties: {
        max: { type: 'integer', minimum: 1, maximum: 100000 },
        window: { type: 'string', format: 'duration' },
        api_max: { type: 'integer', minimum: 1, maximum: 1000000 },
      },
    },
    user_reports: {
      type: 'object',
      additionalProperties: false,
      properties: {
        window: { type: 'string', format: 'duration' },
        threshold: { type: 'integer', minimum: 1, maximum: 10000 },
        critical_threshold: { type: 'integer', minimum: 1, maximum: 10000 },
        critical_categories: {
          type: 'array', maxItems: 50,
          items: {
            type: 'object', additionalProperties: false, required: ['name', 'pattern'],
            properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }, pattern: { type: 'string', minLength: 1, maxLength: 2000 } },
          },
        },
      },
    },
  },
} as const;

/** The section with defaults filled in (a partial section as written in kuzet.yaml). */
export type RequestsConfigInput = Omit<Partial<RequestsConfig>, 'attachments' | 'user_reports'> & {
  attachments?: Partial<RequestsConfig['attachments']>;
  user_reports?: Partial<RequestsConfig['user_reports']>;
};

/** A system of the catalogue (`systems:` in kuzet.yaml), as far as the request forms need it. */
export interface CatalogueSystem {
  id: string;
  name: string;
  name_ru?: string;
  name_kk?: string;
  form?: FormKind;
}

/** The systems users may report on: those of the catalogue that name a `form`, in catalogue order. */
export function requestSystems(catalogue: readonly CatalogueSystem[]): SystemEntry[] {
  return catalogue
    .filter((s) => s.form)
    .map((s) => ({ id: s.id, form: s.form!, name_ru: s.name_ru || s.name, name_kk: s.name_kk || s.name_ru || s.name }));
}

/**
 * The section with defaults filled in. `catalogue` is the config's `systems:`; without it (unit tests) the built-in
 * list stands in.
 */
export function resolveRequestsConfig(partial: RequestsConfigInput = {}, catalogue?: readonly CatalogueSystem[]): RequestsConfig {
  return {
    ...REQUESTS_DEFAULTS,
    ...partial,
    attachments: { ...REQUESTS_DEFAULTS.attachments, ...(partial.attachments ?? {}) },
    rate_limit: partial.rate_limit ?? REQUESTS_DEFAULTS.rate_limit,
    user_reports: { ...REQUESTS_DEFAULTS.user_reports, ...(partial.user_reports ?? {}) },
    systems: partial.systems ?? (catalogue ? requestSystems(catalogue) : REQUESTS_DEFAULTS.systems),
  };
}
