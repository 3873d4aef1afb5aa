import type { CompiledPattern } from './patterns.ts';

// Joins continuation lines to the line that started the event (a Java stack trace is one event).
// A line matching `start` begins a new event; any other line continues the current one. An event is
// complete when the next one starts, or when the owner flushes it (timeout, end of a rotated file).
// The byte offset where the unfinished event starts is what a checkpoint may store: a restart re-reads it.

export interface AssembledEvent {
  text: string;
  /** Lines dropped from this event past maxLines. */
  dropped: number;
}

export class MultilineAssembler {
  readonly #start: CompiledPattern;
  readonly #maxLines: number;
  #lines: string[] = [];
  #dropped = 0;
  #startOffset: number | null = null;

  constructor(start: CompiledPattern, maxLines: number) {
    this.#start = start;
    this.#maxLines = Math.max(1, maxLines);
  }

  /** Byte offset where the unfinished event begins; null when none is held. */
  get pendingStart(): number | null {
    return this.#startOffset;
  }

  /**
   * Feed lines; `ends[i]` is the byte offset just past line i, `firstStart` the offset where line 0 begins.
   * Returns the events completed by these lines.
   */
  push(lines: readonly string[], ends: readonly number[], firstStart: number): AssembledEvent[] {
    const out: AssembledEvent[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const lineStart = i === 0 ? firstStart : ends[i - 1]!;
      if (this.#lines.length === 0 || this.#start.test(line)) {
        const done = this.flush();
        if (done) out.push(done);
        this.#lines.push(line);
        this.#startOffset = lineStart;
      } else if (this.#lines.length < this.#maxLines) {
        this.#lines.push(line);
      } else {
        this.#dropped++;
      }
    }
    return out;
  }

  /** Hand out the unfinished event, if any. */
  flush(): AssembledEvent | null {
    if (this.#lines.length === 0) return null;
    const ev = { text: this.#lines.join('\n'), dropped: this.#dropped };
    this.#lines = [];
    this.#dropped = 0;
    this.#startOffset = null;
    return ev;
  }

  /** Forget everything (truncated source). */
  reset(): void {
    this.#lines = [];
    this.#dropped = 0;
    this.#startOffset = null;
  }
}
