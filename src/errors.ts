// Coded errors, one registry. A code is never reused for another meaning.

export const ERRORS = {
  KZ_ERR_CONFIG: 'configuration is invalid',
  KZ_ERR_VALIDATION: 'request failed validation',
  KZ_ERR_UNAUTHENTICATED: 'missing or invalid API token',
  KZ_ERR_FORBIDDEN: 'the token role does not allow this',
  KZ_ERR_NOT_FOUND: 'no such resource',
  KZ_ERR_CONFLICT: 'the resource is not in a state that allows this',
  KZ_ERR_PAYLOAD_TOO_LARGE: 'request body too large',
  KZ_ERR_UNSUPPORTED_MEDIA: 'unsupported content type',
  KZ_ERR_OVERLOADED: 'kuzet is overloaded; retry later',
  KZ_ERR_RATE_LIMITED: 'too many submissions from this client; retry later',
  KZ_ERR_STORE: 'the store is unavailable',
  KZ_ERR_TIMEOUT: 'the request body did not arrive in time',
  KZ_ERR_INTERNAL: 'internal error',
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class KuzetError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code],
    readonly statusCode = 500,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'KuzetError';
  }
}

export const notFound = (what: string) => new KuzetError('KZ_ERR_NOT_FOUND', `${what} not found`, 404);
export const conflict = (msg: string) => new KuzetError('KZ_ERR_CONFLICT', msg, 409);
export const invalid = (msg: string, details?: unknown) => new KuzetError('KZ_ERR_VALIDATION', msg, 400, details);
