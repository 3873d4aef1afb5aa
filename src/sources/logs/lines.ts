// Bytes in, complete lines out, with a hard bound on memory: a line longer than `maxLineBytes` is cut to
// that length and the rest of it (up to its newline) is skipped and counted, never buffered.
// Offsets are byte offsets in the source; `offset` is always just past the last line handed out, which is
// where a restart must resume.

export interface LineBlock {
  /** Complete lines joined by '\n' (no trailing newline); '' when there are none. */
  text: string;
  lines: number;
  /** Lines cut at maxLineBytes in this block. */
  cut: number;
  /** Byte offset just past the last line in this block. */
  endOffset: number;
  /** With `trackLines`: the byte offset just past each line (multi-line assembly needs event starts). */
  ends: number[] | null;
}

export class LineSplitter {
  readonly #max: number;
  #offset: number;
  #pending: Buffer = Buffer.alloc(0);
  /** Inside an over-long line whose head was already handed out: drop bytes up to the next newline. */
  #skipping = false;

  readonly #track: boolean;

  constructor(opts: { maxLineBytes: number; offset?: number; trackLines?: boolean }) {
    this.#max = Math.max(16, opts.maxLineBytes);
    this.#offset = opts.offset ?? 0;
    this.#track = opts.trackLines ?? false;
  }

  /** Offset just past the last complete line handed out. */
  get offset(): number {
    return this.#offset;
  }
  /** Where the next read must start: offset plus the incomplete line held back. */
  get readOffset(): number {
    return this.#offset + this.#pending.length + (this.#skipping ? this.#skipped : 0);
  }
  #skipped = 0;

  /** Bytes of an unfinished last line (held until its newline arrives). */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Start over at `offset` (truncation, a new file). */
  reset(offset: number): void {
    this.#offset = offset;
    this.#pending = Buffer.alloc(0);
    this.#skipping = false;
    this.#skipped = 0;
  }

  /** Feed the next bytes of the source. */
  push(chunk: Buffer): LineBlock {
    const parts: string[] = [];
    const ends: number[] | null = this.#track ? [] : null;
    let lines = 0;
    let cut = 0;
    let pos = 0;
    const n = chunk.length;
    if (this.#skipping) {
      const nl = chunk.indexOf(10, 0);
      if (nl === -1) {
        this.#skipped += n;
        return { text: '', lines: 0, cut: 0, endOffset: this.#offset, ends: this.#track ? [] : null };
      }
      this.#offset += this.#skipped + nl + 1;
      this.#skipping = false;
      this.#skipped = 0;
      pos = nl + 1;
    }
    if (this.#pending.length > 0) {
      const nl = chunk.indexOf(10, pos);
      const take = nl === -1 ? n : nl;
      if (this.#pending.length + (take - pos) > this.#max) {
        // The held line grows past the bound: hand out its head, skip the rest.
        const head = Buffer.concat([this.#pending, chunk.subarray(pos, pos + this.#max - this.#pending.length)]);
        parts.push(head.toString('utf8'));
        lines++;
        cut++;
        if (nl === -1) {
          this.#skipping = true;
          this.#skipped = this.#pending.length + (n - pos);
          this.#pending = Buffer.alloc(0);
          ends?.push(this.#offset + this.#skipped);
          return { text: parts.join('\n'), lines, cut, endOffset: this.#offset, ends };
        }
        this.#offset += this.#pending.length + (nl - pos) + 1;
        ends?.push(this.#offset);
        this.#pending = Buffer.alloc(0);
        pos = nl + 1;
      } else if (nl === -1) {
        this.#pending = Buffer.concat([this.#pending, chunk.subarray(pos)]);
        return { text: '', lines: 0, cut: 0, endOffset: this.#offset, ends: this.#track ? [] : null };
      } else {
        parts.push(Buffer.concat([this.#pending, chunk.subarray(pos, nl)]).toString('utf8'));
        lines++;
        this.#offset += this.#pending.length + (nl - pos) + 1;
        ends?.push(this.#offset);
        this.#pending = Buffer.alloc(0);
        pos = nl + 1;
      }
    }
    // Fast path (no per-line offsets wanted): decode up to the last newline in one call and check lengths on
    // the string; a line of c characters has at most 3c UTF-8 bytes (4 only for pairs, which count as 2).
    if (ends === null) {
      const last = chunk.lastIndexOf(10);
      if (last >= pos) {
        const text = chunk.toString('utf8', pos, last);
        let count = 1;
        let longest = 0;
        let from = 0;
        for (;;) {
          const nl = text.indexOf('\n', from);
          const len = (nl === -1 ? text.length : nl) - from;
          if (len > longest) longest = len;
          if (nl === -1) break;
          count++;
          from = nl + 1;
        }
        if (longest * 3 <= this.#max) {
          parts.push(text);
          lines += count;
          this.#offset += last + 1 - pos;
          pos = last + 1;
          return this.#tail(chunk, pos, parts, lines, cut, null);
        }
      }
    }
    // The bulk: find every newline, checking lengths; decode the run of good lines in one call.
    let runStart = pos;
    let p = pos;
    const base = this.#offset - pos;
    for (;;) {
      const nl = chunk.indexOf(10, p);
      if (nl === -1) break;
      if (nl - p > this.#max) {
        if (p > runStart) parts.push(chunk.toString('utf8', runStart, p - 1));
        parts.push(chunk.toString('utf8', p, p + this.#max));
        cut++;
        runStart = nl + 1;
      }
      lines++;
      ends?.push(base + nl + 1);
      p = nl + 1;
    }
    if (p > runStart) parts.push(chunk.toString('utf8', runStart, p - 1));
    this.#offset += p - pos;
    return this.#tail(chunk, p, parts, lines, cut, ends);
  }

  /** The unfinished tail after the last newline: held back, or cut when already too long. */
  #tail(chunk: Buffer, p: number, parts: string[], lines: number, cut: number, ends: number[] | null): LineBlock {
    const rest = chunk.length - p;
    if (rest > this.#max) {
      parts.push(chunk.toString('utf8', p, p + this.#max));
      lines++;
      cut++;
      this.#skipping = true;
      this.#skipped = rest;
      ends?.push(this.#offset + rest);
    } else if (rest > 0) {
      this.#pending = Buffer.from(chunk.subarray(p));
    }
    return { text: parts.join('\n'), lines, cut, endOffset: this.#offset, ends };
  }

  /**
   * Hand out the unfinished last line as if complete (the source will never grow again: a rotated
   * file after its grace period, or a stream that ended).
   */
  flushPartial(): LineBlock {
    if (this.#skipping) {
      this.#offset += this.#skipped;
      this.#skipping = false;
      this.#skipped = 0;
      return { text: '', lines: 0, cut: 0, endOffset: this.#offset, ends: this.#track ? [] : null };
    }
    if (this.#pending.length === 0) return { text: '', lines: 0, cut: 0, endOffset: this.#offset, ends: this.#track ? [] : null };
    const text = this.#pending.toString('utf8');
    this.#offset += this.#pending.length;
    this.#pending = Buffer.alloc(0);
    return { text, lines: 1, cut: 0, endOffset: this.#offset, ends: this.#track ? [this.#offset] : null };
  }
}
