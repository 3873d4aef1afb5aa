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
      return sendError(reply, status, fe.code?.startsWith('KZ_') ? fe.code : 'KZ_ERR_VALIDATION', fe.message);
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
