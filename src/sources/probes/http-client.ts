import { readFileSync } from 'node:fs';
import { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pipeline, Readable, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';
import type { CookieJar } from './cookies.ts';
import { PROBE_DEFAULTS } from './schema.ts';
import type { HttpRequestSpec, TlsClientOptions } from './types.ts';

// One HTTP exchange for the http and flow probes, through shared keep-alive undici Agents.
// Hazards handled here, each turned into a precise reason instead of a throw or a hang:
// - the timeout covers connect, headers AND body (undici's bodyTimeout is per chunk; a trickle defeats it);
// - the body is read by streaming and abandoned at the size cap (a 2 GB body never sits in memory);
// - a body sent with Content-Encoding gzip, deflate or br is decompressed as a stream, and the size cap applies
//   to the decoded bytes: a gzip bomb stops at the cap with memory flat;
// - text is decoded with a fatal decoder (Node otherwise replaces invalid UTF-8 bytes silently).

export interface HttpExchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Decoded text; undefined for a HEAD request or a non-text content type. */
  text?: string;
  /** Body bytes after Content-Encoding is undone. */
  bytes: number;
  durationMs: number;
  finalUrl: string;
  redirects: number;
}

export type ExchangeOutcome = { ok: true; exchange: HttpExchange } | { ok: false; reason: string; durationMs: number };

/** Shared dispatchers: one per TLS option set, so a probe with verification off never shares sockets with one that verifies. */
export class HttpAgents {
  #agents = new Map<string, Agent>();

  constructor(private readonly opts: { lookup?: LookupFunction; connectionsPerOrigin?: number } = {}) {}

  get(tls: TlsClientOptions | undefined): Dispatcher {
    const key = JSON.stringify(tls ?? {});
    let agent = this.#agents.get(key);
    if (!agent) {
      const connect: Record<string, unknown> = { rejectUnauthorized: tls?.verify !== false };
      if (tls?.ca_file) connect.ca = readFileSync(tls.ca_file);
      if (tls?.cert_file) connect.cert = readFileSync(tls.cert_file);
      if (tls?.key_file) connect.key = readFileSync(tls.key_file);
      // No SNI for an IP address (RFC 6066; Node warns): the certificate is still checked against it.
      if (tls?.servername && !isIP(tls.servername)) connect.servername = tls.servername;
      if (this.opts.lookup) connect.lookup = this.opts.lookup;
      agent = new Agent({
        connections: this.opts.connectionsPerOrigin ?? 32,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        // The probe's own deadline (an AbortSignal) is the real limit; these only stop leaks.
        headersTimeout: 300_000,
        bodyTimeout: 300_000,
        connect,
      });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    const all = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(all.map((a) => a.close().catch(() => a.destroy())));
  }
}

const TEXTUAL = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded)|image\/svg)/i;

export interface ExchangeOptions {
  agents: HttpAgents;
  signal: AbortSignal;
  timeoutMs: number;
  jar?: CookieJar;
  userAgent?: string;
}

