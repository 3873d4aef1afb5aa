import winston from 'winston';
import { maskDeep } from './mask.ts';

// JSON-line logs. Personal data never reaches a log line whole: e-mail addresses, phone numbers
// and IINs are masked in the message and in every string of the metadata (src/mask.ts, the one masking function).

export interface Logger {
  debug(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

export { maskDeep, maskPersonal } from './mask.ts';

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
