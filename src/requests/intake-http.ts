import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KuzetError } from '../errors.ts';
import { checkFile, type CheckedFile } from './attachments.ts';
import type { RequestsConfig } from './config.ts';
import type { Lang, RawIntake } from './forms.ts';
import { intakeMessage, type IntakeProblem } from './messages.ts';

// Reading intake bodies strictly: UTF-8 is checked before decoding (Node would silently replace bad bytes), JSON
// nesting is bounded before parsing, multipart files are read into memory under a size cap and checked by their
// bytes. Nothing is written anywhere here.

export const MAX_JSON_BYTES = 256 * 1024;
const MAX_DEPTH = 16;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A refusal of the whole request (not of one field), worded in the user's language by the route. */
export class IntakeError extends Error {
  constructor(readonly problem: IntakeProblem, readonly statusCode: number, readonly vars: Record<string, string | number> = {}) {
    super(problem);
    this.name = 'IntakeError';
  }
}

export function strictUtf8(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new IntakeError('bad_encoding', 400);
  }
}

/** Deepest nesting of arrays/objects in a JSON text, counted without parsing (so a hostile body cannot recurse). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) max = Math.max(max, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/** Install strict JSON and urlencoded parsers in `scope` (an encapsulated plugin context). */
export function installParsers(scope: FastifyInstance): void {
  for (const type of ['application/json', 'application/x-www-form-urlencoded']) {
    if (scope.hasContentTypeParser(type)) scope.removeContentTypeParser(type);
  }
  scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_JSON_BYTES }, (_req, body, done) => {
    try {
      const text = strictUtf8(body as Buffer);
      if (jsonDepth(text) > MAX_DEPTH) throw new IntakeError('too_deep', 400);
      try {
        done(null, text.trim() === '' ? undefined : JSON.parse(text));
      } catch {
        throw new IntakeError('malformed', 400);
      }
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: MAX_JSON_BYTES }, (_req, body, done) => {
    try {
      done(null, parseUrlEncoded(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** application/x-www-form-urlencoded with strict UTF-8; a repeated key is malformed (every field is single). */
export function parseUrlEncoded(body: Buffer): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const text = body.toString('latin1');
  if (text === '') return out;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = decodeComponent(eq < 0 ? '' : pair.slice(eq + 1));
    if (key in out) throw new IntakeError('malformed', 400);
    out[key] = value;
  }
  return out;
}

function decodeComponent(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 43) bytes.push(32);
    else if (c === 37) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new IntakeError('malformed', 400);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(c);
  }
  return strictUtf8(Buffer.from(bytes));
}

const TOP_FIELDS = new Set(['kind', 'system', 'lang', 'subject', 'body', 'contact', 'email', 'phone', 'full_name', 'iin', 'login', 'position', 'access', 'channel']);
const FLAT_ACCESS = ['access_action', 'access_systems', 'access_functions', 'access_basis'] as const;

export interface ReadIntake {
  raw: RawIntake & { channel?: unknown };
  files: CheckedFile[];
  /** Fields the user typed, for refilling the page on an error. */
  echo: Record<string, string>;
}

/** Turn flat form fields (access_action, …) into the intake shape. */
function fromFlat(fields: Record<string, string>): ReadIntake['raw'] {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (TOP_FIELDS.has(k) && k !== 'access') raw[k] = v;
    else if (!(FLAT_ACCESS as readonly string[]).includes(k)) throw new IntakeError('malformed', 400, { field: k });
  }
  if (FLAT_ACCESS.some((k) => fields[k] !== undefined)) {
    raw.access = { action: fields.access_action, systems: fields.access_systems, functions: fields.access_functions, basis: fields.access_basis };
  }
  return raw;
}

/** Read JSON, urlencoded or multipart intake. Throws IntakeError for a request-level refusal. */
export async function readIntake(req: FastifyRequest, config: RequestsConfig): Promise<ReadIntake> {
  if (req.isMultipart?.()) return readMultipart(req, config);
  const ct = String(req.headers['content-type'] ?? '').toLowerCase();
  const form = ct.startsWith('application/x-www-form-urlencoded');
  if (!form && !ct.startsWith('application/json')) throw new IntakeError('unsupported_media', 415);
  const body = req.body;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) throw new IntakeError('malformed', 400);
  if (form) {
    const fields = body as Record<string, string>;
    return { raw: fromFlat(fields), files: [], echo: { ...fields } };
  }
  for (const k of Object.keys(body)) if (!TOP_FIELDS.has(k)) throw new IntakeError('malformed', 400, { field: k });
  return { raw: body as RawIntake, files: [], echo: {} };
}