/** Perform one request (following redirects per the spec). Never throws. */
export async function exchange(spec: HttpRequestSpec, o: ExchangeOptions): Promise<ExchangeOutcome> {
  const t0 = performance.now();
  const elapsed = () => Math.round((performance.now() - t0) * 100) / 100;
  let phase: 'connecting' | 'reading the body' = 'connecting';
  let received = 0;
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    return { ok: false, reason: `invalid URL ${JSON.stringify(spec.url)}`, durationMs: 0 };
  }
  const maxRedirects = spec.follow_redirects === false ? 0 : spec.follow_redirects === true || spec.follow_redirects === undefined ? PROBE_DEFAULTS.followRedirects : spec.follow_redirects;
  const cap = spec.max_body_bytes ?? PROBE_DEFAULTS.maxBodyBytes;
  let method = (spec.method ?? 'GET').toUpperCase();
  let body = requestBody(spec);
  let dispatcher: Dispatcher;
  try {
    dispatcher = o.agents.get(spec.tls);
  } catch (err) {
    return { ok: false, reason: `cannot set up TLS: ${(err as Error).message}`, durationMs: 0 };
  }
  // Credentials the probe was given are for the origin it names: once a redirect leaves that origin (another scheme,
  // host or port), authorization, x-api-key and cookie headers are not sent again, as curl and browsers do.
  const origin = url.origin;
  let crossed = false;
  try {
    for (let redirects = 0; ; redirects++) {
      phase = 'connecting';
      received = 0;
      const headers: Record<string, string> = { 'user-agent': o.userAgent ?? 'kuzet-probe/0.1', 'accept-encoding': ACCEPT_ENCODING, ...(crossed ? withoutCredentials(spec.headers) : spec.headers ?? {}) };
      // A probe that names its own Accept-Encoding (any case) sends only that one.
      if (spec.headers && Object.keys(spec.headers).some((h) => h !== 'accept-encoding' && h.toLowerCase() === 'accept-encoding')) delete headers['accept-encoding'];
      if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = body.type;
      const cookie = o.jar?.header(url);
      if (cookie) headers.cookie = cookie;
      const res = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body?.data,
        signal: o.signal,
        dispatcher,
      });
      o.jar?.store(url, res.headers['set-cookie']);
      const location = res.headers.location;
      const isRedirect = res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string';
      if (isRedirect && maxRedirects > 0 && redirects >= maxRedirects) {
        discard(res.body);
        return { ok: false, reason: `too many redirects (more than ${maxRedirects}, last to ${new URL(location, url).toString()})`, durationMs: elapsed() };
      }
      if (isRedirect && redirects < maxRedirects) {
        await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
        url = new URL(location, url);
        if (url.origin !== origin) crossed = true;
        if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      phase = 'reading the body';
      const codings = contentCodings(res.headers['content-encoding']);
      const unsupported = codings.find((c) => !DECODERS.has(c));
      if (unsupported !== undefined) {
        discard(res.body);
        return { ok: false, reason: `unsupported Content-Encoding "${unsupported}" (kuzet decodes ${[...DECODERS.keys()].join(', ')})`, durationMs: elapsed() };
      }
      const wire = { bytes: 0 };
      const source = codings.length ? decodedBody(res.body, codings, wire) : res.body;
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of source as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (received > cap) {
            discard(source);
            discard(res.body);
            const from = codings.length ? ` of ${codings.join(', ')}-decoded body, from ${wire.bytes} bytes received` : '';
            return { ok: false, reason: `body larger than ${cap} bytes (stopped reading at ${received}${from})`, durationMs: elapsed() };
          }
          chunks.push(chunk);
        }
      } catch (err) {
        if (!(err instanceof DecodeError) || o.signal.aborted) throw err;
        discard(res.body);
        return { ok: false, reason: `body is not valid ${err.coding} (${err.message}; ${wire.bytes} bytes received)`, durationMs: elapsed() };
      }
      const raw = Buffer.concat(chunks, received);
      const type = String(res.headers['content-type'] ?? '');
      let text: string | undefined;
      if (method !== 'HEAD' && (type === '' || TEXTUAL.test(type))) {
        const charset = /charset=["']?([\w.:-]+)/i.exec(type)?.[1] ?? 'utf-8';
        let decoder: InstanceType<typeof TextDecoder>;
        try {
          decoder = new TextDecoder(charset, { fatal: true });
        } catch {
          return { ok: false, reason: `unsupported charset "${charset}"`, durationMs: elapsed() };
        }
        try {
          text = decoder.decode(raw);
        } catch {
          return { ok: false, reason: `body is not valid ${charset} (${received} bytes; invalid byte sequence)`, durationMs: elapsed() };
        }
      }
      return {
        ok: true,
        exchange: { status: res.statusCode, headers: res.headers, text, bytes: received, durationMs: elapsed(), finalUrl: url.toString(), redirects },
      };
    }
  } catch (err) {
    if (o.signal.aborted) {
      const where = phase === 'connecting' ? 'waiting for the response headers' : `reading the body (${received} bytes received)`;
      return { ok: false, reason: `timed out after ${o.timeoutMs} ms ${where}`, durationMs: elapsed() };
    }
    return { ok: false, reason: networkReason(err, url), durationMs: elapsed() };
  }
}

const ACCEPT_ENCODING = 'gzip, deflate, br';

class DecodeError extends Error {
  constructor(
    readonly coding: string,
    message: string,
  ) {
    super(message);
  }
}

/** The codings to undo, in the order to undo them (the header lists them in the order applied); identity dropped. */
function contentCodings(header: string | string[] | undefined): string[] {
  const all = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
  return all
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity')
    .reverse();
}

/** A zlib header (RFC 1950): compression method 8 and a check sum that makes the first two bytes a multiple of 31. */
const looksZlib = (b: Buffer) => b.length >= 2 && (b[0]! & 0x0f) === 8 && ((b[0]! << 8) | b[1]!) % 31 === 0;

// Streams hold at most one 16 KiB output chunk ahead of the reader (zlib waits for it), so memory stays flat.
const DECODERS = new Map<string, (first: Buffer) => Transform>([
  ['gzip', () => zlib.createGunzip()],
  ['x-gzip', () => zlib.createGunzip()],
  // "deflate" is the zlib format (RFC 9110), but some servers send raw deflate; the first bytes tell them apart.
  ['deflate', (first) => (looksZlib(first) ? zlib.createInflate() : zlib.createInflateRaw())],
  ['br', () => zlib.createBrotliDecompress()],
]);

