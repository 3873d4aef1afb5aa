// IIN and BIN (Appendix B), Kazakhstan phone numbers and e-mail addresses. Validators return a reason code, never
// throw; the HTTP layer turns the code into a message in the user's language. An IIN is personal data: only
// `maskIin` output may reach a log.

export type IdProblem = 'format' | 'checksum' | 'date' | 'century' | 'entity';

export type IinCheck =
  | { ok: true; birthDate: string; sex: 'male' | 'female' }
  | { ok: false; problem: IdProblem };

export type BinCheck = { ok: true; registered: string } | { ok: false; problem: IdProblem };

const W2 = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/** The check digit of the first 11 digits, or undefined when both passes give 10 (no valid number). */
export function checkDigit(first11: string): number | undefined {
  const d = [...first11].map(Number);
  let s = d.reduce((acc, x, i) => acc + x * (i + 1), 0) % 11;
  if (s === 10) s = d.reduce((acc, x, i) => acc + x * W2[i]!, 0) % 11;
  return s === 10 ? undefined : s;
}

function checksumOk(v: string): boolean {
  const c = checkDigit(v.slice(0, 11));
  return c !== undefined && c === Number(v[11]);
}

/** A 12-digit IIN: YYMMDD, century-and-sex digit 1–6, 4-digit serial, check digit. */
export function checkIin(value: string): IinCheck {
  if (typeof value !== 'string' || !/^\d{12}$/.test(value)) return { ok: false, problem: 'format' };
  const cs = Number(value[6]);
  if (cs < 1 || cs > 6) return { ok: false, problem: 'century' };
  const century = cs <= 2 ? 1800 : cs <= 4 ? 1900 : 2000;
  const y = century + Number(value.slice(0, 2));
  const m = Number(value.slice(2, 4));
  const d = Number(value.slice(4, 6));
  const t = new Date(Date.UTC(y, m - 1, d));
  if (m < 1 || m > 12 || d < 1 || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return { ok: false, problem: 'date' };
  if (!checksumOk(value)) return { ok: false, problem: 'checksum' };
  return { ok: true, birthDate: t.toISOString().slice(0, 10), sex: cs % 2 === 1 ? 'male' : 'female' };
}

/** A 12-digit BIN: YYMM of registration, entity type 4/5/6, attribute 0–3, 5-digit serial, check digit. */
export function checkBin(value: string): BinCheck {
  if (typeof value !== 'string' || !/^\d{12}$/.test(value)) return { ok: false, problem: 'format' };
  const m = Number(value.slice(2, 4));
  if (m < 1 || m > 12) return { ok: false, problem: 'date' };
  if (!'456'.includes(value[4]!) || !'0123'.includes(value[5]!)) return { ok: false, problem: 'entity' };
  if (!checksumOk(value)) return { ok: false, problem: 'checksum' };
  return { ok: true, registered: `${value.slice(0, 2)}-${value.slice(2, 4)}` };
}

/** 850115*****9 */
export function maskIin(value: string): string {
  return /^\d{12}$/.test(value) ? `${value.slice(0, 6)}*****${value.slice(11)}` : '************';
}

/**
 * A Kazakhstan number (+7 7xx …; Russia shares +7 with other area codes) in any usual spelling — "+7 701 123 45 67",
 * "8 (701) 123-45-67", "87011234567" — normalized to "+77011234567"; undefined when it is not one.
 */
export function normalizeKzPhone(value: string): string | undefined {
  if (typeof value !== 'string' || value.length > 32) return undefined;
  if (!/^[\d\s()+-]+$/.test(value)) return undefined;
  const trimmed = value.trim();
  const digits = trimmed.replace(/\D/g, '');
  let national: string;
  if (trimmed.startsWith('+')) {
    if (!digits.startsWith('7') || digits.length !== 11) return undefined;
    national = digits.slice(1);
  } else if (digits.length === 11 && (digits[0] === '8' || digits[0] === '7')) {
    national = digits.slice(1);
  } else {
    return undefined;
  }
  return /^7\d{9}$/.test(national) ? `+7${national}` : undefined;
}

/** +7 701 *** ** 67 */
export function maskPhone(value: string): string {
  const n = normalizeKzPhone(value);
  return n ? `+7 ${n.slice(2, 5)} *** ** ${n.slice(10)}` : '***';
}

/**
 * A pragmatic address check: one @, a local part of printable ASCII without spaces, a domain of labels (letters,
 * also Cyrillic and Kazakh, digits, hyphens) ending in a letter-only top-level label. At most 254 characters.
 */
export function normalizeEmail(value: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (v.length > 254 || v.length < 3) return undefined;
  const at = v.lastIndexOf('@');
  if (at < 1 || v.indexOf('@') !== at) return undefined;
  const local = v.slice(0, at);
  const domain = v.slice(at + 1);
  if (local.length > 64 || !/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(local)) return undefined;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2) return undefined;
  for (const l of labels) {
    if (!/^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u.test(l)) return undefined;
  }
  if (!/^(?:\p{L}{2,}|xn--[a-z0-9-]+)$/iu.test(labels[labels.length - 1]!)) return undefined;
  return `${local}@${domain.toLowerCase()}`;
}

/** a***@*** */
export function maskEmail(value: string): string {
  return value.length > 0 ? `${value[0]}***@***` : '***';
}
