import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KuzetError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { isStoreUnavailable } from '../store/unavailable.ts';

// Every refusal is JSON {error: {code, message, ...}} with a 4xx. A 500 means a bug and is logged loudly.

export interface ErrorBody {
  error: { code: string; message: string; field?: string; details?: unknown };
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).type('application/json').send({ error: { code, message, ...extra } });
}

export function installErrorHandling(app: FastifyInstance, log: Logger, onError?: (code: string) => void): void {
  app.setNotFoundHandler((req, reply) => {
    onError?.('KZ_ERR_NOT_FOUND');
    return sendError(reply, 404, 'KZ_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`);
  });
  app.setErrorHandler((err: FastifyError | KuzetError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof KuzetError) {
      onError?.(err.code);
      if (err.statusCode >= 500 && err.code !== 'KZ_ERR_OVERLOADED' && err.code !== 'KZ_ERR_STORE') log.error('request failed', { err, url: req.url });
      if (err.code === 'KZ_ERR_OVERLOADED' || err.code === 'KZ_ERR_STORE') reply.header('retry-after', '5');
      return sendError(reply, err.statusCode, err.code, err.message, err.details ? { details: err.details } : {});
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const first = fe.validation[0];
      const where = fe.validationContext ?? 'body';
      const path = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '';
      const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const extra = (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
      const field = [path, missing ?? extra].filter(Boolean).join('.') || where;
      const msg = missing
        ? `${where}: missing required field "${field}"`
        : extra
          ? `${where}: unknown field "${field}"`
          : `${where}.${field}: ${first?.message ?? 'invalid'}`;
      onError?.('KZ_ERR_VALIDATION');
      return sendError(reply, 400, 'KZ_ERR_VALIDATION', msg, { field });
    }
    const status = fe.statusCode ?? 500;
    if (status === 413) {
      onError?.('KZ_ERR_PAYLOAD_TOO_LARGE');
      return sendError(reply, 413, 'KZ_ERR_PAYLOAD_TOO_LARGE', fe.message);
    }
    if (status === 415) {
      onError?.('KZ_ERR_UNSUPPORTED_MEDIA');
      return sendError(reply, 415, 'KZ_ERR_UNSUPPORTED_MEDIA', fe.message);
    }
    if (status >= 400 && status < 500) {
      onError?.('KZ_ERR_VALIDATION');
      const field = (fe as { field?: unknown }).field;
      return sendError(reply, status, fe.code?.startsWith('KZ_') ? fe.code : 'KZ_ERR_VALIDATION', fe.message, typeof field === 'string' ? { field } : {});
    }
    if (isStoreUnavailable(err)) {
      // The store is out of reach: nothing was stored, the client may send it again.
      onError?.('KZ_ERR_STORE');
      reply.header('retry-after', '5');
      return sendError(reply, 503, 'KZ_ERR_STORE', 'the store is unavailable; nothing was stored, retry later');
    }
    onError?.('KZ_ERR_INTERNAL');
    log.error('unhandled error', { err: { message: fe.message, stack: fe.stack, code: fe.code }, url: req.url, method: req.method });
    return sendError(reply, 500, 'KZ_ERR_INTERNAL', 'internal error; it has been logged');
  });
}

/** Max nesting of JSON bodies: deeper input is refused before any recursive walk can overflow the stack. */
export const MAX_JSON_DEPTH = 64;

export function jsonDepthExceeds(buf: Buffer, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inStr) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inStr = false;
    } else if (c === 0x22) inStr = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode strictly: invalid UTF-8 is refused, never silently replaced. */
export function decodeUtf8(buf: Buffer): string | null {
  try {
    return utf8.decode(buf);
  } catch {
    return null;
  }
}

/** Why a string cannot be stored as text (PostgreSQL refuses U+0000 and unpaired UTF-16 surrogates), or null. */
export function textProblem(s: string): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return 'contains a NUL character (\\u0000)';
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return 'contains an unpaired UTF-16 surrogate';
    }
    if (c >= 0xdc00 && c <= 0xdfff) return 'contains an unpaired UTF-16 surrogate';
  }
  return null;
}

/**
 * The first string (key or value) in a parsed JSON value that cannot be stored as text, with its path
 * (`body.labels.team`, `body[3].summary`); null when every string is clean. Depth is bounded by the parsers.
 */
export function findBadText(value: unknown, path: string): { field: string; problem: string } | null {
  if (typeof value === 'string') {
    const p = textProblem(value);
    return p ? { field: path, problem: p } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBadText(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return null;
  }
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [k, v] of Object.entries(value)) {
      const kp = textProblem(k);
      const name = kp ? JSON.stringify(k).slice(1, -1).slice(0, 40) : k;
      if (kp) return { field: `${path}.${name}`, problem: `field name ${kp}` };
      const bad = findBadText(v, `${path}.${k}`);
      if (bad) return bad;
    }
  }
  return null;
}

/** Go's zero time and the ISO years PostgreSQL and JavaScript both hold: 0001–9999 (year 0000 is refused). */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** RFC 3339 date-time that kuzet can store: real calendar date, year 0001–9999; what ajv's "date-time" format checks here. */
export function storableDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]!;
  if (d > days) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return Number.isFinite(Date.parse(s.replace(' ', 'T')));
}
