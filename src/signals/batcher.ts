import { KuzetError } from '../errors.ts';

// Group commit: callers submit items and wait; one flush at a time takes everything queued (up to
// maxBatch) and commits it in one transaction, so many requests share one fsync. Order is kept.

export interface BatcherOptions {
  maxBatch: number;
  /** Above this many queued items, submit() refuses with KZ_ERR_OVERLOADED (callers answer 503). */
  maxQueue: number;
}

interface Pending<I, O> {
  items: I[];
  resolve: (out: O[]) => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter<I, O> {
  #queue: Array<Pending<I, O>> = [];
  #queued = 0;
  #flushing: Promise<void> | null = null;
  #closed = false;
  #batches = 0;

  constructor(
    private readonly commit: (items: I[]) => Promise<O[]>,
    private readonly opts: BatcherOptions,
  ) {}

  get queued(): number {
    return this.#queued;
  }
  get batches(): number {
    return this.#batches;
  }

  submit(items: I[]): Promise<O[]> {
    if (this.#closed) return Promise.reject(new KuzetError('KZ_ERR_OVERLOADED', 'kuzet is shutting down', 503));
    if (items.length === 0) return Promise.resolve([]);
    if (this.#queued + items.length > this.opts.maxQueue) {
      return Promise.reject(new KuzetError('KZ_ERR_OVERLOADED', `intake queue is full (${this.#queued} queued)`, 503));
    }
    return new Promise<O[]>((resolve, reject) => {
      this.#queue.push({ items, resolve, reject });
      this.#queued += items.length;
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#flushing || this.#queue.length === 0) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = null;
      this.#kick();
    });
  }

  async #flush(): Promise<void> {
    const take: Array<Pending<I, O>> = [];
    let n = 0;
    // A request is never split across batches; a single request larger than maxBatch goes alone.
    while (this.#queue.length && (n === 0 || n + this.#queue[0]!.items.length <= this.opts.maxBatch)) {
      const p = this.#queue.shift()!;
      take.push(p);
      n += p.items.length;
    }
    this.#queued -= n;
    const items = take.flatMap((p) => p.items);
    try {
      const out = await this.commit(items);
      this.#batches++;
      let at = 0;
      for (const p of take) {
        p.resolve(out.slice(at, at + p.items.length));
        at += p.items.length;
      }
    } catch (err) {
      for (const p of take) p.reject(err);
    }
  }

  /** Stop taking new items and wait for everything queued to be committed. */
  async drain(): Promise<void> {
    this.#closed = true;
    while (this.#flushing || this.#queue.length) {
      this.#kick();
      await this.#flushing;
    }
  }
}
