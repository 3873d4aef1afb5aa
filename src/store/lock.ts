import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// The embedded server belongs to one kuzet process, which starts, supervises and stops it. A pid file in the data
// folder says which process; a stale one (its process gone) is taken over.

export function holderOf(dataDir: string): number | null {
  const f = join(dataDir, 'kuzet.pid');
  if (!existsSync(f)) return null;
  const pid = Number(readFileSync(f, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export function lockDataDir(dataDir: string): () => void {
  const pid = holderOf(dataDir);
  if (pid) throw new Error(`the embedded store ${dataDir} is in use by process ${pid}; stop it first or use the HTTP API`);
  const f = join(dataDir, 'kuzet.pid');
  writeFileSync(f, `${process.pid}\n`);
  return () => {
    try {
      if (readFileSync(f, 'utf8').trim() === String(process.pid)) rmSync(f);
    } catch {
      // already gone
    }
  };
}
