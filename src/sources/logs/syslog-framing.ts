// TCP syslog framing (RFC 6587), decided per frame: octet counting ("LEN SP MSG", rsyslog's default for
// forwarding, which keeps the sender's trailing newline inside MSG) or newline framing (LF, or NUL as
// some senders use). Memory is bounded: an over-long frame is skipped (octet counting) or cut and skipped
// to its newline (newline framing), and counted; bytes that are neither are garbage up to the next newline.

export interface FrameResult {
  frames: Buffer[];
  garbage: number;
  tooLong: number;
}

type State = { kind: 'start' } | { kind: 'skip'; left: number } | { kind: 'skip-line' };

export class SyslogFramer {
  readonly #max: number;
  #buf: Buffer = Buffer.alloc(0);
  #state: State = { kind: 'start' };

  constructor(maxMessageBytes: number) {
    this.#max = maxMessageBytes;
  }

  /** Bytes held for an unfinished frame. */
  get buffered(): number {
    return this.#buf.length;
  }

  push(chunk: Buffer): FrameResult {
    const out: FrameResult = { frames: [], garbage: 0, tooLong: 0 };
    let b = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    let i = 0;
    for (;;) {
      if (this.#state.kind === 'skip') {
        const n = Math.min(this.#state.left, b.length - i);
        i += n;
        this.#state.left -= n;
        if (this.#state.left > 0) break;
        this.#state = { kind: 'start' };
        continue;
      }
      if (this.#state.kind === 'skip-line') {
        const nl = indexOfEnd(b, i);
        if (nl === -1) {
          i = b.length;
          break;
        }
        i = nl + 1;
        this.#state = { kind: 'start' };
        continue;
      }
      // Between frames: whitespace between frames is allowed.
      while (i < b.length && (b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x20 || b[i] === 0x00)) i++;
      if (i >= b.length) break;
      const c = b[i]!;
      if (c >= 0x31 && c <= 0x39) {
        // Octet counting: up to 10 digits then a space.
        let j = i;
        while (j < b.length && j - i < 11 && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
        if (j >= b.length) break; // need more bytes
        if (b[j] !== 0x20 || j - i > 10) {
          out.garbage++;
          this.#state = { kind: 'skip-line' };
          continue;
        }
        const len = Number(b.toString('latin1', i, j));
        if (len > this.#max) {
          out.tooLong++;
          i = j + 1;
          this.#state = { kind: 'skip', left: len };
          continue;
        }
        if (b.length - (j + 1) < len) break; // frame not complete yet
        out.frames.push(Buffer.from(b.subarray(j + 1, j + 1 + len)));
        i = j + 1 + len;
        continue;
      }
      if (c === 0x3c) {
        const nl = indexOfEnd(b, i);
        if (nl === -1) {
          if (b.length - i > this.#max) {
            out.frames.push(Buffer.from(b.subarray(i, i + this.#max)));
            out.tooLong++;
            i = b.length;
            this.#state = { kind: 'skip-line' };
          }
          break;
        }
        if (nl - i > this.#max) {
          out.frames.push(Buffer.from(b.subarray(i, i + this.#max)));
          out.tooLong++;
        } else out.frames.push(Buffer.from(b.subarray(i, nl)));
        i = nl + 1;
        continue;
      }
      out.garbage++;
      this.#state = { kind: 'skip-line' };
    }
    b = b.subarray(i);
    this.#buf = b.length ? Buffer.from(b) : Buffer.alloc(0);
    return out;
  }
}

function indexOfEnd(b: Buffer, from: number): number {
  const nl = b.indexOf(0x0a, from);
  const nul = b.indexOf(0x00, from);
  if (nl === -1) return nul;
  if (nul === -1) return nl;
  return Math.min(nl, nul);
}