async function readMultipart(req: FastifyRequest, config: RequestsConfig): Promise<ReadIntake> {
  const a = config.attachments;
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const files: CheckedFile[] = [];
  const parts = req.parts({
    preservePath: true,
    // Field values arrive as latin1 (bytes unchanged) and are re-decoded strictly.
    defCharset: 'latin1',
    limits: { fileSize: a.max_bytes, files: a.max_files, fields: 40, fieldSize: 20_000, parts: 50, fieldNameSize: 100, headerPairs: 100 },
  });
  let problem: IntakeError | undefined;
  for await (const part of parts) {
    if (part.type === 'file') {
      // Read (or drain) every file so the error the user sees is the first problem, not a broken connection.
      const bytes = await part.toBuffer();
      // busboy has already decoded the name as UTF-8; a bad byte shows as U+FFFD, which fileNameProblem refuses.
      const name = part.filename ?? '';
      if (name === '' && bytes.length === 0) continue; // a file input left empty
      if (problem) continue;
      if (part.fieldname !== 'attachment') problem = new IntakeError('malformed', 400, { field: part.fieldname });
      else {
        const checked = checkFile(name, bytes, a.types);
        if (typeof checked === 'string') problem = new IntakeError(checked, checked === 'file_name' ? 400 : 415);
        else files.push(checked);
      }
    } else {
      if (part.valueTruncated || part.fieldnameTruncated) throw new IntakeError('too_large', 413, { max: Math.floor(a.max_bytes / 1048576) });
      const key = strictUtf8(Buffer.from(part.fieldname, 'latin1'));
      if (key in fields) throw new IntakeError('malformed', 400, { field: key });
      fields[key] = strictUtf8(Buffer.from(String(part.value ?? ''), 'latin1'));
      // Remember the language as soon as it arrives: a later refusal (a file too large) is worded in it.
      if (key === 'lang' && (fields[key] === 'ru' || fields[key] === 'kk')) seenLang.set(req, fields[key]);
    }
  }
  if (problem) throw problem;
  return { raw: fromFlat(fields), files, echo: { ...fields } };
}

/** The user's language: from the body, the query, then Accept-Language; Russian by default. */
const seenLang = new WeakMap<FastifyRequest, Lang>();

export function langOf(req: FastifyRequest, body?: unknown): Lang {
  const b = body as { lang?: unknown } | undefined;
  if (b && (b.lang === 'kk' || b.lang === 'ru')) return b.lang;
  const seen = seenLang.get(req);
  if (seen) return seen;
  const q = req.query as { lang?: unknown } | undefined;
  if (q && (q.lang === 'kk' || q.lang === 'ru')) return q.lang;
  const al = String(req.headers['accept-language'] ?? '').toLowerCase();
  const first = al.split(',')[0]?.trim() ?? '';
  return first.startsWith('kk') ? 'kk' : 'ru';
}

export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** Map any error met while taking in a request to a precise 4xx in the user's language (500 only for real faults). */
export function refusalOf(err: unknown, lang: Lang, config: RequestsConfig): Refusal | undefined {
  const maxMb = Math.floor(config.attachments.max_bytes / 1048576);
  const types = config.attachments.types.join(', ');
  const mk = (status: number, code: string, p: IntakeProblem, vars: Record<string, string | number> = {}): Refusal =>
    ({ status, code, message: intakeMessage(p, lang, { max: maxMb, types, ...vars }) });
  if (err instanceof IntakeError) {
    const code = ({ 413: 'KZ_ERR_PAYLOAD_TOO_LARGE', 415: 'KZ_ERR_UNSUPPORTED_MEDIA', 429: 'KZ_ERR_RATE_LIMITED', 507: 'KZ_ERR_STORE' } as Record<number, string>)[err.statusCode] ?? 'KZ_ERR_VALIDATION';
    const r = mk(err.statusCode, code, err.problem, err.vars);
    if (err.problem === 'malformed' && err.vars.field) r.message += ` (${String(err.vars.field).slice(0, 60)})`;
    return r;
  }
  if (err instanceof KuzetError) return { status: err.statusCode, code: err.code, message: err.message };
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return mk(413, 'KZ_ERR_PAYLOAD_TOO_LARGE', 'too_large');
    case 'FST_FILES_LIMIT':
      return mk(413, 'KZ_ERR_PAYLOAD_TOO_LARGE', 'too_many_files', { max: config.attachments.max_files });
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return mk(413, 'KZ_ERR_PAYLOAD_TOO_LARGE', 'malformed');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return mk(415, 'KZ_ERR_UNSUPPORTED_MEDIA', 'unsupported_media');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return mk(400, 'KZ_ERR_VALIDATION', 'malformed');
    default:
  }
  // busboy's own complaints about a broken multipart body
  if (typeof e.message === 'string' && /multipart|boundary|part terminated|unexpected end of form|malformed/i.test(e.message)) {
    return mk(400, 'KZ_ERR_VALIDATION', 'malformed');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, code: 'KZ_ERR_VALIDATION', message: e.message ?? 'bad request' };
  }
  return undefined;
}

export function sendJsonError(reply: FastifyReply, r: Refusal, fields?: unknown): FastifyReply {
  return reply.code(r.status).type('application/json; charset=utf-8').send({ error: { code: r.code, message: r.message, ...(fields ? { fields } : {}) } });
}
