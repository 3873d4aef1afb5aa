// Is this error the store being out of reach (server stopped or restarting, connection cut, refused,
// timed out), as opposed to a bad statement? Such errors are answered 503 with Retry-After, never 500:
// the caller's request was not stored and is safe to send again.

const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

const MESSAGES = [
  'Connection terminated',
  'connection terminated',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'the database system is',
  'terminating connection',
  'server closed the connection',
];

export function isStoreUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      // SQLSTATE classes 08 (connection exception), 57P0x (operator intervention: shutdown, terminated), 53 (insufficient resources).
      if (/^08/.test(code) || /^57P0[1-4]$/.test(code) || /^53/.test(code)) return true;
      if (NODE_CODES.has(code)) return true;
    }
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === 'string' && MESSAGES.some((m) => msg.includes(m))) return true;
  }
  return false;
}
