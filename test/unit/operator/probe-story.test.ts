import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import type { Logger } from '../../../src/log.ts';
import type { Signal } from '../../../src/signals/signal.ts';
import type { HostSample } from '../../../src/sources/probes/kinds/host.ts';
import { ProbeService } from '../../../src/sources/probes/service.ts';
import type { ProbeDefinition } from '../../../src/sources/probes/types.ts';

// Issue 19 item 2: a probe confirmed down or up is one info line with the incident id and its link.

const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('probe story lines', () => {
  test('one line when confirmed down, one when confirmed up, none for unconfirmed failures', async () => {
    const clock = new FakeClock('2026-01-10T20:00:00Z');
    const lines: Array<{ msg: string; meta: Record<string, unknown> }> = [];
    const log: Logger = { debug() {}, warn() {}, error() {}, info: (msg, meta = {}) => void lines.push({ msg, meta }), child: () => log };
    const signals: Signal[] = [];
    const sink = { submit: async (s: Signal[]) => (signals.push(...s), s.map(() => ({ incidentId: 41 }))) };
    const script = 'fsfffss';
    let i = 0;
    const sampler = async (): Promise<HostSample> => ({ cpuPercent: 1, load1: 0, disks: [], memoryPercent: script[i++] === 'f' ? 95 : 50 });
    const svc = new ProbeService({ clock, sink, hostSampler: sampler, logger: log, incidentUrl: (id) => `https://kuzet.ops.kz/incidents/${id}` });
    await svc.apply([{ probes: [{ name: 'kuzet-host', kind: 'host', system: 'kuzet', interval: '10s', timeout: '5s', confirm: { failures: 2 }, recover: { successes: 2 }, host: { memory_percent: 90 } } as ProbeDefinition], maintenance: [] }]);
    await svc.start();
    for (let n = 0; n < script.length; n++) {
      clock.set(svc.status().find((s) => s.name === 'kuzet-host')!.nextDue!);
      await flush();
    }
    await svc.stop();
    assert.equal(signals.length, 2);
    const story = lines.filter((l) => /^probe kuzet-host confirmed/.test(l.msg));
    assert.deepEqual(story.map((l) => l.msg.replace(/: memory.*$/, '')), [
      'probe kuzet-host confirmed down (kuzet), incident 41 https://kuzet.ops.kz/incidents/41',
      'probe kuzet-host confirmed up (kuzet), incident 41 https://kuzet.ops.kz/incidents/41',
    ]);
    assert.match(story[0]!.msg, /: memory % <= 90 failed: 95/);
    assert.equal(story[0]!.meta.incident, 41);
    assert.equal(story[1]!.meta.status, 'up');
  });
});
