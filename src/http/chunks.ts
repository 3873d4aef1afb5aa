import { setImmediate as nextTurn } from 'node:timers/promises';

// Large requests are worked through in bounded chunks, yielding to the event loop between them, so one request
// with thousands of alerts never holds up /healthz, probes or other requests for its whole length.

/** Alerts validated, mapped and committed per step of a large request. */
export const INTAKE_CHUNK = 100;

/** Yield to the event loop: timers and I/O callbacks run before the next chunk. */
export const yieldToLoop = (): Promise<void> => nextTurn();

/**
 * Run `step` over `items` in slices of `size`, yielding between slices. `step` returns false to stop early.
 * Returns the number of slices run.
 */
export async function inChunks<T>(items: readonly T[], size: number, step: (slice: T[], offset: number) => boolean | Promise<boolean>, pause: () => Promise<void> = yieldToLoop): Promise<number> {
  let n = 0;
  for (let i = 0; i < items.length; i += size) {
    if (i > 0) await pause();
    n++;
    if (!(await step(items.slice(i, i + size), i))) break;
  }
  return n;
}
