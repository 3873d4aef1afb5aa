// The one masking function for personal data leaving kuzet: API answers for roles outside
// `requests.personal_data_roles`, /metrics label values, log lines, and the pages sent to on-call people.
// It recognises
//   - IINs: 12 digits in one run (always), or split by spaces, dashes or dots into groups ("850115 300129",
//     "8501-1530-0129") when the check digit and the date are right;
//   - phone numbers of the +7 plan in the usual spellings ("+7 701 234 56 78", "8 (701) 234-56-78", "87012345678",
//     "+7 7172 55 66 77"), and Kazakhstan numbers written with separators but without the prefix ("(701) 234-56-78");
//   - e-mail addresses (Latin, Cyrillic and Kazakh domains);
// and, whatever the reader, the secret part of an acknowledge link (those exist only in the message sent to its
// person). Masked forms keep enough to tell values apart on a screen: 850115*****9, +7 701 *** ** 78, a***@***.

const EMAIL = /([\p{L}\p{N}._%+!#$&'/=?^`{|}~-])[\p{L}\p{N}._%+!#$&'/=?^`{|}~-]*@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+(?:\p{L}{2,}|xn--[a-z0-9-]+)(?![\p{L}\p{N}-])/giu;
/** +7, 7 or 8, then ten digits with separators or brackets anywhere between them ("+7 7172 55-66-77" too). */
const PHONE = /(?<![\d*])(\+7|[78])((?:[\s().\u2010-\u2015-]{0,3}\d){10})(?!\d)/g;
/** Without the country prefix ("(701) 234-56-78", "701 234 56 78"): only when written with separators. */
const NATIONAL = /(?<![\d*+\p{L}])(\(?7\d\d\)?(?:[\s.\u2010-\u2015-]{0,3}\d){7})(?!\d)/gu;
/** Runs of digit groups joined by at most three separator characters (space, no-break space, dashes, dots). */
const DIGIT_RUN = /(?<!\d)\d+(?:[ \t\u00a0\u202f.\u2010-\u2015-]{1,3}\d+)*(?!\d)/g;
const GROUP = /\d+/g;
/** `/ack/<incident>.<who>.<nonce>.<expiry>.<mac>` and the older four-part form: the link without its secret. */
const ACK = /(\/ack\/)[0-9]{1,15}\.[A-Za-z0-9_.-]{8,400}/g;

const W2 = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/** True when 12 digits have the IIN/BIN check digit and an IIN's shape (a real month and day, century digit 0–6). */
export function looksLikeIin(d: string): boolean {
  if (!/^\d{12}$/.test(d)) return false;
  const m = Number(d.slice(2, 4));
  const day = Number(d.slice(4, 6));
  if (m < 1 || m > 12 || day < 1 || day > 31 || Number(d[6]) > 6) return false;
  const x = [...d.slice(0, 11)].map(Number);
  let s = x.reduce((acc, v, i) => acc + v * (i + 1), 0) % 11;
  if (s === 10) s = x.reduce((acc, v, i) => acc + v * W2[i]!, 0) % 11;
  return s !== 10 && s === Number(d[11]);
}

const iinMask = (d: string) => `${d.slice(0, 6)}*****${d.slice(11)}`;

function maskIins(text: string): string {
  return text.replace(DIGIT_RUN, (run) => {
    const groups = [...run.matchAll(GROUP)].map((g) => ({ at: g.index, digits: g[0] }));
    if (groups.length === 1) return run.length === 12 ? iinMask(run) : run;
    let out = '';
    let pos = 0;
    for (let i = 0; i < groups.length; i++) {
      let digits = '';
      let j = i;
      while (j < groups.length && digits.length < 12) digits += groups[j++]!.digits;
      if (digits.length !== 12 || (j - i > 1 && !looksLikeIin(digits))) continue;
      const start = groups[i]!.at;
      const end = groups[j - 1]!.at + groups[j - 1]!.digits.length;
      out += run.slice(pos, start) + iinMask(digits);
      pos = end;
      i = j - 1;
    }
    return out + run.slice(pos);
  });
}

const phoneMask = (cc: string, d: string) => `${cc ? `${cc} ` : ''}${d.slice(0, 3)} *** ** ${d.slice(8)}`;

/** Mask personal data (and acknowledge-link secrets) in free text. Idempotent. */
export function maskPersonal(text: string): string {
  return maskIins(text.replace(ACK, '$1…').replace(EMAIL, (_m, first: string) => `${first}***@***`))
    .replace(PHONE, (_m, cc: string, rest: string) => phoneMask(cc, rest.replace(/\D/g, '')))
    .replace(NATIONAL, (m: string) => (/^\d+$/.test(m) ? m : phoneMask('', m.replace(/\D/g, ''))));
}

/** Remove only the secret of acknowledge links (for records every role may read whole, such as audit targets). */
export function redactAckTokens(text: string): string {
  return text.replace(ACK, '$1…');
}

/** `maskPersonal` over every string of a JSON-like value; keys stay, numbers and booleans stay. */
export function maskDeep(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return maskPersonal(v);
  if (v === null || typeof v !== 'object') return v;
  if (depth > 100) return '[…]';
  if (v instanceof Error) return { message: maskPersonal(v.message), name: v.name, code: (v as { code?: unknown }).code };
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, depth + 1));
  if (Buffer.isBuffer(v)) return v;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return maskDeep((v as { toJSON(): unknown }).toJSON(), depth + 1);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = maskDeep(x, depth + 1);
  return out;
}

/** Mask the label values of a Prometheus text exposition (names, help texts and sample values stay). */
export function maskMetricsText(text: string): string {
  return text
    .split('\n')
    .map((line) => (line.startsWith('#') || !line.includes('{') ? line : line.replace(/="((?:[^"\\]|\\.)*)"/g, (_m, v: string) => `="${maskPersonal(v)}"`)))
    .join('\n');
}
