import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../src/clock.ts';
import type { Signal } from '../../../src/signals/signal.ts';
import { signalProblems } from '../../../src/signals/signal.ts';
import type { HostSample } from '../../../src/sources/probes/kinds/host.ts';
import { ProbeService } from '../../../src/sources/probes/service.ts';
import type { ProbeDefinition, ProbeFile } from '../../../src/sources/probes/types.ts';

// The probe source end to end on a fake clock: confirmation and recovery counts, maintenance windows,
// a sink that refuses, reloads, heartbeats. The probes are host probes fed by a scripted sampler.

const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

class RecordingSink {
  signals: Signal[] = [];
  refuse = 0;
  async submit(s: Signal[]): Promise<unknown[]> {
    if (this.refuse > 0) {
      this.refuse--;
      throw new Error('overloaded');
    }
    for (const x of s) assert.deepEqual(signalProblems(x), []);
    this.signals.push(...s);
    return s.map(() => ({}));
  }
}

function setup(script: string, over: Partial<ProbeDefinition> = {}, maintenance: ProbeFile['maintenance'] = []) {
  const clock = new FakeClock('2026-01-10T20:00:00Z');
  const sink = new RecordingSink();
  const registry = new Registry();
  let i = 0;
  // 'f' = memory at 95% (fails a 90% threshold), 's' = 50%.
  const sampler = async (): Promise<HostSample> => ({ cpuPercent: 1, load1: 0, disks: [], memoryPercent: script[i++] === 'f' ? 95 : 50 });
  const svc = new ProbeService({ clock, sink, registry, hostSampler: sampler });
  const def = {
    name: 'kuzet-host',
    kind: 'host',
    system: 'kuzet',
    interval: '10s',
    timeout: '5s',
    confirm: { failures: 3 },
    recover: { successes: 2 },
    labels: { team: 'ops' },
    host: { memory_percent: 90 },
    ...over,
  } as ProbeDefinition;
  const files: ProbeFile[] = [{ probes: [def], maintenance }];
  return { clock, sink, svc, registry, files, ran: () => i };
}

async function step(clock: FakeClock, svc: ProbeService, name: string): Promise<void> {
  clock.set(svc.status().find((s) => s.name === name)!.nextDue!);
  await flush();
}

