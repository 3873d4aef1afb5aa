import type { ProbeSeverity } from './types.ts';

// Confirmation and recovery, as a transition table. A failure is confirmed by `failures` failed results
// among the last `of` (of == failures: consecutive); recovery needs `successes` consecutive successes.
// Signals are emitted only on confirmed changes, plus two re-fires while down: a changed severity,
// and a window ending while still down (the outage was recorded without paging; now it pages).
//
// | status | result | condition                                   | next | emit     |
// |--------|--------|---------------------------------------------|------|----------|
// | up     | ok     |                                             | up   |          |
// | up     | fail   | failures among last `of` >= `failures`      | down | firing   |
// | up     | fail   | otherwise                                   | up   |          |
// | down   | fail   | severity changed, or maintenance just ended | down | firing   |
// | down   | fail   | otherwise                                   | down |          |
// | down   | ok     | consecutive successes >= `successes`        | up   | resolved |
// | down   | ok     | otherwise                                   | down |          |

export interface ProbeState {
  status: 'up' | 'down';
  /** Last results, oldest first, at most `confirm.of` long (true = ok). */
  history: boolean[];
  /** Consecutive successes while down. */
  successes: number;
  /** Severity and maintenance flag of the last firing signal, while down. */
  severity?: ProbeSeverity;
  maintenance?: boolean;
  /** When the status last changed (ms). */
  since?: number;
  /** The probe's system, kept with the stored state so an orphaned outage can still be resolved. */
  system?: string;
}

export const initialState = (): ProbeState => ({ status: 'up', history: [], successes: 0 });

export interface Policy {
  failures: number;
  of: number;
  successes: number;
}

export interface Observation {
  ok: boolean;
  at: number;
  severity: ProbeSeverity;
  maintenance: boolean;
}

export interface Step {
  state: ProbeState;
  emit?: 'firing' | 'resolved';
}

export function advance(s: ProbeState, o: Observation, p: Policy): Step {
  const history = [...s.history, o.ok].slice(-p.of);
  if (s.status === 'up') {
    if (o.ok) return { state: { ...s, history } };
    const failures = history.filter((x) => !x).length;
    if (failures >= p.failures) {
      return { state: { status: 'down', history, successes: 0, severity: o.severity, maintenance: o.maintenance, since: o.at }, emit: 'firing' };
    }
    return { state: { ...s, history } };
  }
  if (o.ok) {
    const successes = s.successes + 1;
    if (successes >= p.successes) return { state: { status: 'up', history: [], successes: 0, since: o.at }, emit: 'resolved' };
    return { state: { ...s, history, successes } };
  }
  const next: ProbeState = { ...s, history, successes: 0 };
  if (o.severity !== s.severity || (s.maintenance && !o.maintenance)) {
    return { state: { ...next, severity: o.severity, maintenance: o.maintenance }, emit: 'firing' };
  }
  return { state: next };
}
