import type { Signal } from './signal.ts';

/**
 * Where sources hand their signals. `submit` resolves only after the signals are committed to the
 * store (so an intake may answer 2xx), and rejects with KZ_ERR_OVERLOADED (status 503) when the queue is full.
 */
export interface SignalSink {
  submit(signals: Signal[]): Promise<unknown[]>;
}