describe('probe service', () => {
  test('fires after 3 consecutive failures, resolves after 2 successes, once each', async () => {
    const { clock, sink, svc, registry, files, ran } = setup('ssffsfffffssfss');
    await svc.apply(files);
    await svc.start();
    const at: [number, string][] = [];
    for (let n = 0; n < 15; n++) {
      await step(clock, svc, 'kuzet-host');
      while (at.length < sink.signals.length) at.push([n, sink.signals[at.length]!.status]);
    }
    assert.equal(ran(), 15);
    assert.deepEqual(at, [[7, 'firing'], [11, 'resolved']]);
    const [fire, resolve] = sink.signals;
    assert.equal(fire!.source, 'probe');
    assert.equal(fire!.system, 'kuzet');
    assert.equal(fire!.check, 'kuzet-host');
    assert.equal(fire!.severity, 'major');
    assert.equal(fire!.fingerprint, resolve!.fingerprint);
    assert.deepEqual(fire!.labels, { team: 'ops', probe: 'kuzet-host', kind: 'host' });
    assert.match(fire!.summary, /^kuzet-host: memory % <= 90 failed: 95/);
    assert.equal((fire!.payload as { confirm: unknown }).confirm && 3, 3);
    const metrics = await registry.getSingleMetricAsString('kuzet_probe_up');
    assert.match(metrics, /kuzet_probe_up\{probe="kuzet-host",system="kuzet"\} 1/);
    assert.match(await registry.getSingleMetricAsString('kuzet_probe_duration_seconds'), /kuzet_probe_duration_seconds_count\{system="kuzet",kind="host"\} 15/);
    await svc.stop();
    await svc.stop(); // idempotent
  });

  test('M of last N: 2 failures among the last 4 confirm', async () => {
    const { clock, sink, svc, files } = setup('fssf', { confirm: { failures: 2, of: 4 } });
    await svc.apply(files);
    await svc.start();
    for (let n = 0; n < 4; n++) await step(clock, svc, 'kuzet-host');
    assert.deepEqual(sink.signals.map((s) => s.status), ['firing']);
    await svc.stop();
  });

  test('in a maintenance window signals are marked not to page; still down after it, it fires again unmarked', async () => {
    // Window 20:00-20:01 UTC; the probe fails from the start.
    const { clock, sink, svc, files } = setup('ffffffffffff', { confirm: { failures: 2 } }, [
      { name: 'deploy', start: '2026-01-10T20:00:00Z', end: '2026-01-10T20:01:00Z', systems: ['kuzet'] },
    ]);
    await svc.apply(files);
    await svc.start();
    for (let n = 0; n < 10; n++) await step(clock, svc, 'kuzet-host');
    assert.deepEqual(
      sink.signals.map((s) => [s.status, s.labels.maintenance ?? '-', s.labels.maintenance_window ?? '-']),
      [['firing', 'true', 'deploy'], ['firing', '-', '-']],
    );
    await svc.stop();
  });

  test('a sink that refuses: the transition is attempted again on the next result', async () => {
    const { clock, sink, svc, files } = setup('ffffsss', { confirm: { failures: 2 }, recover: { successes: 1 } });
    await svc.apply(files);
    await svc.start();
    sink.refuse = 1;
    for (let n = 0; n < 3; n++) await step(clock, svc, 'kuzet-host');
    assert.deepEqual(sink.signals.map((s) => s.status), ['firing'], 'first firing refused, second accepted');
    assert.equal(svc.status()[0]!.status, 'down');
    sink.refuse = 1;
    for (let n = 0; n < 3; n++) await step(clock, svc, 'kuzet-host');
    assert.deepEqual(sink.signals.map((s) => s.status), ['firing', 'resolved']);
    assert.equal(svc.status()[0]!.status, 'up');
    await svc.stop();
  });

  test('a probe removed by a reload while down is resolved', async () => {
    const { clock, sink, svc, files } = setup('ffff', { confirm: { failures: 1 } });
    await svc.apply(files);
    await svc.start();
    await step(clock, svc, 'kuzet-host');
    assert.equal(sink.signals.length, 1);
    await svc.apply([{ probes: [] }]);
    assert.deepEqual(sink.signals.map((s) => [s.status, s.summary]), [
      ['firing', sink.signals[0]!.summary],
      ['resolved', 'kuzet-host: recovered (probe removed from the configuration)'],
    ]);
    assert.equal(svc.status().length, 0);
    await svc.stop();
  });

  test('heartbeat: pings keep it up; silence past period + grace fires; a ping resolves', async () => {
    const clock = new FakeClock('2026-01-10T00:00:00Z');
    const sink = new RecordingSink();
    const svc = new ProbeService({ clock, sink });
    await svc.apply([
      { probes: [{ name: 'nightly-backup', kind: 'heartbeat', system: 'backups', interval: '1m', timeout: '5s', confirm: { failures: 1 }, recover: { successes: 1 }, heartbeat: { period: '1h', grace: '10m', token: 'x'.repeat(20) } }] },
    ]);
    await svc.start();
    assert.equal(svc.heartbeatToken('nightly-backup'), 'x'.repeat(20));
    assert.equal(svc.heartbeatToken('nope'), undefined);
    for (let m = 0; m < 60; m++) await step(clock, svc, 'nightly-backup');
    await svc.heartbeats.ping('nightly-backup');
    for (let m = 0; m < 69; m++) await step(clock, svc, 'nightly-backup');
    assert.equal(sink.signals.length, 0, 'within period + grace');
    for (let m = 0; m < 3; m++) await step(clock, svc, 'nightly-backup');
    assert.deepEqual(sink.signals.map((s) => s.status), ['firing']);
    assert.match(sink.signals[0]!.summary, /a ping within 1h \+ 10m failed: last ping 7\d min ago/);
    await svc.heartbeats.ping('nightly-backup', 'fail');
    await step(clock, svc, 'nightly-backup');
    assert.equal(sink.signals.length, 1, 'a ping reporting failure keeps it down, no new signal');
    assert.match(svc.status()[0]!.lastReason!, /last ping reports success failed: fail/);
    await svc.heartbeats.ping('nightly-backup');
    await step(clock, svc, 'nightly-backup');
    assert.deepEqual(sink.signals.map((s) => s.status), ['firing', 'resolved']);
    await svc.stop();
  });
});
