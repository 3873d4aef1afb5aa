import { parseDueRule, type DueRule } from './calendar.ts';
import type { FormKind, SystemEntry } from './config.ts';
import { checkIin, normalizeEmail, normalizeKzPhone } from './identity.ts';

// What each system's form must carry (REQUIREMENTS §3), and the one validation of intake shared by the JSON API,
// multipart and the public page. Validation returns every problem at once, as codes; messages.ts words them.

export type Lang = 'ru' | 'kk';
export type RequestKind = 'trouble' | 'access';
export type RequestForm = FormKind | 'access';
export type Channel = 'web' | 'api' | 'specialist';
export type AccessAction = 'grant' | 'block' | 'change';

export type Field =
  | 'system' | 'lang' | 'kind' | 'subject' | 'body' | 'contact' | 'email' | 'phone' | 'full_name' | 'iin' | 'login'
  | 'position' | 'access_action' | 'access_systems' | 'access_functions' | 'access_basis' | 'attachments';

export type FieldProblem =
  | 'required' | 'too_long' | 'invalid_text' | 'unknown_system' | 'invalid_choice'
  | 'iin_format' | 'iin_checksum' | 'iin_date' | 'phone' | 'email' | 'not_allowed';

export interface FieldError {
  field: Field;
  problem: FieldProblem;
}

/** Intake as it arrives: every value is untrusted. */
export interface RawIntake {
  kind?: unknown;
  system?: unknown;
  lang?: unknown;
  subject?: unknown;
  body?: unknown;
  contact?: unknown;
  email?: unknown;
  phone?: unknown;
  full_name?: unknown;
  iin?: unknown;
  login?: unknown;
  position?: unknown;
  access?: { action?: unknown; systems?: unknown; functions?: unknown; basis?: unknown } | unknown;
}

export interface AccessDetails {
  action: AccessAction;
  systems: string[];
  functions: string;
  basis: string;
}

export interface Intake {
  kind: RequestKind;
  form: RequestForm;
  system: string;
  lang: Lang;
  channel: Channel;
  subject: string;
  body: string;
  contact: string | null;
  email: string;
  phone: string | null;
  full_name: string | null;
  iin: string | null;
  login: string | null;
  position: string | null;
  access: AccessDetails | null;
}

/** Legal answer deadlines. */
export const DUE_RULES: Record<RequestForm, DueRule> = {
  enbek: parseDueRule('3 working days')!, // 000 §7
  ministry: parseDueRule('3 calendar days')!, // 002 §11
  nqs: parseDueRule('3 working days')!, // 004 §16
  access: parseDueRule('3 working days')!, // 002 §17
};

export type ExtensionReason = 'defect_fix' | 'platform_functioning';
/** 004 §16: only the NQS platform's deadline may be extended, from the original D0. */
export const EXTENSIONS: Partial<Record<RequestForm, Record<ExtensionReason, number>>> = {
  nqs: { defect_fix: 10, platform_functioning: 20 },
};

const REQUIRED: Record<RequestForm, Field[]> = {
  enbek: ['contact', 'email', 'subject', 'body'], // 000 §7
  ministry: ['contact', 'email', 'subject', 'body'], // 002 §10
  nqs: ['full_name', 'iin', 'login', 'phone', 'email', 'subject', 'body'], // 004 annex
  access: ['full_name', 'iin', 'position', 'phone', 'email', 'access_action', 'access_systems', 'access_functions', 'access_basis'], // 002 annex 1
};
/** A request filed by a specialist from a phone call or letter about a ministry system carries 002 §9. */
const SPECIALIST_MINISTRY: Field[] = ['full_name', 'position', 'login', 'phone', 'email', 'body'];

const LIMITS: Partial<Record<Field, number>> = {
  subject: 200, body: 5000, contact: 300, full_name: 200, login: 100, position: 200, access_functions: 1000, access_basis: 500,
};

/** Fields each form may carry; anything else sent is refused rather than silently dropped or stored. */
const ALLOWED: Record<RequestForm, Field[]> = {
  enbek: ['contact', 'email', 'subject', 'body', 'phone', 'full_name'],
  ministry: ['contact', 'email', 'subject', 'body', 'phone', 'full_name', 'position', 'login'],
  nqs: ['full_name', 'iin', 'login', 'phone', 'email', 'subject', 'body', 'contact'],
  access: ['full_name', 'iin', 'login', 'position', 'phone', 'email', 'subject', 'body', 'contact', 'access_action', 'access_systems', 'access_functions', 'access_basis'],
};

// Control characters other than tab and newlines, lone surrogates, and bidi overrides have no place in a report.
// eslint-disable-next-line no-control-regex
const BAD_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function formOf(system: SystemEntry | undefined, kind: RequestKind): RequestForm | undefined {
  if (kind === 'access') return 'access';
  return system?.form;
}

