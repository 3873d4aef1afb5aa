import { invalid, notFound } from '../errors.ts';
import type { Queryable } from '../store/store.ts';
import type { EscalationConfig, Matchers } from './config.ts';
import { matchesLabels } from './match.ts';

// Ad-hoc silences: label matchers with a start, an expiry, an author and a reason. A silenced incident
// is still recorded (and its escalation row says why); only paging is held until the silence ends.

export interface Silence {
  id: number | null; // null: from config
  matchers: Matchers;
  startsAt: number;
  endsAt: number;
  author: string;
  reason: string;
  expiredAt: number | null;
}

interface Row {
  id: number;
  matchers: Matchers;
  starts_at: Date | string;
  ends_at: Date | string;
  author: string;
  reason: string;
  expired_at: Date | string | null;
}

const toSilence = (r: Row): Silence => ({
  id: Number(r.id),
  matchers: r.matchers,
  startsAt: new Date(r.starts_at).getTime(),
  endsAt: new Date(r.ends_at).getTime(),
  author: r.author,
  reason: r.reason,
  expiredAt: r.expired_at === null ? null : new Date(r.expired_at).getTime(),
});

export interface NewSilence {
  matchers: Matchers;
  startsAt?: number;
  endsAt: number;
  author: string;
  reason: string;
}

export async function createSilence(q: Queryable, s: NewSilence, now: number): Promise<Silence> {
  const starts = s.startsAt ?? now;
  if (!Object.keys(s.matchers).length) throw invalid('a silence needs at least one matcher');
  if (s.endsAt <= starts) throw invalid('a silence must end after it starts');
  if (s.endsAt <= now) throw invalid('a silence must end in the future');
  const r = await q.query<Row>(
    `INSERT INTO silences (matchers, starts_at, ends_at, author, reason, created_at) VALUES ($1::jsonb, $2, $3, $4, $5, $6)
     RETURNING id, matchers, starts_at, ends_at, author, reason, expired_at`,
    [JSON.stringify(s.matchers), new Date(starts).toISOString(), new Date(s.endsAt).toISOString(), s.author, s.reason, new Date(now).toISOString()],
  );
  return toSilence(r.rows[0]!);
}

/** End a silence now. */
export async function expireSilence(q: Queryable, id: number, now: number): Promise<Silence> {
  const r = await q.query<Row>(
    `UPDATE silences SET expired_at = $2 WHERE id = $1 AND expired_at IS NULL RETURNING id, matchers, starts_at, ends_at, author, reason, expired_at`,
    [id, new Date(now).toISOString()],
  );
  if (!r.rows[0]) throw notFound(`active silence ${id}`);
  // Incidents this silence held are looked at again on the next sweep instead of at the old expiry.
  await q.query(
    `UPDATE timers SET due_at = $2 WHERE subject_kind = 'incident' AND kind = 'silence_end' AND state = 'pending' AND due_at > $2
        AND payload->>'escalation' IN (SELECT id::text FROM escalations WHERE subject_kind = 'incident' AND state = 'silenced' AND held_by->>'silence' = $1)`,
    [String(id), new Date(now).toISOString()],
  );
  return toSilence(r.rows[0]);
}

/** Silences in force at `now` (stored and configured). */
export async function activeSilences(q: Queryable, cfg: EscalationConfig, now: number): Promise<Silence[]> {
  const iso = new Date(now).toISOString();
  const r = await q.query<Row>(
    `SELECT id, matchers, starts_at, ends_at, author, reason, expired_at FROM silences
      WHERE starts_at <= $1 AND ends_at > $1 AND expired_at IS NULL ORDER BY id`,
    [iso],
  );
  const fromConfig = (cfg.silences ?? [])
    .map<Silence>((s) => ({
      id: null,
      matchers: s.matchers,
      startsAt: s.starts_at ? Date.parse(s.starts_at) : 0,
      endsAt: Date.parse(s.ends_at),
      author: s.author,
      reason: s.reason,
      expiredAt: null,
    }))
    .filter((s) => s.startsAt <= now && now < s.endsAt);
  return [...r.rows.map(toSilence), ...fromConfig];
}

export async function listSilences(q: Queryable, includeExpired: boolean, now: number): Promise<Silence[]> {
  const r = await q.query<Row>(
    `SELECT id, matchers, starts_at, ends_at, author, reason, expired_at FROM silences
      ${includeExpired ? '' : 'WHERE ends_at > $1 AND expired_at IS NULL'} ORDER BY id DESC LIMIT 500`,
    includeExpired ? [] : [new Date(now).toISOString()],
  );
  return r.rows.map(toSilence);
}

export function silencing(silences: Silence[], labels: Record<string, string>): Silence | null {
  return silences.find((s) => matchesLabels(s.matchers, labels)) ?? null;
}
