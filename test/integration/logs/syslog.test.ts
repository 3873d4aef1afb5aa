import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import dgram from 'node:dgram';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { systemClock } from '../../../src/clock.ts';
import type { Signal } from '../../../src/signals/signal.ts';
import { LogIntake } from '../../../src/sources/logs/intake.ts';
import { SyslogServer } from '../../../src/sources/logs/syslog-server.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';
import { tempDir } from './support.ts';

// The syslog listener driven by real clients: util-linux `logger` over UDP and TCP, and a real rsyslog
// (its own config in a temp dir) forwarding with octet counting. Messages go through the log rules.

const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg]).status === 0;
const hasLogger = has('logger', '--help');
const hasRsyslog = has('rsyslogd', '-v');

let store: Store;
let intake: LogIntake;
let registry: Registry;
let udpPort = 0;
let tcpPort = 0;
const got: Signal[] = [];
let gate: Promise<void> = Promise.resolve();

before(async () => {
  store = await freshStore();
  registry = new Registry();
  intake = new LogIntake(
    {
      syslog: { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 }, max_message_bytes: 2048, system: 'hosts' },
      rules: [
        { name: 'probe', pattern: 'kuzet-probe (?P<case>[a-z0-9-]+)$', group_by: ['case'], severity: 'major' },
        { name: 'burst', pattern: 'burst-line (?P<n>\\d+)', group_by: ['n'] },
        { name: 'anchored', pattern: '^kuzet-anchored (?P<n>\\d+)$', group_by: ['n'] },
      ],
    },
    {
      store,
      clock: systemClock,
      registry,
      sink: {
        submit: async (signals) => {
          await gate; // a slow store: receiving must not wait for it
          got.push(...signals);
          return signals;
        },
      },
    },
  );
  await intake.start();
  const a = intake.syslogAddress();
  udpPort = a.udp!;
  tcpPort = a.tcp!;
});

after(async () => {
  await intake.stop();
  await store.close();
});

async function waitFor<T>(fn: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  for (let waited = 0; ; waited += 20) {
    const v = fn();
    if (v !== undefined) return v;
    if (waited > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const signalFor = (c: string) => waitFor(() => got.find((s) => s.labels.case === c), `a signal for ${c}`);

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as Array<{ labels: Record<string, string>; value: number }> | undefined)?.find((x) =>
    Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val),
  );
  return v?.value ?? 0;
}

