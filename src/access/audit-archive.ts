import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock.ts';
import { zoneOffsetMinutes } from '../escalation/rotation.ts';
import type { Queryable } from '../store/store.ts';

// The audit trail's archive (002 §13.2: automated accounting, preservation and periodic archiving of every access).
// Once a calendar month (in the archive's time zone) is over, its audit rows are written to one file,
// `audit-YYYY-MM.jsonl`: a header line, then one JSON row per line. The header carries the SHA-256 of the previous
// month's file, so the files form a chain: editing, removing or reordering any file breaks every link after it,
// and `kuzet audit verify` says where. Rows older than the retention are deleted from the store only once archived.

export const GENESIS = '0'.repeat(64);
const FILE_RE = /^audit-(\d{4}-\d{2})\.jsonl$/;

export interface ArchiveHeader {
  kuzet_audit_archive: 1;
  month: string;
  zone: string;
  from: string;
  to: string;
  rows: number;
  prev_sha256: string;
}

export interface ArchiveOptions {
  dir: string;
  zone: string;
  /** Rows older than this (ms) are deleted from the store once their month is archived; 0 keeps them. */
  retentionMs: number;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** The first instant of the local month containing `t`, and the month's "YYYY-MM". */
function monthOf(zone: string, t: number): { month: string; start: number } {
  const local = new Date(t + zoneOffsetMinutes(zone, t) * 60_000);
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth();
  const startLocal = Date.UTC(y, m, 1);
  return { month: `${y}-${String(m + 1).padStart(2, '0')}`, start: startLocal - zoneOffsetMinutes(zone, startLocal) * 60_000 };
}

function nextMonthStart(zone: string, start: number): number {
  const local = new Date(start + zoneOffsetMinutes(zone, start) * 60_000);
  const nextLocal = Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + 1, 1);
  return nextLocal - zoneOffsetMinutes(zone, nextLocal) * 60_000;
}

/** Write one file atomically (temp file, fsync, rename). */
function writeAtomic(path: string, text: string): void {
  const part = `${path}.part`;
  const fd = openSync(part, 'w', 0o640);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(part, path);
}

export interface ArchiveRun {
  written: Array<{ month: string; file: string; rows: number; sha256: string }>;
  deleted: number;
}

/**
 * Archive every finished month not archived yet, oldest first, then delete archived rows past the retention.
 * Safe to run again: a month already in `audit_archives` is skipped.
 */
export async function archiveAudit(q: Queryable, clock: Clock, o: ArchiveOptions): Promise<ArchiveRun> {
  mkdirSync(o.dir, { recursive: true });
  const now = clock.now();
  const current = monthOf(o.zone, now);
  const last = (await q.query<{ month: string; sha256: string }>('SELECT month, sha256 FROM audit_archives ORDER BY month DESC LIMIT 1')).rows[0];
  const oldest = (await q.query<{ at: Date | string | null }>('SELECT min(at) AS at FROM audit_log')).rows[0]?.at;
  const run: ArchiveRun = { written: [], deleted: 0 };
  let prev = last?.sha256 ?? GENESIS;
  let start: number | undefined;
  if (last) {
    const [y, m] = last.month.split('-').map(Number);
    const localStart = Date.UTC(y!, m! - 1, 1);
    start = nextMonthStart(o.zone, localStart - zoneOffsetMinutes(o.zone, localStart) * 60_000);
  } else if (oldest) {
    start = monthOf(o.zone, new Date(oldest).getTime()).start;
  }
  while (start !== undefined && start < current.start) {
    const end = nextMonthStart(o.zone, start);
    const month = monthOf(o.zone, start).month;
    const rows = (await q.query<{ id: string; at: Date | string; actor: string; action: string; target: string | null; remote: string | null; outcome: string; detail: unknown }>(
      'SELECT id, at, actor, action, target, remote, outcome, detail FROM audit_log WHERE at >= $1 AND at < $2 ORDER BY id',
      [new Date(start).toISOString(), new Date(end).toISOString()],
    )).rows;
    const header: ArchiveHeader = { kuzet_audit_archive: 1, month, zone: o.zone, from: new Date(start).toISOString(), to: new Date(end).toISOString(), rows: rows.length, prev_sha256: prev };
    const lines = [JSON.stringify(header), ...rows.map((r) => JSON.stringify({ ...r, id: Number(r.id), at: new Date(r.at).toISOString() }))];
    const text = `${lines.join('\n')}\n`;
    const file = `audit-${month}.jsonl`;
    writeAtomic(join(o.dir, file), text);
    const digest = sha256(text);
    await q.query(
      `INSERT INTO audit_archives (month, file, sha256, prev_sha256, rows, first_id, last_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (month) DO NOTHING`,
      [month, file, digest, prev, rows.length, rows[0]?.id ?? null, rows.at(-1)?.id ?? null, new Date(now).toISOString()],
    );
    run.written.push({ month, file, rows: rows.length, sha256: digest });
    prev = digest;
    start = end;
  }
  if (o.retentionMs > 0) {
    // Only rows of archived months go: the archive is the record once the store lets them go.
    const archivedUntil = (await q.query<{ to: string | null }>(`SELECT max(month) AS to FROM audit_archives`)).rows[0]?.to;
    if (archivedUntil) {
      const [y, m] = archivedUntil.split('-').map(Number);
      const localEnd = Date.UTC(y!, m!, 1);
      const end = localEnd - zoneOffsetMinutes(o.zone, localEnd) * 60_000;
      const cutoff = Math.min(end, now - o.retentionMs);
      const r = await q.query('DELETE FROM audit_log WHERE at < $1', [new Date(cutoff).toISOString()]);
      run.deleted = r.rowCount ?? 0;
    }
  }
  return run;
}