/** Validate and normalize intake. `systems` is the configured catalogue. */
export function validateIntake(raw: RawIntake, systems: readonly SystemEntry[], channel: Channel):
  { ok: true; value: Intake } | { ok: false; errors: FieldError[]; lang: Lang } {
  const errors: FieldError[] = [];
  const lang: Lang = raw.lang === 'kk' ? 'kk' : 'ru';
  if (raw.lang !== undefined && raw.lang !== 'ru' && raw.lang !== 'kk') errors.push({ field: 'lang', problem: 'invalid_choice' });
  let kind: RequestKind = 'trouble';
  if (raw.kind === 'access') kind = 'access';
  else if (raw.kind !== undefined && raw.kind !== 'trouble') errors.push({ field: 'kind', problem: 'invalid_choice' });

  const text = (field: Field, v: unknown): string | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') return void errors.push({ field, problem: 'invalid_text' }), null;
    const t = field === 'body' ? v.replace(/\r\n?/g, '\n').trim() : v.trim();
    if (t === '') return null;
    if (BAD_TEXT.test(t) || (field !== 'body' && field !== 'access_functions' && /\n/.test(t))) {
      return void errors.push({ field, problem: 'invalid_text' }), null;
    }
    const max = LIMITS[field];
    if (max !== undefined && [...t].length > max) return void errors.push({ field, problem: 'too_long' }), null;
    return t;
  };

  // An access request may name its systems only in access.systems: the first one is then its system.
  const accessRaw = (typeof raw.access === 'object' && raw.access !== null ? raw.access : {}) as Record<string, unknown>;
  const firstAccess = Array.isArray(accessRaw.systems) ? accessRaw.systems[0] : typeof accessRaw.systems === 'string' ? accessRaw.systems.split(',')[0] : undefined;
  const systemId = typeof raw.system === 'string' ? raw.system.trim() : kind === 'access' && typeof firstAccess === 'string' ? firstAccess.trim() : '';
  const system = systems.find((s) => s.id === systemId);
  if (!systemId) errors.push({ field: 'system', problem: 'required' });
  else if (!system) errors.push({ field: 'system', problem: 'unknown_system' });
  const form = formOf(system, kind) ?? 'enbek';

  const access = accessRaw;
  const values: Partial<Record<Field, string | null>> = {
    subject: text('subject', raw.subject),
    body: text('body', raw.body),
    contact: text('contact', raw.contact),
    full_name: text('full_name', raw.full_name),
    login: text('login', raw.login),
    position: text('position', raw.position),
    access_functions: text('access_functions', access.functions),
    access_basis: text('access_basis', access.basis),
  };

  // IIN: always a string of 12 digits (leading zeros are real); a number is refused, never coerced.
  let iin: string | null = null;
  if (raw.iin !== undefined && raw.iin !== null && raw.iin !== '') {
    const c = typeof raw.iin === 'string' ? checkIin(raw.iin.trim()) : ({ ok: false, problem: 'format' } as const);
    if (c.ok) iin = (raw.iin as string).trim();
    else errors.push({ field: 'iin', problem: c.problem === 'checksum' ? 'iin_checksum' : c.problem === 'format' ? 'iin_format' : 'iin_date' });
  }
  values.iin = iin;

  let phone: string | null = null;
  if (raw.phone !== undefined && raw.phone !== null && raw.phone !== '') {
    phone = typeof raw.phone === 'string' ? normalizeKzPhone(raw.phone) ?? null : null;
    if (!phone) errors.push({ field: 'phone', problem: 'phone' });
  }
  values.phone = phone;

  let email: string | null = null;
  if (raw.email !== undefined && raw.email !== null && raw.email !== '') {
    email = typeof raw.email === 'string' ? normalizeEmail(raw.email) ?? null : null;
    if (!email) errors.push({ field: 'email', problem: 'email' });
  }
  values.email = email;

  let accessDetails: AccessDetails | null = null;
  if (kind === 'access') {
    const action = access.action;
    if (action !== undefined && action !== 'grant' && action !== 'block' && action !== 'change') errors.push({ field: 'access_action', problem: 'invalid_choice' });
    values.access_action = typeof action === 'string' && ['grant', 'block', 'change'].includes(action) ? action : null;
    const list = Array.isArray(access.systems) ? access.systems : typeof access.systems === 'string' ? access.systems.split(',') : [];
    const ids = [...new Set(list.map((s) => (typeof s === 'string' ? s.trim() : '')).filter(Boolean))];
    if (ids.some((id) => !systems.some((s) => s.id === id)) || list.length > 20) errors.push({ field: 'access_systems', problem: 'unknown_system' });
    values.access_systems = ids.length ? ids.join(',') : null;
    if (values.access_action && values.access_systems && values.access_functions && values.access_basis) {
      accessDetails = { action: values.access_action as AccessAction, systems: ids, functions: values.access_functions, basis: values.access_basis };
    }
  } else if (raw.access !== undefined) {
    errors.push({ field: 'access_action', problem: 'not_allowed' });
  }

  // Without a known system the form is unknown: only the system and the values' own formats are reported.
  if (system || kind === 'access') {
    const required = requiredFields(form, channel);
    const failed = new Set(errors.map((e) => e.field));
    for (const f of required) if (!values[f] && !failed.has(f)) errors.push({ field: f, problem: 'required' });
    // A field the form does not ask for is refused: the form stores only what it needs (personal data law).
    const allowed = new Set(ALLOWED[form]);
    for (const f of ['iin', 'login', 'position', 'full_name', 'phone', 'contact'] as const) {
      if (values[f] && !allowed.has(f) && !required.has(f)) errors.push({ field: f, problem: 'not_allowed' });
    }
  }
  if (errors.length) return { ok: false, errors, lang };

  return {
    ok: true,
    value: {
      kind, form, system: systemId, lang, channel,
      subject: values.subject ?? (kind === 'access' ? `${accessDetails!.action}: ${accessDetails!.systems.join(', ')}` : ''),
      body: values.body ?? '',
      contact: values.contact ?? null,
      email: email!,
      phone, full_name: values.full_name ?? null, iin, login: values.login ?? null, position: values.position ?? null,
      access: accessDetails,
    },
  };
}

/** The fields the public page shows for a form, in order. */
export function formFields(form: RequestForm): Field[] {
  return ALLOWED[form].filter((f) => !f.startsWith('access_'));
}

export function requiredFields(form: RequestForm, channel: Channel): Set<Field> {
  const r = new Set(REQUIRED[form]);
  if (form === 'ministry' && channel === 'specialist') for (const f of SPECIALIST_MINISTRY) r.add(f);
  return r;
}
