// What every backup task (produce, verify, drill) is given and returns. Tasks never throw for
// expected failures: they return `{ ok: false, reasonCode, reason }`; the service records the run.

import type { Clock } from '../clock.ts';
import type { ReasonCode } from './signals.ts';

export interface TaskContext {
  clock: Clock;
  /** Monotonic milliseconds for measuring durations (performance.now by default). */
  monotonic: () => number;
  /** Base environment for child tools (PATH decides where pg_dump and tar are found). */
  env: NodeJS.ProcessEnv;
  /** One line of progress for the CLI and the log. */
  progress: (line: string) => void;
  /** Fires when the service stops: running tools are stopped. */
  abort?: AbortSignal;
}

export interface TaskOutcome {
  ok: boolean;
  reasonCode?: ReasonCode;
  reason?: string;
  artifactId?: number;
  detail?: Record<string, unknown>;
}