export interface VerifyResult {
  ok: boolean;
  files: number;
  rows: number;
  problems: string[];
}

/**
 * Check the chain: each file's header names the SHA-256 of the file before it, row counts match, months follow
 * each other without a gap, and (when the store's record is given) each file's hash is the one recorded when it
 * was written.
 */
export function verifyAuditArchive(dir: string, recorded?: Map<string, string>): VerifyResult {
  const out: VerifyResult = { ok: true, files: 0, rows: 0, problems: [] };
  if (!existsSync(dir)) {
    out.problems.push(`archive folder ${dir} does not exist`);
    out.ok = false;
    return out;
  }
  const files = readdirSync(dir).filter((f) => FILE_RE.test(f)).sort();
  let prev = GENESIS;
  let prevMonth: string | undefined;
  for (const f of files) {
    out.files++;
    const bytes = readFileSync(join(dir, f));
    const digest = sha256(bytes);
    const month = FILE_RE.exec(f)![1]!;
    const lines = bytes.toString('utf8').split('\n').filter((l) => l.length);
    let header: ArchiveHeader | undefined;
    try {
      const h = JSON.parse(lines[0] ?? '') as Partial<ArchiveHeader> | null;
      if (h && h.kuzet_audit_archive === 1 && typeof h.prev_sha256 === 'string' && typeof h.rows === 'number') header = h as ArchiveHeader;
    } catch {
      // reported below
    }
    if (!header) out.problems.push(`${f}: the first line is not an archive header`);
    if (header) {
      if (header.month !== month) out.problems.push(`${f}: the header says month ${header.month}`);
      if (header.prev_sha256 !== prev) {
        out.problems.push(`${f}: the chain is broken here: it names ${header.prev_sha256.slice(0, 16)}… as the previous file's SHA-256, but ${prevMonth ? `audit-${prevMonth}.jsonl` : 'the start of the chain'} has ${prev.slice(0, 16)}…`);
      }
      if (header.rows !== lines.length - 1) out.problems.push(`${f}: the header counts ${header.rows} rows, the file holds ${lines.length - 1}`);
    }
    if (prevMonth && nextMonthName(prevMonth) !== month) out.problems.push(`${f}: months missing between ${prevMonth} and ${month}`);
    const want = recorded?.get(month);
    if (want && want !== digest) out.problems.push(`${f}: its SHA-256 ${digest.slice(0, 16)}… differs from the one recorded when it was written (${want.slice(0, 16)}…): the file was changed`);
    out.rows += Math.max(0, lines.length - 1);
    prev = digest;
    prevMonth = month;
  }
  if (recorded) {
    for (const m of recorded.keys()) if (!files.includes(`audit-${m}.jsonl`)) out.problems.push(`audit-${m}.jsonl: recorded as written, missing from the folder`);
  }
  out.ok = out.problems.length === 0;
  return out;
}

function nextMonthName(month: string): string {
  const [y, m] = month.split('-').map(Number);
  return m === 12 ? `${y! + 1}-01` : `${y}-${String(m! + 1).padStart(2, '0')}`;
}

export async function recordedArchives(q: Queryable): Promise<Map<string, string>> {
  const r = await q.query<{ month: string; sha256: string }>('SELECT month, sha256 FROM audit_archives ORDER BY month');
  return new Map(r.rows.map((x) => [x.month, x.sha256]));
}

/** Runs the archive on its cron schedule (on the injected clock), one instance at a time (an advisory lock). */
export function scheduleAuditArchive(d: {
  store: { tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> };
  clock: Clock;
  options: () => ArchiveOptions & { schedule: string };
  next: (expr: string, after: number, tz: string) => number;
  log: { info: (m: string, meta?: Record<string, unknown>) => void; error: (m: string, meta?: Record<string, unknown>) => void };
}): { stop(): void; runNow(): Promise<ArchiveRun> } {
  let timer: { cancel(): void } | undefined;
  let stopped = false;
  const runNow = () =>
    d.store.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock(7305076)');
      return archiveAudit(q, d.clock, d.options());
    });
  const arm = () => {
    if (stopped) return;
    const o = d.options();
    const at = d.next(o.schedule, d.clock.now(), o.zone);
    timer = d.clock.setTimeout(() => {
      runNow()
        .then((r) => {
          for (const w of r.written) d.log.info('audit month archived', { month: w.month, file: w.file, rows: w.rows, sha256: w.sha256 });
          if (r.deleted) d.log.info('audit rows past retention deleted', { rows: r.deleted });
        })
        .catch((err: Error) => d.log.error('audit archive failed', { err: err.message }))
        .finally(arm);
    }, Math.max(0, at - d.clock.now()));
  };
  arm();
  return {
    stop() {
      stopped = true;
      timer?.cancel();
    },
    runNow,
  };
}
