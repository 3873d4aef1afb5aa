import assert from 'node:assert/strict';
import { X509Certificate as X509 } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { FakeClock, systemClock } from '../../../src/clock.ts';
import { runWithRetries } from '../../../src/sources/probes/factory.ts';
import { dnsProbe, tcpProbe, tlsProbe } from '../../../src/sources/probes/kinds/net.ts';
import type { Probe, ProbeResult } from '../../../src/sources/probes/types.ts';
import { dnsServer, listen, makeCerts, type Certs } from './support.ts';

// tcp, tls and dns probes against local servers.

let certs: Certs;
const closers: (() => Promise<void>)[] = [];
let echoPort = 0;
let silentPort = 0;
let dnsPort = 0;

before(async () => {
  certs = makeCerts();
  const echo = await listen(net.createServer((s) => s.on('data', (d) => s.write(`+PONG ${d.toString().trim()}\r\n`)).on('error', () => {})));
  const silent = await listen(net.createServer((s) => s.on('error', () => {})));
  const dns = await dnsServer({ 'enbek.kz': { A: ['10.0.0.7', '10.0.0.8'], TXT: ['v=spf1 -all'] } });
  echoPort = echo.port;
  silentPort = silent.port;
  dnsPort = dns.port;
  closers.push(echo.close, silent.close, dns.close);
});
after(async () => {
  for (const c of closers) await c();
  rmSync(certs.dir, { recursive: true, force: true });
});

const run = (p: Probe, timeoutMs = 2000, clock = systemClock): Promise<ProbeResult> => runWithRetries(p, { timeoutMs, retries: 0 }, clock);

describe('tcp probe', () => {
  test('connects, sends, finds the expected answer', async () => {
    const r = await run(tcpProbe('t', { host: '127.0.0.1', port: echoPort, send: 'PING\r\n', expect: '+PONG' }, { clock: systemClock }));
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.assertions.length, 2);
  });

  test('a refused port fails naming the address', async () => {
    const s = await listen(net.createServer());
    await s.close();
    const r = await run(tcpProbe('t', { host: '127.0.0.1', port: s.port }, { clock: systemClock }));
    assert.equal(r.reason, `connection refused by 127.0.0.1:${s.port}`);
  });

  test('a server that never answers fails at the timeout, waiting for the answer', async () => {
    const r = await run(tcpProbe('t', { host: '127.0.0.1', port: silentPort, send: 'PING\r\n', expect: '+PONG' }, { clock: systemClock }), 300);
    assert.equal(r.reason, `timed out after 300 ms waiting for the expected answer to 127.0.0.1:${silentPort}`);
  });

  test('an answer without the expected text fails', async () => {
    const r = await run(tcpProbe('t', { host: '127.0.0.1', port: echoPort, send: 'PING\r\n', expect: '220 ' }, { clock: systemClock }), 300);
    assert.equal(r.ok, false);
  });
});

describe('tls probe', () => {
  async function serve(pair: { cert: string; key: string }): Promise<number> {
    const s = await listen(tls.createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key) }, (sock) => sock.end()));
    closers.push(s.close);
    return s.port;
  }

  test('days to expiry against warn and critical thresholds, judged by the injected clock', async () => {
    const port = await serve(certs.valid);
    const notAfter = new Date(new X509(readFileSync(certs.valid.cert)).validTo).getTime();
    const spec = { host: '127.0.0.1', servername: 'localhost', port, ca_file: certs.ca, warn_days: 30, critical_days: 7 };
    const at = (daysBefore: number) => new FakeClock(notAfter - daysBefore * 86_400_000 - 3_600_000);
    const fine = await run(tlsProbe('t', spec, { clock: at(60) }));
    assert.equal(fine.ok, true, fine.reason);
    const warn = await run(tlsProbe('t', spec, { clock: at(20) }));
    assert.equal(warn.ok, false);
    assert.equal(warn.severity, 'warning');
    assert.equal(warn.reason, 'expires in >= 30 days (warning) failed: 20 days');
    const crit = await run(tlsProbe('t', spec, { clock: at(3) }));
    assert.equal(crit.severity, 'critical');
    assert.equal(crit.reason, 'expires in >= 7 days (critical) failed: 3 days');
  });

  test('an expired certificate is critical', async () => {
    const port = await serve(certs.expired);
    const r = await run(tlsProbe('t', { host: '127.0.0.1', servername: 'localhost', port, ca_file: certs.ca }, { clock: systemClock }));
    assert.equal(r.ok, false);
    assert.equal(r.severity, 'critical');
    assert.match(r.reason!, /^certificate not expired failed: expired \d+(\.\d)? days ago \(valid until Feb {2}1 00:00:00 2020 GMT\)$/);
  });

  test('a self-signed certificate fails the chain check; a wrong name fails the name check', async () => {
    const selfPort = await serve(certs.selfSigned);
    const self = await run(tlsProbe('t', { host: '127.0.0.1', servername: 'localhost', port: selfPort }, { clock: systemClock }));
    assert.equal(self.reason, 'certificate chain trusted failed: self-signed: CN=localhost is not a trusted certificate (DEPTH_ZERO_SELF_SIGNED_CERT)');
    const wrongPort = await serve(certs.wrongName);
    const wrong = await run(tlsProbe('t', { host: '127.0.0.1', servername: 'localhost', port: wrongPort, ca_file: certs.ca }, { clock: systemClock }));
    assert.match(wrong.reason!, /^certificate names localhost failed: hostname mismatch: .*other\.example/);
  });

  test('a plain TCP server that never starts TLS times out in the handshake', async () => {
    const r = await run(tlsProbe('t', { host: '127.0.0.1', port: silentPort }, { clock: systemClock }), 300);
    assert.equal(r.reason, `timed out after 300 ms in the TLS handshake with 127.0.0.1:${silentPort}`);
  });
});

describe('dns probe', () => {
  test('expected A and TXT records are found at the given resolver', async () => {
    const a = await run(dnsProbe('d', { name: 'enbek.kz', server: `127.0.0.1:${dnsPort}`, expect: ['10.0.0.8'] }, { clock: systemClock }));
    assert.equal(a.ok, true, a.reason);
    const txt = await run(dnsProbe('d', { name: 'enbek.kz', type: 'TXT', server: `127.0.0.1:${dnsPort}`, expect: ['v=spf1 -all'] }, { clock: systemClock }));
    assert.equal(txt.ok, true, txt.reason);
  });

  test('a missing expected record, an unknown name and a dead resolver each fail precisely', async () => {
    const missing = await run(dnsProbe('d', { name: 'enbek.kz', server: `127.0.0.1:${dnsPort}`, expect: ['10.9.9.9'] }, { clock: systemClock }));
    assert.equal(missing.reason, 'answer includes 10.9.9.9 failed: got 10.0.0.7, 10.0.0.8');
    const nx = await run(dnsProbe('d', { name: 'nothing.enbek.kz', server: `127.0.0.1:${dnsPort}` }, { clock: systemClock }));
    assert.equal(nx.reason, 'DNS A nothing.enbek.kz: no such name (NXDOMAIN)');
    const s = await listen(net.createServer());
    await s.close(); // nothing listens on that UDP port either (most likely); the resolver times out or is refused
    const dead = await run(dnsProbe('d', { name: 'enbek.kz', server: `127.0.0.1:${s.port}` }, { clock: systemClock }), 300);
    assert.equal(dead.ok, false);
    assert.match(dead.reason!, /^DNS A enbek\.kz: (timed out after 300 ms|the resolver did not answer|the resolver refused the connection|the query was cancelled)$/);
  });
});
