import { request } from 'undici';

// The CLI's incident commands talk to a running kuzet over its API, as an on-call engineer would
// from a laptop: the embedded store belongs to the daemon alone.

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function api<T>(base: string, token: string | undefined, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res;
  try {
    res = await request(new URL(path, base), {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach kuzet at ${base}: ${(err as Error).message}`);
  }
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(res.statusCode, `kuzet answered ${res.statusCode} with a body that is not JSON`);
  }
  if (res.statusCode >= 400) {
    const e = (json as { error?: { message?: string } }).error;
    throw new ApiError(res.statusCode, `${res.statusCode}: ${e?.message ?? text}`);
  }
  return json as T;
}
