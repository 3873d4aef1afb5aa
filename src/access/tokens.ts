import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Queryable } from '../store/store.ts';

// API tokens: shown once at creation, stored only as a SHA-256 hash. Roles, least to most:
// viewer (read), reporter (file incidents and requests), soc (push alerts), oncall (ack, resolve), admin (all).

export const ROLES = ['viewer', 'reporter', 'soc', 'oncall', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Which roles may do what. A role not listed for an action is refused with 403. */
const GRANTS: Record<Role, readonly Role[]> = {
  viewer: ['viewer', 'reporter', 'soc', 'oncall', 'admin'],
  reporter: ['reporter', 'oncall', 'admin'],
  soc: ['soc', 'admin'],
  oncall: ['oncall', 'admin'],
  admin: ['admin'],
};

/** Does a token of role `have` satisfy an endpoint that requires `need`? */
export const allows = (have: Role, need: Role): boolean => GRANTS[need].includes(have);

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

export interface Principal {
  id: number | null;
  name: string;
  role: Role;
}

const PREFIX = 'kzt_';
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export async function createToken(q: Queryable, clock: Clock, name: string, role: Role, createdBy: string): Promise<{ id: number; token: string }> {
  const token = PREFIX + randomBytes(24).toString('base64url');
  const r = await q.query<{ id: number }>(
    'INSERT INTO api_tokens (name, role, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    [name, role, hashToken(token), new Date(clock.now()).toISOString(), createdBy],
  );
  return { id: Number(r.rows[0]!.id), token };
}

export async function revokeToken(q: Queryable, clock: Clock, id: number): Promise<boolean> {
  const r = await q.query('UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, new Date(clock.now()).toISOString()]);
  return r.rowCount > 0;
}

export async function listTokens(q: Queryable) {
  const r = await q.query<{ id: number; name: string; role: Role; created_at: Date; revoked_at: Date | null; last_used_at: Date | null }>(
    'SELECT id, name, role, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY id',
  );
  return r.rows;
}

/** Resolve a presented token to its principal, or null. A cache keeps the hot path off the store. */
/** The bootstrap admin token is as strong as a generated one or refused: at least this many characters. */
export const BOOTSTRAP_TOKEN_MIN = 32;

export function bootstrapTokenProblems(token: string): Array<{ path: Array<string | number>; message: string }> {
  if (!token || token.length >= BOOTSTRAP_TOKEN_MIN) return [];
  return [{
    path: ['auth', 'bootstrap_token'],
    message: `the bootstrap admin token (KUZET_ADMIN_TOKEN) has ${token.length} characters; at least ${BOOTSTRAP_TOKEN_MIN} are required (e.g. the output of \`openssl rand -hex 32\`), or leave it empty`,
  }];
}

export class TokenVerifier {
  #cache = new Map<string, { p: Principal | null; until: number }>();

  constructor(
    private readonly q: Queryable,
    private readonly clock: Clock,
    private readonly bootstrap: string,
    private readonly ttlMs = 10_000,
  ) {}

  async verify(token: string): Promise<Principal | null> {
    if (!token || token.length > 256) return null;
    if (this.bootstrap && safeEqual(token, this.bootstrap)) return { id: null, name: 'bootstrap', role: 'admin' };
    const h = hashToken(token);
    const now = this.clock.now();
    const hit = this.#cache.get(h);
    if (hit && hit.until > now) return hit.p;
    const r = await this.q.query<{ id: number; name: string; role: Role }>(
      'SELECT id, name, role FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL',
      [h],
    );
    const row = r.rows[0];
    const p = row ? { id: Number(row.id), name: row.name, role: row.role } : null;
    if (p) void this.q.query('UPDATE api_tokens SET last_used_at = $2 WHERE id = $1', [p.id, new Date(now).toISOString()]).catch(() => {});
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(h, { p, until: now + this.ttlMs });
    return p;
  }

  forget(): void {
    this.#cache.clear();
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
