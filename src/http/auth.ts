import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { allows, type Principal, type Role, type TokenVerifier } from '../access/tokens.ts';
import { sendError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export type Authorize = (role: Role) => preHandlerHookHandler;

/** Bearer tokens (and HTTP basic auth with the token as password, as Prometheus can send). */
export function tokenFrom(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h || h.length > 1024) return null;
  const m = /^(Bearer|Basic)\s+(\S+)$/i.exec(h);
  if (!m) return null;
  if (m[1]!.toLowerCase() === 'bearer') return m[2]!;
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : null;
}

const AUTH_HOOK = Symbol('kuzet.authorize');

/** Whether a hook is a token check made by makeAuthorize (the server runs those first, before the body is read). */
export const isAuthHook = (h: unknown): boolean => typeof h === 'function' && (h as unknown as Record<symbol, unknown>)[AUTH_HOOK] === true;

/**
 * `session`: a console session may read (GET) what its role may, so the console's links to API documents (reports)
 * download in the browser; anything that changes state still needs a token.
 */
export function makeAuthorize(verifier: TokenVerifier, session?: (req: FastifyRequest) => Promise<Principal | null>): Authorize {
  return (role) =>
    Object.assign(async function authorize(req: FastifyRequest, reply: FastifyReply) {
      const token = tokenFrom(req);
      let p = token ? await verifier.verify(token) : null;
      if (!p && !token && session && (req.method === 'GET' || req.method === 'HEAD')) p = await session(req);
      if (!p) {
        reply.header('www-authenticate', 'Bearer realm="kuzet"');
        return sendError(reply, 401, 'KZ_ERR_UNAUTHENTICATED', token ? 'the API token is not valid' : 'an API token is required (Authorization: Bearer …)');
      }
      req.principal = p;
      if (!allows(p.role, role)) {
        return sendError(reply, 403, 'KZ_ERR_FORBIDDEN', `role "${p.role}" may not do this; it needs "${role}"`);
      }
    }, { [AUTH_HOOK]: true });
}

export const actorOf = (req: FastifyRequest): string => (req.principal ? `token:${req.principal.name}` : 'anonymous');
