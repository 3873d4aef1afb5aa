import { maskPersonal } from '../log.ts';
import type { Role } from './config.ts';
import type { AccessDetails, Channel, Lang, RequestForm, RequestKind } from './forms.ts';
import { maskEmail, maskIin, maskPhone } from './identity.ts';

// Request rows and the views built from them. Personal data leaves this module whole only for a role in
// `personal_data_roles`; every other reader (lists for viewers, exports, logs) gets it masked.

export type RequestStatus = 'received' | 'acknowledged' | 'in_progress' | 'answered' | 'closed';

export const REQUEST_COLUMNS = `id, number, kind, form, system, lang, channel, filed_by, subject, body, full_name, iin, login,
  position, phone, email, contact, access, personal_erased_at, status, received_at, acknowledged_at, answered_at, closed_at,
  answer, decision, d0::text AS d0, clock_start_at, due_rule, extended_to, due_at, warn_at, deadline_version, incident_id, updated_at`;

type Ts = Date | string;
type TsN = Ts | null;

export interface RequestRow {
  id: number;
  number: string;
  kind: RequestKind;
  form: RequestForm;
  system: string;
  lang: Lang;
  channel: Channel;
  filed_by: string | null;
  subject: string | null;
  body: string | null;
  full_name: string | null;
  iin: string | null;
  login: string | null;
  position: string | null;
  phone: string | null;
  email: string | null;
  contact: string | null;
  access: AccessDetails | null;
  personal_erased_at: TsN;
  status: RequestStatus;
  received_at: Ts;
  acknowledged_at: TsN;
  answered_at: TsN;
  closed_at: TsN;
  answer: string | null;
  decision: 'granted' | 'refused' | null;
  d0: string;
  clock_start_at: Ts;
  due_rule: string;
  extended_to: number | null;
  due_at: Ts;
  warn_at: Array<{ fraction: number; at: string }>;
  deadline_version: number;
  incident_id: number | null;
  updated_at: Ts;
}

export interface PublicRequest {
  id: number;
  number: string;
  kind: RequestKind;
  form: RequestForm;
  system: string;
  lang: Lang;
  channel: Channel;
  filedBy: string | null;
  status: RequestStatus;
  subject: string | null;
  body: string | null;
  fullName: string | null;
  iin: string | null;
  login: string | null;
  position: string | null;
  phone: string | null;
  email: string | null;
  contact: string | null;
  access: AccessDetails | null;
  personalData: 'whole' | 'masked' | 'erased';
  receivedAt: string;
  acknowledgedAt: string | null;
  answeredAt: string | null;
  closedAt: string | null;
  answer: string | null;
  decision: 'granted' | 'refused' | null;
  d0: string;
  dueRule: string;
  extendedTo: number | null;
  dueAt: string;
  warnAt: Array<{ fraction: number; at: string }>;
  /** Answered after the deadline, or still open past it. */
  overdue: boolean;
  incidentId: number | null;
}

export const iso = (t: TsN): string | null => (t === null ? null : new Date(t).toISOString());
export const ms = (t: Ts): number => new Date(t).getTime();

const maskName = (v: string | null): string | null =>
  v === null ? null : v.split(/\s+/).filter(Boolean).map((w) => `${[...w][0]}***`).join(' ');

export function toPublic(row: RequestRow, role: Role, personalRoles: readonly Role[], now: number): PublicRequest {
  const erased = row.personal_erased_at !== null;
  const whole = personalRoles.includes(role);
  const m = <T>(v: T | null, f: (x: T) => string): string | T | null => (v === null || whole ? v : f(v));
  const end = row.answered_at ? ms(row.answered_at) : now;
  return {
    id: Number(row.id),
    number: row.number,
    kind: row.kind,
    form: row.form,
    system: row.system,
    lang: row.lang,
    channel: row.channel,
    filedBy: row.filed_by,
    status: row.status,
    subject: whole || row.subject === null ? row.subject : maskPersonal(row.subject),
    body: whole || row.body === null ? row.body : maskPersonal(row.body),
    fullName: m(row.full_name, (v) => maskName(v)!) as string | null,
    iin: m(row.iin, maskIin) as string | null,
    login: m(row.login, (v) => `${[...v][0]}***`) as string | null,
    position: m(row.position, maskPersonal) as string | null,
    phone: m(row.phone, maskPhone) as string | null,
    email: m(row.email, maskEmail) as string | null,
    contact: m(row.contact, maskPersonal) as string | null,
    access: whole || row.access === null ? row.access : { ...row.access, functions: maskPersonal(row.access.functions ?? ''), basis: maskPersonal(row.access.basis ?? '') },
    personalData: erased ? 'erased' : whole ? 'whole' : 'masked',
    receivedAt: iso(row.received_at)!,
    acknowledgedAt: iso(row.acknowledged_at),
    answeredAt: iso(row.answered_at),
    closedAt: iso(row.closed_at),
    answer: whole || row.answer === null ? row.answer : maskPersonal(row.answer),
    decision: row.decision,
    d0: row.d0,
    dueRule: row.due_rule,
    extendedTo: row.extended_to,
    dueAt: iso(row.due_at)!,
    warnAt: row.warn_at,
    overdue: end > ms(row.due_at),
    incidentId: row.incident_id === null ? null : Number(row.incident_id),
  };
}
