import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// File helpers for the tailer: glob expansion, head fingerprints, and finding the copy that
// copytruncate left behind.

/** Bytes of a file's head that identify it (fewer while the file is shorter). */
export const FP_MAX = 1024;

export const fileIdOf = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;

/** Hash of the first `len` bytes of `path`, or null when it has fewer bytes or cannot be read. */
export async function headHash(path: string, len: number): Promise<string | null> {
  if (len <= 0) return '';
  let fh;
  try {
    fh = await open(path, 'r');
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, 0);
    return bytesRead < len ? null : hashBytes(buf);
  } catch {
    return null;
  } finally {
    await fh?.close().catch(() => {});
  }
}

export const hashBytes = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 32);

const GLOB_CHARS = /[*?[]/;

/** Turn one glob segment into a RegExp (`*`, `?`, `[...]`); other characters are literal. */
function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end === -1) re += '\\[';
      else {
        const body = seg.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Expand paths and globs (wildcards in the last segment only) into existing paths, sorted, unique. */
export async function expandPaths(patterns: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const p of patterns) {
    const name = basename(p);
    if (!GLOB_CHARS.test(name)) {
      out.add(p);
      continue;
    }
    const dir = dirname(p);
    const re = segmentRegExp(name);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      continue;
    }
    for (const e of entries) if (re.test(e)) out.add(join(dir, e));
  }
  return [...out].sort();
}

/** True when a glob (or a path) in `patterns` has a wildcard in a directory part, which is not supported. */
export function globProblem(pattern: string): string | null {
  if (GLOB_CHARS.test(dirname(pattern))) return `path ${JSON.stringify(pattern)}: wildcards are allowed only in the file name`;
  if (!pattern.startsWith('/')) return `path ${JSON.stringify(pattern)}: must be absolute`;
  return null;
}

const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|zip)$/;

/**
 * The copy copytruncate made of a file we were reading: a sibling named after it (app.log.1, app.log-20260105)
 * whose head matches our fingerprint (it may hold less than `offset` when lines were read live). Newest first. Compressed
 * copies cannot be read and are skipped.
 */
export async function findRotatedCopy(
  path: string,
  fp: { len: number; hash: string },
  offset: number,
  exclude: ReadonlySet<string> = new Set(),
): Promise<{ path: string; size: number; id: string } | null> {
  if (fp.len <= 0) return null;
  const dir = dirname(path);
  const base = basename(path);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return null;
  }
  let best: { path: string; size: number; id: string; mtime: number } | null = null;
  for (const e of entries) {
    if (e === base || !e.startsWith(base) || COMPRESSED.test(e)) continue;
    const p = join(dir, e);
    const st = await stat(p).catch(() => null);
    // A copy shorter than the offset is still the copy (made before lines we read live from the original).
    if (!st || !st.isFile() || exclude.has(fileIdOf(st))) continue;
    if ((await headHash(p, fp.len)) !== fp.hash) continue;
    if (!best || st.mtimeMs > best.mtime) best = { path: p, size: st.size, id: fileIdOf(st), mtime: st.mtimeMs };
  }
  return best;
}

/**
 * Where the file `id` went after `path` was rotated by rename: any file in the same directory with that
 * device and inode (a draining app.log.1 may have become app.log.2 since). Null when it is gone.
 */
export async function findRenamed(path: string, id: string): Promise<string | null> {
  const dir = dirname(path);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return null;
  }
  for (const e of entries) {
    const st = await stat(join(dir, e)).catch(() => null);
    if (st?.isFile() && fileIdOf(st) === id) return join(dir, e);
  }
  return null;
}

/** Names logrotate gives rotated copies: app.log.1, app.log-20260105, app.log.2026-01-05. */
const ROTATED_SUFFIX = /^(?:\.\d+|[-.]\d{4}-?\d{2}-?\d{2}\S*)$/;

/** Uncompressed siblings of `path` named as rotations of it. */
export async function rotatedSiblings(path: string): Promise<Array<{ path: string; id: string; size: number; mtime: number }>> {
  const dir = dirname(path);
  const base = basename(path);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  const out: Array<{ path: string; id: string; size: number; mtime: number }> = [];
  for (const e of entries) {
    if (!e.startsWith(base) || !ROTATED_SUFFIX.test(e.slice(base.length))) continue;
    const p = join(dir, e);
    const st = await stat(p).catch(() => null);
    if (st?.isFile()) out.push({ path: p, id: fileIdOf(st), size: st.size, mtime: st.mtimeMs });
  }
  return out.sort((a, b) => a.mtime - b.mtime);
}