/** The body with its codings undone, as a stream; `wire.bytes` counts what came over the network. */
function decodedBody(body: Readable, codings: string[], wire: { bytes: number }): Readable {
  const it = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  async function* counted(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        wire.bytes += n.value.length;
        yield n.value;
      }
    } finally {
      await it.return?.();
    }
  }
  let stage: Readable = Readable.from(counted(), { objectMode: false });
  // Each stage peeks at its first chunk so raw deflate can be told from zlib deflate.
  for (const coding of codings) stage = decodeStage(stage, coding);
  return stage;
}

function decodeStage(input: Readable, coding: string): Readable {
  const make = DECODERS.get(coding)!;
  const it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  async function* run(): AsyncGenerator<Buffer> {
    const first = await it.next();
    if (first.done) return; // no body at all (HEAD, 204, 304): nothing to decode
    const z = make(first.value);
    let upstream: unknown;
    const rest = Readable.from(
      (async function* () {
        yield first.value;
        try {
          for (;;) {
            const n = await it.next();
            if (n.done) return;
            yield n.value;
          }
        } catch (err) {
          upstream = err;
          throw err;
        }
      })(),
      { objectMode: false },
    );
    pipeline(rest, z, () => {});
    try {
      for await (const chunk of z as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      // Errors from upstream (a reset, the deadline, an inner decoder) pass through; this decoder's own are named.
      if (upstream !== undefined) throw upstream;
      if (err instanceof DecodeError) throw err;
      throw new DecodeError(coding, (err as Error).message);
    } finally {
      z.destroy();
      rest.destroy();
      await it.return?.();
    }
  }
  return Readable.from(run(), { objectMode: false });
}

const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'x-api-key', 'cookie']);

function withoutCredentials(headers: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase())));
}

/** Drop a response body we will not read; destroying it emits an error nobody else listens for. */
function discard(body: { on(event: 'error', fn: () => void): unknown; destroy(): unknown }): void {
  body.on('error', () => {});
  body.destroy();
}

function requestBody(spec: HttpRequestSpec): { data: string; type: string } | undefined {
  if (spec.form) return { data: new URLSearchParams(spec.form).toString(), type: 'application/x-www-form-urlencoded' };
  if (spec.json !== undefined) return { data: JSON.stringify(spec.json), type: 'application/json' };
  if (spec.body !== undefined) return { data: spec.body, type: 'text/plain; charset=utf-8' };
  return undefined;
}

const CODES: Record<string, (u: URL) => string> = {
  ECONNREFUSED: (u) => `connection refused by ${u.host}`,
  ECONNRESET: (u) => `connection reset by ${u.host}`,
  EPIPE: (u) => `connection closed by ${u.host} while sending`,
  ENOTFOUND: (u) => `DNS lookup failed for ${u.hostname}: no such host`,
  EAI_AGAIN: (u) => `DNS lookup failed for ${u.hostname}: temporary failure (EAI_AGAIN)`,
  EHOSTUNREACH: (u) => `host ${u.hostname} unreachable`,
  ENETUNREACH: (u) => `network unreachable for ${u.hostname}`,
  CERT_HAS_EXPIRED: (u) => `TLS certificate of ${u.hostname} has expired`,
  DEPTH_ZERO_SELF_SIGNED_CERT: (u) => `TLS certificate of ${u.hostname} is self-signed`,
  SELF_SIGNED_CERT_IN_CHAIN: (u) => `TLS certificate chain of ${u.hostname} ends in an untrusted self-signed root`,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: (u) => `TLS certificate of ${u.hostname} cannot be verified (incomplete chain)`,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: (u) => `TLS certificate of ${u.hostname} has an unknown issuer`,
  CERT_NOT_YET_VALID: (u) => `TLS certificate of ${u.hostname} is not yet valid`,
  ERR_TLS_CERT_ALTNAME_INVALID: (u) => `TLS certificate does not name ${u.hostname}`,
  UND_ERR_SOCKET: (u) => `connection to ${u.host} closed unexpectedly`,
  UND_ERR_CONNECT_TIMEOUT: (u) => `connect to ${u.host} timed out`,
  UND_ERR_HEADERS_OVERFLOW: () => 'response headers too large',
};

/** A precise reason from a network error (undici wraps the system error in `cause`). */
export function networkReason(err: unknown, url: URL): string {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CODES[code]) return CODES[code](url);
    // undici's parser errors often carry no code: the name is what tells them apart.
    if ((e as { name?: unknown }).name === 'HTTPParserError') return `${url.host} did not answer with valid HTTP: ${(e as Error).message}`;
  }
  const e = err as { code?: string; message?: string };
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? e.code;
  return `request to ${url.host} failed: ${cause?.message ?? e.message ?? String(err)}${code ? ` (${code})` : ''}`;
}
