import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../src/clock.ts';
import { saveCheckpoint } from '../../../src/sources/logs/offsets.ts';
import { FileTailer, type FileTailerOptions, type TailBatch } from '../../../src/sources/logs/tailer.ts';
import type { Store } from '../../../src/store/store.ts';

export function tempDir(prefix = 'kuzet-logs-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A tailer whose deliveries are recorded (lines and events in order) and checkpointed to the store. */
export function recordingTailer(store: Store, clock: Clock, opts: Partial<FileTailerOptions> & { paths: string[] }) {
  const got: string[] = [];
  const batches: TailBatch[] = [];
  const tailer = new FileTailer(
    { name: 'app', startAt: 'beginning', maxLineBytes: 4096, rotateWaitMs: 1000, pollMs: 3_600_000, ...opts },
    {
      store,
      clock,
      deliver: async (b) => {
        batches.push(b);
        for (const it of b.items) {
          if (it.kind === 'lines') got.push(...it.text.split('\n'));
          else got.push(it.text);
        }
        await store.tx((q) => saveCheckpoint(q, b.checkpoint, clock.now()));
      },
    },
  );
  return { tailer, got, batches };
}
