// Benchmark (not a test): from a firing signal entering the incident engine to the page handed to an
// SMTP server, with 1,000 incidents already open and escalating (--open 0: idle).
//
//   node --import tsx bench/escalation/signal-to-smtp.ts [--n 300] [--open 1000] [--peer]
//   DATABASE_URL=postgres://... node --import tsx bench/escalation/signal-to-smtp.ts
//
// The SMTP server (smtp-server) runs in-process on 127.0.0.1; each sample waits for its mail before the
// next signal, so the figure is latency, not queueing. Prints p50/p95/p99/max in milliseconds.
// --peer also measures Alertmanager in the same run (prometheus-alertmanager, in memory, group_wait 0s,
// one group per alert, e-mail to a second in-process SMTP server): POST /api/v2/alerts to mail received.
// --poll: on PostgreSQL, do not LISTEN (the worker's nudges and 500 ms poll, as before LISTEN/NOTIFY).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const { values } = parseArgs({ options: { n: { type: 'string', default: '300' }, open: { type: 'string', default: '1000' }, peer: { type: 'boolean', default: false }, poll: { type: 'boolean', default: false } } });
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
if (values.poll) (store as { listen?: unknown }).listen = undefined;

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
const afterCommit: number[] = [];
let commitMs = 0;
for (let i = 0; i < N; i++) {
  const start = performance.now();
  await engine.processBatch([signal(`sample-${i}`)]);
  const committed = performance.now();
  commitMs += committed - start;
  await waitFor(OPEN + i + 1, 30_000);
  lat.push(performance.now() - start);
  afterCommit.push(performance.now() - committed);
}
const stats = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  const q = (p: number) => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)]!;
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: q(1) };
};
const k = stats(lat);
const f = (x: number) => x.toFixed(1);
console.log(`signal -> SMTP, ${N} samples, ${OPEN} open incidents, ${store.kind}${svc.worker.listening ? ' (LISTEN/NOTIFY)' : ''}: p50 ${f(k.p50)} ms, p95 ${f(k.p95)} ms, p99 ${f(k.p99)} ms, max ${f(k.max)} ms (of which the engine transaction: mean ${(commitMs / N).toFixed(1)} ms)`);
const c = stats(afterCommit);
console.log(`  commit -> SMTP: p50 ${f(c.p50)} ms, p95 ${f(c.p95)} ms, p99 ${f(c.p99)} ms, max ${f(c.max)} ms`);

await svc.stop();
if (url) await store.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
await store.close();
await new Promise<void>((r) => smtp.close(() => r()));

if (values.peer) {
  const am = await alertmanagerLatency(N);
  console.log(`Alertmanager alert -> SMTP, ${N} samples: p50 ${f(am.p50)} ms, p95 ${f(am.p95)} ms, p99 ${f(am.p99)} ms, max ${f(am.max)} ms`);
  console.log(`ratio kuzet/Alertmanager: p50 ${(k.p50 / am.p50).toFixed(2)}, p99 ${(k.p99 / am.p99).toFixed(2)}`);
}

async function freePort(): Promise<number> {
  const s = createServer();
  const p = await new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Alertmanager (no durability of its own) mailing each new alert at once: the peer's figure. */
async function alertmanagerLatency(n: number) {
  let got = 0;
  let wake: (() => void) | null = null;
  const mail = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _s, cb) {
      stream.on('data', () => {});
      stream.on('end', () => {
        got++;
        wake?.();
        cb();
      });
    },
  });
  const smtpPort = await new Promise<number>((r) => mail.listen(0, '127.0.0.1', () => r((mail.server.address() as AddressInfo).port)));
  const dir = mkdtempSync(join(tmpdir(), 'kuzet-bench-am-'));
  const webPort = await freePort();
  writeFileSync(
    join(dir, 'am.yml'),
    `global: { smtp_smarthost: "127.0.0.1:${smtpPort}", smtp_from: "am@example.kz", smtp_require_tls: false }
route: { receiver: mail, group_by: ["..."], group_wait: 0s, group_interval: 1s, repeat_interval: 1h }
receivers: [{ name: mail, email_configs: [{ to: duty@example.kz, send_resolved: false }] }]
`,
  );
  const child = spawn('prometheus-alertmanager', [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${webPort}`, '--cluster.listen-address=', '--log.level=error'], { stdio: 'ignore' });
  try {
    const base = `http://127.0.0.1:${webPort}`;
    for (let i = 0; ; i++) {
      if (i > 200) throw new Error('Alertmanager did not become ready');
      const ok = await fetch(`${base}/-/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const until = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`Alertmanager: ${got}/${count} mails`)), 30_000);
        const check = () => {
          if (got >= count) {
            clearTimeout(t);
            wake = null;
            resolve();
          }
        };
        wake = check;
        check();
      });
    const out: number[] = [];
    for (let i = 0; i < n + 5; i++) {
      const start = performance.now();
      const r = await fetch(`${base}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels: { alertname: 'HttpsHomeDown', system: 'enbek', sample: String(i) }, annotations: { summary: 'enbek.kz does not answer' } }]),
      });
      if (!r.ok) throw new Error(`Alertmanager answered ${r.status}`);
      await until(i + 1);
      if (i >= 5) out.push(performance.now() - start); // the first few warm the SMTP connection
    }
    return stats(out);
  } finally {
    child.kill('SIGTERM');
    await new Promise<void>((r) => mail.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}
