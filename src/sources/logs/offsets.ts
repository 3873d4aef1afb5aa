import type { Queryable } from '../../store/store.ts';

// Persisted read positions of log inputs (migration 020). A checkpoint is written in the same transaction
// as, or strictly after, the signals derived from the lines before it.

export interface OffsetRow {
  fileId: string;
  path: string;
  fpLen: number;
  fpHash: string;
  offset: number;
  cursor?: string | null;
}

export interface Checkpoint {
  input: string;
  upserts: OffsetRow[];
  /** file_ids no longer read (rotated away and drained, or gone). */
  deletes: string[];
}

export const emptyCheckpoint = (input: string): Checkpoint => ({ input, upserts: [], deletes: [] });

export async function loadOffsets(q: Queryable, input: string): Promise<OffsetRow[]> {
  const r = await q.query<{ file_id: string; path: string; fp_len: number; fp_hash: string; byte_offset: number | string; cursor: string | null }>(
    'SELECT file_id, path, fp_len, fp_hash, byte_offset, cursor FROM log_offsets WHERE input = $1 ORDER BY file_id',
    [input],
  );
  return r.rows.map((x) => ({ fileId: x.file_id, path: x.path, fpLen: x.fp_len, fpHash: x.fp_hash, offset: Number(x.byte_offset), cursor: x.cursor }));
}

/** Write a checkpoint; `now` is the clock's time. */
export async function saveCheckpoint(q: Queryable, cp: Checkpoint, now: number): Promise<void> {
  if (cp.upserts.length > 0) {
    await q.query(
      `INSERT INTO log_offsets (input, file_id, path, fp_len, fp_hash, byte_offset, cursor, updated_at)
       SELECT $1, r->>'fileId', r->>'path', (r->>'fpLen')::integer, r->>'fpHash', (r->>'offset')::bigint, r->>'cursor', to_timestamp($3::double precision / 1000)
         FROM jsonb_array_elements($2::jsonb) AS r
       ON CONFLICT (input, file_id) DO UPDATE SET path = EXCLUDED.path, fp_len = EXCLUDED.fp_len, fp_hash = EXCLUDED.fp_hash,
         byte_offset = EXCLUDED.byte_offset, cursor = EXCLUDED.cursor, updated_at = EXCLUDED.updated_at`,
      [cp.input, JSON.stringify(cp.upserts.map((u) => ({ ...u, cursor: u.cursor ?? null }))), now],
    );
  }
  if (cp.deletes.length > 0) {
    await q.query('DELETE FROM log_offsets WHERE input = $1 AND file_id IN (SELECT jsonb_array_elements_text($2::jsonb))', [
      cp.input,
      JSON.stringify(cp.deletes),
    ]);
  }
}

/** Record the input's first start; returns true when this is it (no earlier start recorded). */
export async function markInputStarted(q: Queryable, input: string, now: number): Promise<boolean> {
  const r = await q.query(
    'INSERT INTO log_inputs (input, first_started_at) VALUES ($1, to_timestamp($2::double precision / 1000)) ON CONFLICT (input) DO NOTHING',
    [input, now],
  );
  return r.rowCount > 0;
}
