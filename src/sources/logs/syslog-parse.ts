// Syslog message parsing: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`) and the BSD format
// of RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, with or without HOST, as local senders and
// rsyslog's forwarding templates write it). A message without a valid <PRI> is garbage: the caller counts it.

export interface SyslogMessage {
  facility: number;
  severity: number;
  format: 'rfc5424' | 'rfc3164';
  /** ms since the epoch when the header carried a full time (RFC 5424); null otherwise. */
  timestamp: number | null;
  host: string | null;
  app: string | null;
  procId: string | null;
  msgId: string | null;
  structuredData: string | null;
  msg: string;
}

export const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export const FACILITY_NAMES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const BSD_TIME = new RegExp(`^(?:${MONTHS}) [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} `);
const TAG = /^([^\s:[\]]{1,64})(?:\[([^\]\s]{1,32})\])?:(?: |$)/;

/** Parse one message (framing already removed). Returns null for garbage. */
export function parseSyslog(raw: string): SyslogMessage | null {
  let s = raw;
  // rsyslog keeps the trailing newline inside an octet-counted frame; local senders may lead with spaces.
  while (s.length > 0 && (s.endsWith('\n') || s.endsWith('\r') || s.endsWith('\0'))) s = s.slice(0, -1);
  s = s.replace(/^[ \t]+/, '');
  const pri = /^<([0-9]{1,3})>/.exec(s);
  if (!pri) return null;
  const p = Number(pri[1]);
  if (p > 191 || (pri[1]!.length > 1 && pri[1]!.startsWith('0'))) return null;
  const facility = p >> 3;
  const severity = p & 7;
  const rest = s.slice(pri[0].length);
  if (/^[1-9][0-9]{0,2} /.test(rest)) {
    const m = parse5424(rest);
    if (m) return { facility, severity, ...m };
  }
  return { facility, severity, ...parse3164(rest) };
}

function parse5424(rest: string): Omit<SyslogMessage, 'facility' | 'severity'> | null {
  const fields: string[] = [];
  let i = rest.indexOf(' ') + 1; // after VERSION
  for (let k = 0; k < 5; k++) {
    const sp = rest.indexOf(' ', i);
    if (sp === -1) {
      if (k < 4) return null;
      fields.push(rest.slice(i));
      i = rest.length;
      break;
    }
    fields.push(rest.slice(i, sp));
    i = sp + 1;
  }
  const [ts, host, app, procId, msgId] = fields as [string, string, string, string, string];
  if (fields.length < 5) return null;
  let timestamp: number | null = null;
  if (ts !== '-') {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/.test(ts)) return null;
    timestamp = Date.parse(ts);
    if (!Number.isFinite(timestamp)) return null;
  }
  // STRUCTURED-DATA: "-" or one or more [id param="value"...] with \" \] \\ escapes in values.
  let sd: string | null = null;
  if (rest[i] === '-') {
    i += 1;
  } else if (rest[i] === '[') {
    const start = i;
    while (rest[i] === '[') {
      let inQuote = false;
      i++;
      for (; i < rest.length; i++) {
        const c = rest[i];
        if (inQuote) {
          if (c === '\\') i++;
          else if (c === '"') inQuote = false;
        } else if (c === '"') inQuote = true;
        else if (c === ']') break;
      }
      if (i >= rest.length) return null;
      i++;
    }
    sd = rest.slice(start, i);
  } else if (i < rest.length) {
    return null;
  }
  const msg = msg5424(rest.slice(i));
  const nil = (v: string) => (v === '-' ? null : v);
  return { format: 'rfc5424', timestamp, host: nil(host), app: nil(app), procId: nil(procId), msgId: nil(msgId), structuredData: sd, msg };
}

/**
 * MSG of an RFC 5424 message, given what follows STRUCTURED-DATA. The SP that separates MSG from
 * STRUCTURED-DATA is not part of MSG, nor is the BOM that marks it UTF-8. rsyslog's forwarding templates
 * (`RSYSLOG_SyslogProtocol23Format` and the like) write its `msg` property there, and for a message
 * received in the BSD format that property still holds the space that followed "TAG:" (so the wire reads
 * `- -  text`, and `- -  \ufefftext` with a BOM). That one space belongs to the BSD header, as it does in
 * parse3164, so it goes too; any further whitespace is the sender's and is kept.
 */
function msg5424(after: string): string {
  let msg = after;
  if (msg.startsWith(' ')) msg = msg.slice(1);
  if (msg.startsWith(' ')) msg = msg.slice(1);
  if (msg.startsWith('\ufeff')) msg = msg.slice(1);
  return msg;
}

function parse3164(rest: string): Omit<SyslogMessage, 'facility' | 'severity'> {
  let s = rest;
  const base = { format: 'rfc3164' as const, timestamp: null, msgId: null, structuredData: null };
  const t = BSD_TIME.exec(s);
  if (t) s = s.slice(t[0].length);
  else if (/^\d{4}-\d{2}-\d{2}T\S+ /.test(s)) s = s.slice(s.indexOf(' ') + 1); // RFC 3339 time in a BSD header
  s = s.replace(/^ +/, '');
  // Either "TAG: msg" (no host, a local sender) or "HOST TAG: msg".
  let tag = TAG.exec(s);
  if (tag) return { ...base, host: null, app: tag[1]!, procId: tag[2] ?? null, msg: s.slice(tag[0].length) };
  const sp = s.indexOf(' ');
  if (t && sp > 0) {
    const host = s.slice(0, sp);
    const after = s.slice(sp + 1).replace(/^ +/, '');
    tag = TAG.exec(after);
    if (tag) return { ...base, host, app: tag[1]!, procId: tag[2] ?? null, msg: after.slice(tag[0].length) };
    return { ...base, host, app: null, procId: null, msg: after };
  }
  return { ...base, host: null, app: null, procId: null, msg: s };
}

/** Labels a syslog message gives the rules (and the signals they emit). */
export function syslogLabels(m: SyslogMessage): Record<string, string> {
  const out: Record<string, string> = {
    facility: FACILITY_NAMES[m.facility] ?? String(m.facility),
    syslog_severity: SEVERITY_NAMES[m.severity] ?? String(m.severity),
  };
  if (m.host) out.host = m.host.slice(0, 255);
  if (m.app) out.app = m.app.slice(0, 255);
  return out;
}