for (const [name, args] of [
  ['udp-5424', ['-d', '--rfc5424']],
  ['udp-3164', ['-d', '--rfc3164']],
  ['tcp-newline', ['-T', '--rfc5424']],
  ['tcp-octet', ['-T', '--octet-count', '--rfc5424']],
] as const) {
  test(`logger ${name} reaches the rules`, { skip: !hasLogger && 'logger is not installed' }, async () => {
    const port = name.startsWith('udp') ? udpPort : tcpPort;
    const r = spawnSync('logger', ['-n', '127.0.0.1', '-P', String(port), ...args, '-t', 'payments', '-p', 'local3.err', `kuzet-probe ${name}`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const s = await signalFor(name);
    assert.equal(s.source, 'log');
    assert.equal(s.system, 'hosts');
    assert.equal(s.check, 'probe');
    assert.equal(s.labels.app, 'payments');
    assert.equal(s.labels.facility, 'local3');
    assert.equal(s.labels.syslog_severity, 'err');
    assert.equal(s.labels.input, 'syslog');
  });
}

/** A real rsyslogd (own config, pid file and work dir in a temp dir) reading imuxsock on a temp socket and forwarding to kuzet. */
async function withRsyslog(template: string | null, fn: (sock: string) => Promise<void>): Promise<void> {
  const t = tempDir();
  const sock = join(t.dir, 'log.sock');
  const conf = join(t.dir, 'rsyslog.conf');
  const tpl = template ? ` template="${template}"` : '';
  writeFileSync(
    conf,
    [
      `global(workDirectory="${t.dir}")`,
      'module(load="imuxsock" SysSock.Use="off")',
      `input(type="imuxsock" Socket="${sock}" CreatePath="on")`,
      `*.* action(type="omfwd" target="127.0.0.1" port="${tcpPort}" protocol="tcp" TCP_Framing="octet-counted"${tpl})`,
      '',
    ].join('\n'),
  );
  const rs = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(t.dir, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  rs.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  try {
    await waitFor(() => (spawnSync('test', ['-S', sock]).status === 0 ? true : undefined), `rsyslog socket (${err})`);
    await fn(sock);
  } finally {
    rs.kill('SIGTERM');
    await once(rs, 'exit');
    t.cleanup();
  }
}

test('rsyslog forwards with octet counting (newline inside the frame) and the message matches', { skip: !hasRsyslog && 'rsyslog is not installed', timeout: 30_000 }, async () => {
  await withRsyslog(null, async (sock) => {
    const r = spawnSync('logger', ['-u', sock, '-t', 'billing', 'kuzet-probe via-rsyslog'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const s = await signalFor('via-rsyslog');
    assert.equal(s.labels.app, 'billing');
    assert.ok(s.labels.host, 'rsyslog adds the host name');
    assert.equal(String(s.payload.sample), 'kuzet-probe via-rsyslog', 'no trailing newline or leading space survives');
  });
});

test('rsyslog imuxsock forwarded as RFC 5424 (RSYSLOG_SyslogProtocol23Format): 20 of 20 match a rule anchored with ^', { skip: !hasRsyslog && 'rsyslog is not installed', timeout: 30_000 }, async () => {
  await withRsyslog('RSYSLOG_SyslogProtocol23Format', async (sock) => {
    for (let n = 1; n <= 20; n++) {
      // Every other message carries a BOM, as RFC 5424 senders of UTF-8 text may.
      const text = `${n % 2 ? '' : '\ufeff'}kuzet-anchored ${n}`;
      const r = spawnSync('logger', ['-u', sock, '-t', 'anchors', text], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const anchored = () => got.filter((s) => s.check === 'anchored');
    await waitFor(() => (anchored().length >= 20 ? true : undefined), 'all 20 anchored matches');
    assert.deepEqual(new Set(anchored().map((s) => s.labels.n)), new Set(Array.from({ length: 20 }, (_, i) => String(i + 1))));
    for (const s of anchored()) {
      assert.equal(s.labels.app, 'anchors');
      assert.equal(String(s.payload.sample), `kuzet-anchored ${s.labels.n}`);
    }
  });
});

test('a UDP burst while the event loop and the store are busy loses nothing', { timeout: 60_000 }, async () => {
  // The listener asks for a 4 MiB socket buffer; the kernel may grant less (net.core.rmem_max). Size the burst
  // to what the buffer holds (about 1 KiB of kernel memory per small datagram) so it is never the limit.
  const probe = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const granted = probe.getRecvBufferSize();
  probe.close();
  const N = Math.min(5000, Math.floor(granted / 1024));
  assert.ok(N >= 100, `socket buffer too small for a meaningful burst (${granted} bytes)`);
  let release!: () => void;
  gate = new Promise((r) => (release = r));
  const before = await metric('kuzet_syslog_messages_received_total', { transport: 'udp' });
  const sender = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       let i = 0;
       (function send() { if (i >= ${N}) return s.close();
         const n = ++i; s.send('<11>1 - h burster - - - burst-line ' + n, ${udpPort}, '127.0.0.1', send); })();`,
    ],
    { stdio: 'ignore' },
  );
  // Keep this process busy for a while, as a slow rule pass would: datagrams wait in the socket buffer.
  const until = performance.now() + 200;
  while (performance.now() < until);
  await once(sender, 'exit');
  await waitFor(() => (got.filter((s) => s.check === 'burst').length === 0 ? true : undefined), 'the store to be blocked');
  release();
  await waitFor(() => (got.filter((s) => s.check === 'burst').length >= N ? true : undefined), `all ${N} burst signals`, 30_000);
  const ns = new Set(got.filter((s) => s.check === 'burst').map((s) => s.labels.n));
  assert.equal(ns.size, N);
  assert.equal((await metric('kuzet_syslog_messages_received_total', { transport: 'udp' })) - before, N);
});

test('garbage and over-long messages are counted drops, and the listener keeps working', async () => {
  const g0 = await metric('kuzet_log_dropped_total', { input: 'syslog', reason: 'garbage' });
  const l0 = await metric('kuzet_log_dropped_total', { input: 'syslog', reason: 'too_long' });
  const u = dgram.createSocket('udp4');
  const send = (m: string | Buffer) => new Promise<void>((r) => u.send(m, udpPort, '127.0.0.1', () => r()));
  await send('no priority at all');
  await send(Buffer.from([0xff, 0xfe, 0x00, 0x01]));
  await send('<13>' + 'x'.repeat(5000));
  await send('<13>1 - h app - - - kuzet-probe udp-after-garbage');
  u.close();
  const c = net.connect(tcpPort, '127.0.0.1');
  await once(c, 'connect');
  c.write(`this is not syslog\n<13>${'y'.repeat(3000)}\n12x <13>bad count\n<13>1 - h app - - - kuzet-probe tcp-after-garbage\n`);
  c.end();
  await signalFor('udp-after-garbage');
  await signalFor('tcp-after-garbage');
  assert.equal((await metric('kuzet_log_dropped_total', { input: 'syslog', reason: 'garbage' })) - g0, 4, 'two UDP and two TCP garbage messages');
  assert.equal((await metric('kuzet_log_dropped_total', { input: 'syslog', reason: 'too_long' })) - l0, 2, 'one over-long message on each transport');
});

test('random bytes on TCP and UDP never stop the listener', { timeout: 60_000 }, async () => {
  const u = dgram.createSocket('udp4');
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), async (a, b) => {
      await new Promise<void>((r) => u.send(Buffer.from(a.length ? a : [0]), udpPort, '127.0.0.1', () => r()));
      const c = net.connect(tcpPort, '127.0.0.1');
      await once(c, 'connect');
      c.end(Buffer.from(b));
      await once(c, 'close');
    }),
    { numRuns: 60 },
  );
  u.close();
  const r = spawnSync('logger', ['-n', '127.0.0.1', '-P', String(tcpPort), '-T', '--octet-count', `kuzet-probe after-fuzz`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  await signalFor('after-fuzz');
});

test('a small queue: TCP pushes back and loses nothing; UDP drops are counted, never silent', { timeout: 60_000 }, async () => {
  const drops = new Map<string, number>();
  let delivered = 0;
  const server = new SyslogServer(
    { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0, maxConnections: 4 }, maxMessageBytes: 1024, queue: 100 },
    {
      clock: systemClock,
      metrics: { received: () => {}, dropped: (reason, n) => drops.set(reason, (drops.get(reason) ?? 0) + n) },
      onMessages: (batch) => {
        delivered += batch.length;
        const until = performance.now() + 2; // slow rules
        while (performance.now() < until);
      },
    },
  );
  await server.start();
  const { udp, tcp } = server.address();
  const N = 20_000;
  const c = net.connect(tcp!, '127.0.0.1');
  await once(c, 'connect');
  for (let i = 0; i < N; i++) if (!c.write(`<13>1 - h app - - - tcp ${i}\n`)) await once(c, 'drain');
  c.end();
  await waitFor(() => (delivered >= N ? true : undefined), 'every TCP message', 50_000);
  assert.equal(delivered, N);
  assert.equal(drops.get('queue_full') ?? 0, 0);
  delivered = 0;
  const M = 2000;
  const u = dgram.createSocket('udp4');
  for (let i = 0; i < M; i++) await new Promise<void>((r) => u.send(`<13>1 - h app - - - udp ${i}`, udp!, '127.0.0.1', () => r()));
  u.close();
  await waitFor(() => (delivered + (drops.get('queue_full') ?? 0) >= M ? true : undefined), 'every UDP message delivered or counted');
  assert.equal(delivered + (drops.get('queue_full') ?? 0), M);
  await server.stop();
});
