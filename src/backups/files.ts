// File plumbing for backups: hashing, durable renames, and the temp-name convention that keeps a
// half-written file from ever being taken for a backup.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Files being written carry this prefix; nothing with it is ever recorded as complete. */
export const PARTIAL_PREFIX = '.partial-';

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Rename `from` to `to` and fsync the directory, so the new name survives a power cut. */
export async function durableRename(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncPath(dirname(to));
}

/** The final file name for a backup started at `at`: sorts by time, unique within the job. */
export function artifactName(job: string, at: number, ext: string): string {
  const stamp = new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${job}-${stamp}-${randomBytes(3).toString('hex')}${ext}`;
}

export function partialPathFor(finalPath: string): string {
  return join(dirname(finalPath), PARTIAL_PREFIX + basename(finalPath));
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Remove a file if it is there; true when something was removed. */
export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await stat(path);
  } catch {
    return false;
  }
  await rm(path, { force: true, recursive: true });
  return true;
}

/** Partial files of `job` left in `dir` by a run that died (kill -9, power cut). */
export async function strayPartials(dir: string, job: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(`${PARTIAL_PREFIX}${job}-`)).map((n) => join(dir, n));
}

/** Size and mtime, or undefined when the file is missing. */
export async function statFile(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

/** A glob with `*` and `?` only, matched against a whole file name. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
