// Event-loop lag and /healthz latency while kuzet takes large Alertmanager requests: the same new alerts sent as
// requests of 1,000 (the default cap; worked through in chunks of 100) and as requests of 64 (Prometheus's batch),
// three clients at once, while a fourth client asks /healthz every 10 ms over real HTTP.
//
//   node --import tsx bench/intake-lag.ts [--pg postgres://…] [--alerts 30000]
//
// Without --pg the app runs on its embedded store in a temporary folder. Not a test: figures depend on the machine.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createToken } from '../src/access/tokens.ts';
import { createApp } from '../src/app.ts';
import { systemClock } from '../src/clock.ts';
import { nullLogger } from '../src/log.ts';

const { values } = parseArgs({ options: { pg: { type: 'string', default: '' }, alerts: { type: 'string', default: '30000' } } });
const total = Number(values.alerts);
const run_id = Math.random().toString(36).slice(2, 8); // every alert is new, run after run
const dir = mkdtempSync(join(tmpdir(), 'kuzet-lag-'));
mkdirSync(join(dir, 'probes'));
writeFileSync(join(dir, 'kuzet.yaml'), `server: { listen: 127.0.0.1, port: 0 }
store: { url: "${values.pg}", data_dir: ${join(dir, 'data')} }
probes_dir: ${join(dir, 'probes')}
systems: [{ id: enbek, name: Electronic Labour Exchange }]
`);
const app = await createApp({ configFile: join(dir, 'kuzet.yaml'), clock: systemClock, log: nullLogger, port: 0, env: {} });
const { url } = await app.start();
const token = (await createToken(app.store, systemClock, 'bench', 'soc', 'bench')).token;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function run(label: string, perRequest: number, offset: number) {
  const lag = monitorEventLoopDelay({ resolution: 1 });
  const health: number[] = [];
  let done = false;
  const healthLoop = (async () => {
    while (!done) {
      const t0 = performance.now();
      await fetch(`${url}/healthz`).then((r) => r.arrayBuffer());
      health.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  lag.enable();
  const t0 = performance.now();
  let next = 0;
  const client = async () => {
    for (;;) {
      const from = next;
      if (from >= total) return;
      next += perRequest;
      const body = JSON.stringify(Array.from({ length: Math.min(perRequest, total - from) }, (_, i) => ({ labels: { alertname: `Lag-${run_id}-${offset + from + i}`, system: 'enbek' } })));
      const r = await fetch(`${url}/api/v2/alerts`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
      if (r.status !== 200) throw new Error(`${r.status} ${await r.text()}`);
    }
  };
  await Promise.all([client(), client(), client()]);
  const secs = (performance.now() - t0) / 1000;
  lag.disable();
  done = true;
  await healthLoop;
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(`| ${label} | ${Math.round(total / secs)} | ${ms(lag.percentile(50))} | ${ms(lag.percentile(99))} | ${ms(lag.max)} | ${pct(health, 50).toFixed(1)} | ${pct(health, 99).toFixed(1)} | ${Math.max(...health).toFixed(1)} |`);
}

console.log(`${total} new alerts, 3 clients, store ${values.pg ? 'PostgreSQL' : 'embedded'}`);
console.log('| requests of | alerts/s | lag p50 ms | lag p99 ms | lag max ms | /healthz p50 ms | /healthz p99 ms | /healthz max ms |');
console.log('|---|---|---|---|---|---|---|---|');
await run('1,000 alerts', 1000, 0);
await run('64 alerts', 64, total);
await app.stop();
rmSync(dir, { recursive: true, force: true });
