import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { EscalationConfig } from '../escalation/config.ts';
import { Escalator } from '../escalation/escalator.ts';
import { Sweeper } from '../escalation/sweeper.ts';
import type { ChangeHook } from '../incidents/engine.ts';
import { nullLogger, type Logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import type { Channel } from './channel.ts';
import { buildChannels, closeChannels } from './channels.ts';
import { loadRunbooks, type Runbook } from './runbooks.ts';
import type { SystemNamer } from './templates.ts';
import { DeliveryWorker } from './worker.ts';

// One handle for the composition root: escalation (hook + leader-elected sweeper) and outbox delivery.

export interface EscalationServiceDeps {
  store: Store;
  clock: Clock;
  config: () => EscalationConfig;
  /** The incident engine (only onChanges is used). */
  engine: { onChanges(hook: ChangeHook): void };
  runbooksDir?: string;
  /** System names in the receiver's language. */
  systemName?: SystemNamer;
  log?: Logger;
  registry?: Registry;
  instanceId?: string;
  /** Channel clients; defaults to building them from config (tests pass recording fakes). */
  channels?: (cfg: EscalationConfig) => Record<string, Channel>;
  sweepIntervalMs?: number;
  deliverIntervalMs?: number;
}

export interface EscalationService {
  escalator: Escalator;
  sweeper: Sweeper;
  worker: DeliveryWorker;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** After a config reload (SIGHUP): rebuild channel clients and re-read runbooks. Ladders in flight keep their snapshot. */
  reload(): Promise<void>;
}

export function createEscalationService(deps: EscalationServiceDeps): EscalationService {
  const log = deps.log ?? nullLogger;
  const make = deps.channels ?? ((cfg: EscalationConfig) => buildChannels(cfg, deps.clock));
  let channels = make(deps.config());
  let runbooks: Runbook[] = deps.runbooksDir ? loadRunbooks(deps.runbooksDir) : [];
  let nudge = () => {};
  const escalator = new Escalator({
    store: deps.store,
    clock: deps.clock,
    config: deps.config,
    log: log.child({ component: 'escalation' }),
    registry: deps.registry,
    onDecided: () => nudge(),
  });
  deps.engine.onChanges(escalator.hook);
  const leader = deps.registry ? new Gauge({ name: 'kuzet_escalation_leader', help: '1 when this instance runs escalation', registers: [deps.registry] }) : null;
  leader?.set(0);
  const sweeper = new Sweeper({
    store: deps.store,
    clock: deps.clock,
    sweep: () => escalator.sweep(),
    log: log.child({ component: 'escalation-sweeper' }),
    intervalMs: deps.sweepIntervalMs,
    onLeadership: (v) => leader?.set(v ? 1 : 0),
  });
  const worker = new DeliveryWorker({
    store: deps.store,
    clock: deps.clock,
    config: deps.config,
    channels: () => channels,
    runbooks: () => runbooks,
    systemName: deps.systemName,
    log: log.child({ component: 'outbox' }),
    registry: deps.registry,
    workerId: deps.instanceId,
    intervalMs: deps.deliverIntervalMs,
    // Channels with dead pages are checked by one instance, the one that escalates.
    leader: () => sweeper.leader,
  });
  nudge = () => worker.nudge();
  return {
    escalator,
    sweeper,
    worker,
    async start() {
      await sweeper.start();
      await worker.start();
    },
    async stop() {
      await sweeper.stop();
      await worker.stop();
      await closeChannels(channels);
    },
    async reload() {
      const old = channels;
      channels = make(deps.config());
      if (deps.runbooksDir) runbooks = loadRunbooks(deps.runbooksDir);
      // Deliveries in flight hold the old clients; close them once the queue has drained.
      await worker.drain();
      await closeChannels(old);
    },
  };
}
