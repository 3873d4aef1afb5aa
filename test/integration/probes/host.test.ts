import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, systemClock } from '../../../src/clock.ts';
import { runWithRetries } from '../../../src/sources/probes/factory.ts';
import { hostProbe, type HostSample } from '../../../src/sources/probes/kinds/host.ts';

// host: the real machine through systeminformation, and thresholds that must hold for a while.

test('the real host: generous thresholds pass; a disk that is not mounted fails by name', async () => {
  const ok = await runWithRetries(hostProbe('h', { memory_percent: 100, disks: [{ mount: '/', max_percent: 100 }] }, { clock: systemClock }), { timeoutMs: 20_000, retries: 0 }, systemClock);
  assert.equal(ok.ok, true, ok.reason);
  assert.match(ok.assertions[0]!.actual!, /^\d+(\.\d)?$/);
  const missing = await runWithRetries(hostProbe('h', { disks: [{ mount: '/no/such/mount', max_percent: 90 }] }, { clock: systemClock }), { timeoutMs: 20_000, retries: 0 }, systemClock);
  assert.equal(missing.reason, 'disk /no/such/mount % <= 90 failed: not found on this host');
});

test('a threshold must be exceeded for `for` before the probe fails; dropping below restarts the wait', async () => {
  const clock = new FakeClock();
  const cpu = [95, 95, 95, 40, 95, 95, 95, 95];
  let i = 0;
  const sampler = async (): Promise<HostSample> => ({ cpuPercent: cpu[i++]!, memoryPercent: 10, load1: 0, disks: [] });
  const probe = hostProbe('h', { cpu_percent: 90, for: '1m' }, { clock, sampler });
  const seen: boolean[] = [];
  for (let n = 0; n < cpu.length; n++) {
    const r = await runWithRetries(probe, { timeoutMs: 1000, retries: 0 }, clock);
    seen.push(r.ok);
    clock.advance(30_000);
  }
  // above at 0, 30 s, 60 s (held 60 s: fails); below at 90 s; above again from 120 s: fails at 180 s.
  assert.deepEqual(seen, [true, true, false, true, true, true, false, false]);
});
