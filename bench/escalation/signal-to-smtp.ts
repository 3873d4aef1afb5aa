// Benchmark (not a test): from a firing signal entering the incident engine to the page handed to an
// SMTP server, with 1,000 incidents already open and escalating.
//
//   node --import tsx bench/escalation/signal-to-smtp.ts [--n 300] [--open 1000]
//   DATABASE_URL=postgres://... node --import tsx bench/escalation/signal-to-smtp.ts
//
// The SMTP server (smtp-server) runs in-process on 127.0.0.1; each sample waits for its mail before the
// next signal, so the figure is latency, not queueing. Prints p50/p95/p99/max in milliseconds.
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { systemClock } from '../../src/clock.ts';
import type { EscalationConfig } from '../../src/escalation/config.ts';
import { IncidentEngine } from '../../src/incidents/engine.ts';
import { createEscalationService } from '../../src/notify/service.ts';
import type { Signal } from '../../src/signals/signal.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/store.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '300' }, open: { type: 'string', default: '1000' } } });
const N = Math.min(Number(values.n), 5000);
const OPEN = Math.min(Number(values.open), 20000);

let received = 0;
let waiter: (() => void) | null = null;
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, _session, cb) {
    stream.on('data', () => {});
    stream.on('end', () => {
      received++;
      waiter?.();
      cb();
    });
  },
});
const port = await new Promise<number>((r) => smtp.listen(0, '127.0.0.1', () => r((smtp.server.address() as AddressInfo).port)));

const url = process.env.DATABASE_URL;
const schema = `bench_${process.pid}`;
const store = await openStore(url ? { url, schema } : { dataDir: 'memory://' });
await migrate(store);

const cfg: EscalationConfig = {
  default_lang: 'ru',
  public_url: 'https://kuzet.example.kz',
  ack_links: { secret: 'bench-secret-0123456789' },
  people: { duty: { name: 'Duty', email: 'duty@example.kz', via: ['email'] } },
  rotations: { primary: { layers: [{ name: 'main', members: ['duty'], hand_off: 'weekly', start: '2020-01-06' }] } },
  channels: { email: { type: 'email', host: '127.0.0.1', port, from: 'kuzet@example.kz', timeout: '10s' } },
  policies: [{ name: 'all', ack_deadline: '30m', steps: [{ after: '0m', notify: [{ rotation: 'primary' }] }, { after: '15m', notify: [{ person: 'duty' }] }] }],
  outbox: { concurrency: 32 },
};
const engine = new IncidentEngine({ store, clock: systemClock, policy: () => ({ reopenWindowMs: 0, flapFlips: 0, flapWindowMs: 60_000 }) });
const svc = createEscalationService({ store, clock: systemClock, config: () => cfg, engine });
await svc.start();

const signal = (fp: string): Signal => ({
  source: 'probe', system: 'enbek', check: 'https-home', fingerprint: fp, severity: 'critical', status: 'firing',
  summary: 'enbek.kz does not answer', labels: {}, payload: {}, observedAt: systemClock.now(),
});

const waitFor = (count: number, ms: number) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out: ${received}/${count} mails`)), ms);
    const check = () => {
      if (received >= count) {
        clearTimeout(t);
        waiter = null;
        resolve();
      }
    };
    waiter = check;
    check();
  });

const t0 = performance.now();
for (let i = 0; i < OPEN; i += 100) await engine.processBatch(Array.from({ length: Math.min(100, OPEN - i) }, (_, j) => signal(`open-${i + j}`)));
await waitFor(OPEN, 300_000);
console.log(`setup: ${OPEN} open incidents paged in ${Math.round(performance.now() - t0)} ms (${store.kind})`);

const lat: number[] = [];
let commitMs = 0;
for (let i = 0; i < N; i++) {
  const start = performance.now();
  await engine.processBatch([signal(`sample-${i}`)]);
  commitMs += performance.now() - start;
  await waitFor(OPEN + i + 1, 30_000);
  lat.push(performance.now() - start);
}
lat.sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]!.toFixed(1);
console.log(`signal -> SMTP, ${N} samples, ${OPEN} open incidents, ${store.kind}: p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (of which the engine transaction: mean ${(commitMs / N).toFixed(1)} ms)`);

await svc.stop();
if (url) await store.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
await store.close();
await new Promise<void>((r) => smtp.close(() => r()));
