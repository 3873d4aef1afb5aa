import type { Scenario } from '../support.ts';
import { scenario as clockStep } from './clock-step.ts';
import { scenario as kill9Storm } from './kill9-storm.ts';
import { scenario as postgresRestart } from './postgres-restart.ts';
import { scenario as restartDeadlines } from './restart-deadlines.ts';
import { scenario as silentPartition } from './silent-partition.ts';
import { scenario as smtpDown } from './smtp-down.ts';
import { scenario as threeInstances } from './three-instances.ts';

// The chaos scenarios in the order `npm run chaos` runs them (add new ones here, one a line).
export const scenarios: Scenario[] = [
  kill9Storm,
  restartDeadlines,
  postgresRestart,
  smtpDown,
  clockStep,
  threeInstances,
  silentPartition,
];
