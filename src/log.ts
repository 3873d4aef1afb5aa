import winston from 'winston';

// JSON-line logs. Personal data never reaches a log line whole: e-mail addresses, phone numbers
// and 12-digit IINs are masked in the message and in every string of the metadata.

export interface Logger {
  debug(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}/g;
const IIN = /(?<!\d)(\d{6})\d{5}(\d)(?!\d)/g;
const PHONE = /(?<![\d*])(\+?[78])[\s(-]*(\d{3})[\s)-]*\d{3}[\s-]*\d{2}[\s-]*(\d{2})(?!\d)/g;

/** Mask personal data in free text: a***@***, 850115*****9, +7 701 *** ** 67. */
export function maskPersonal(text: string): string {
  return text
    .replace(EMAIL, (_m, first: string) => `${first}***@***`)
    .replace(IIN, (_m, head: string, last: string) => `${head}*****${last}`)
    .replace(PHONE, (_m, cc: string, op: string, tail: string) => `${cc} ${op} *** ** ${tail}`);
}

export function maskDeep(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return maskPersonal(v);
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (v instanceof Error) return { message: maskPersonal(v.message), name: v.name, code: (v as { code?: unknown }).code };
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = maskDeep(x, depth + 1);
  return out;
}

const mask = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'timestamp') continue;
    (info as Record<string, unknown>)[key] = maskDeep((info as Record<string, unknown>)[key]);
  }
  return info;
});

export function createLogger(opts: { level?: string; stream?: NodeJS.WritableStream; silent?: boolean } = {}): Logger {
  const w = winston.createLogger({
    level: opts.level ?? 'info',
    silent: opts.silent ?? false,
    format: winston.format.combine(mask(), winston.format.timestamp(), winston.format.json()),
    transports: [opts.stream ? new winston.transports.Stream({ stream: opts.stream }) : new winston.transports.Console({ stderrLevels: [] })],
  });
  return wrap(w);
}

function wrap(w: winston.Logger): Logger {
  return {
    debug: (m, meta) => void w.debug(m, meta),
    info: (m, meta) => void w.info(m, meta),
    warn: (m, meta) => void w.warn(m, meta),
    error: (m, meta) => void w.error(m, meta),
    child: (meta) => wrap(w.child(meta)),
  };
}

/** A logger that drops everything (tests). */
export const nullLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => nullLogger };
