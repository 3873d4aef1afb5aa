import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal, Role } from '../access/tokens.ts';
import type { Clock } from '../clock.ts';
import type { Queryable } from '../store/store.ts';

// Console sessions: a sign-in with an API token is exchanged for a random session id in an httpOnly, SameSite=Strict
// cookie. Only the id's SHA-256 is stored, with the token's name and role and a per-session CSRF token that every
// form carries. A session ends at sign-out, at expiry, or when its token is revoked.

export const SESSION_COOKIE = 'kuzet_session';
export const SESSION_TTL_MS = 12 * 3_600_000;

export interface Session {
  principal: Principal;
  csrf: string;
  expiresAt: number;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
export const randomId = () => randomBytes(32).toString('base64url');

export class Sessions {
  constructor(
    private readonly q: Queryable,
    private readonly clock: Clock,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  async create(p: Principal, remote: string): Promise<{ id: string; csrf: string; expiresAt: number }> {
    const id = randomId();
    const csrf = randomId();
    const now = this.clock.now();
    const expiresAt = now + this.ttlMs;
    await this.q.query('DELETE FROM console_sessions WHERE expires_at <= $1', [new Date(now).toISOString()]);
    await this.q.query(
      `INSERT INTO console_sessions (id_hash, token_id, name, role, csrf, created_at, expires_at, remote) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [sha(id), p.id, p.name, p.role, csrf, new Date(now).toISOString(), new Date(expiresAt).toISOString(), remote.slice(0, 100)],
    );
    return { id, csrf, expiresAt };
  }

  async get(id: string | undefined): Promise<Session | null> {
    if (!id || id.length > 100) return null;
    const r = await this.q.query<{ token_id: number | null; name: string; role: Role; csrf: string; expires_at: Date | string }>(
      `SELECT s.token_id, s.name, s.role, s.csrf, s.expires_at FROM console_sessions s
         LEFT JOIN api_tokens t ON t.id = s.token_id
        WHERE s.id_hash = $1 AND s.expires_at > $2 AND (s.token_id IS NULL OR (t.id IS NOT NULL AND t.revoked_at IS NULL))`,
      [sha(id), new Date(this.clock.now()).toISOString()],
    );
    const row = r.rows[0];
    if (!row) return null;
    return {
      principal: { id: row.token_id === null ? null : Number(row.token_id), name: row.name, role: row.role },
      csrf: row.csrf,
      expiresAt: new Date(row.expires_at).getTime(),
    };
  }

  async destroy(id: string | undefined): Promise<void> {
    if (id) await this.q.query('DELETE FROM console_sessions WHERE id_hash = $1', [sha(id)]);
  }
}

export function sameToken(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || !a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookie that carries a session; `secure` when the console is served over https. */
export function sessionCookie(id: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}
