import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { FakeClock, systemClock } from '../../../src/clock.ts';
import { runWithRetries } from '../../../src/sources/probes/factory.ts';
import { HttpAgents } from '../../../src/sources/probes/http-client.ts';
import { httpProbe } from '../../../src/sources/probes/kinds/http.ts';
import { days, tcpProbe, tlsProbe } from '../../../src/sources/probes/kinds/net.ts';
import type { Probe, ProbeResult } from '../../../src/sources/probes/types.ts';
import { listen } from './support.ts';

// The tls probe names each certificate fault (self-signed, untrusted chain, hostname mismatch, expired, not yet
// valid), counts days exactly, and sends no SNI to an IP address. Certificates are made by openssl at test time.
// Node warns about an IP in SNI once per process: this file runs in its own process, the IP tests first.

const DAY = 86_400_000;
const warnings: Error[] = [];
process.on('warning', (w) => warnings.push(w));

interface Pair {
  cert: string;
  key: string;
}
let dir = '';
const f = (n: string) => path.join(dir, n);
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const key = (n: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(n)];

/** A CA database for `openssl ca` (which sets any start and end date, past or future, unlike req -x509 in OpenSSL 3.0). */
function caConfig(name: string, caCert: string, caKey: string): string {
  const db = f(`${name}.index`);
  writeFileSync(db, '');
  writeFileSync(f(`${name}.serial`), '1000\n');
  const cnf = f(`${name}.cnf`);
  writeFileSync(
    cnf,
    [
      '[ca]', 'default_ca = t', '[t]', `database = ${db}`, `serial = ${f(`${name}.serial`)}`, `new_certs_dir = ${dir}`,
      `certificate = ${caCert}`, `private_key = ${caKey}`, 'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none',
      '[any]', 'commonName = supplied',
      '[leaf]', 'subjectAltName = DNS:localhost,IP:127.0.0.1', 'basicConstraints = CA:false',
      '[other]', 'subjectAltName = DNS:other.example', 'basicConstraints = CA:false',
      '[sub]', 'basicConstraints = critical,CA:true', 'keyUsage = critical,keyCertSign,cRLSign',
    ].join('\n'),
  );
  return cnf;
}

function sign(cnf: string, name: string, cn: string, ext: string, dates: string[], selfSign = false): Pair {
  ssl('req', ...key(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
  ssl('ca', '-batch', '-config', cnf, '-extensions', ext, ...dates, ...(selfSign ? ['-selfsign', '-keyfile', f(`${name}.key`)] : []), '-in', f(`${name}.csr`), '-out', f(`${name}.crt`));
  return { cert: f(`${name}.crt`), key: f(`${name}.key`) };
}

function rootCa(name: string, cn: string): Pair {
  ssl('req', '-x509', ...key(`${name}.key`), '-out', f(`${name}.crt`), '-days', '3650', '-subj', `/CN=${cn}`);
  return { cert: f(`${name}.crt`), key: f(`${name}.key`) };
}

let root: Pair;
let stranger: Pair;
let leaf: Pair;
let chained: Pair;
let chainedFull: string;
let wrongName: Pair;
let expired: Pair;
let notYet: Pair;
let selfFresh: Pair;
let selfExpired: Pair;
const ports: Record<string, number> = {};
const closers: (() => Promise<void>)[] = [];

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kuzet-certs-'));
  root = rootCa('root', 'kuzet test root');
  stranger = rootCa('stranger', 'somebody else');
  const rootCnf = caConfig('rootdb', root.cert, root.key);
  const soon = (d: number) => new Date(Date.now() + d * DAY).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  leaf = sign(rootCnf, 'leaf', 'localhost', 'leaf', ['-days', '90']);
  wrongName = sign(rootCnf, 'wrong', 'other.example', 'other', ['-days', '90']);
  expired = sign(rootCnf, 'expired', 'localhost', 'leaf', ['-startdate', '200101000000Z', '-enddate', '200201000000Z']);
  notYet = sign(rootCnf, 'notyet', 'localhost', 'leaf', ['-startdate', soon(10), '-enddate', soon(100)]);
  // An intermediate CA: the server sends leaf + intermediate (and, in one case, the root as well).
  const inter = sign(rootCnf, 'inter', 'kuzet test intermediate', 'sub', ['-days', '365']);
  chained = sign(caConfig('interdb', inter.cert, inter.key), 'chained', 'localhost', 'leaf', ['-days', '90']);
  writeFileSync(f('chained-bundle.crt'), readFileSync(chained.cert, 'utf8') + readFileSync(inter.cert, 'utf8'));
  chainedFull = f('chained-full.crt');
  writeFileSync(chainedFull, readFileSync(f('chained-bundle.crt'), 'utf8') + readFileSync(root.cert, 'utf8'));
  const selfCnf = caConfig('selfdb', f('unused.crt'), f('unused.key'));
  selfFresh = sign(selfCnf, 'self', 'localhost', 'leaf', ['-days', '30'], true);
  selfExpired = sign(selfCnf, 'selfold', 'localhost', 'leaf', ['-startdate', '200101000000Z', '-enddate', '200201000000Z'], true);
  const serve = async (name: string, pair: Pair, certFile = pair.cert) => {
    const s = await listen(tls.createServer({ cert: readFileSync(certFile), key: readFileSync(pair.key) }, (sock) => sock.end()));
    closers.push(s.close);
    ports[name] = s.port;
  };
  await serve('leaf', leaf);
  await serve('wrong', wrongName);
  await serve('expired', expired);
  await serve('notyet', notYet);
  await serve('chained', chained, f('chained-bundle.crt'));
  await serve('chained-full', chained, chainedFull);
  await serve('self', selfFresh);
  await serve('self-expired', selfExpired);
  const h = await listen(https.createServer({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key) }, (_q, r) => r.end('ok')));
  closers.push(h.close);
  ports.https = h.port;
});
after(async () => {
  for (const c of closers) await c();
  rmSync(dir, { recursive: true, force: true });
});

const run = (p: Probe, clock = systemClock): Promise<ProbeResult> => runWithRetries(p, { timeoutMs: 3000, retries: 0 }, clock);
const tlsAt = (port: number, extra: Record<string, unknown> = {}, clock = systemClock) =>
  run(tlsProbe('t', { host: '127.0.0.1', servername: 'localhost', port, ca_file: root.cert, ...extra }, { clock }), clock);
const failed = (r: ProbeResult) => r.assertions.filter((a) => !a.ok).map((a) => `${a.name}: ${a.actual}`);

describe('TLS to an IP address', () => {
  test('tls, tcp+tls and https probes to 127.0.0.1 verify the IP and print no deprecation warning', async () => {
    const t = await run(tlsProbe('t', { host: '127.0.0.1', port: ports.leaf!, ca_file: root.cert }, { clock: systemClock }));
    assert.equal(t.ok, true, t.reason);
    assert.equal(t.assertions[1]!.name, 'certificate names 127.0.0.1');
    const c = await run(tcpProbe('t', { host: '127.0.0.1', port: ports.leaf!, tls: true }, { clock: systemClock }));
    assert.match(c.reason ?? '', /unknown issuer|cannot be verified/, 'the tcp probe verifies against the default roots');
    const agents = new HttpAgents();
    const h = await run(httpProbe('t', { url: `https://127.0.0.1:${ports.https}/`, tls: { ca_file: root.cert, servername: '127.0.0.1' } }, { clock: systemClock, agents }));
    await agents.close();
    assert.equal(h.ok, true, h.reason);
    await new Promise((r) => setImmediate(r)); // warnings are emitted on a later tick
    assert.deepEqual(warnings.map((w) => `${w.name}: ${w.message}`), []);
  });
});

describe('each certificate fault is named', () => {
  test('a trusted chain, sent with its intermediate (and with its root), passes', async () => {
    for (const port of [ports.leaf!, ports.chained!, ports['chained-full']!]) {
      const r = await tlsAt(port);
      assert.equal(r.ok, true, r.reason);
      assert.equal(r.assertions[0]!.actual, 'trusted');
    }
  });

  test('self-signed', async () => {
    const r = await tlsAt(ports.self!);
    assert.equal(r.ok, false);
    assert.deepEqual(failed(r), ['certificate chain trusted: self-signed: CN=localhost is not a trusted certificate (DEPTH_ZERO_SELF_SIGNED_CERT)']);
  });

  test('self-signed and expired: both named, not only the expiry', async () => {
    const r = await tlsAt(ports['self-expired']!);
    assert.equal(r.severity, 'critical');
    const f2 = failed(r);
    assert.equal(f2.length, 2, f2.join(' | '));
    assert.match(f2[0]!, /^certificate chain trusted: self-signed: CN=localhost is not a trusted certificate/);
    assert.match(f2[1]!, /^certificate not expired: expired \d+(\.\d)? days ago \(valid until Feb {2}1 00:00:00 2020 GMT\)$/);
    assert.match(r.reason!, /self-signed.*; certificate not expired failed: expired/);
  });

  test('untrusted chain: an issuer that is not trusted and not sent, or a root sent that is not trusted', async () => {
    const a = await tlsAt(ports.chained!, { ca_file: stranger.cert });
    assert.deepEqual(failed(a), ['certificate chain trusted: untrusted chain: issuer CN=kuzet test root of CN=kuzet test intermediate is not trusted and was not sent (UNABLE_TO_GET_ISSUER_CERT_LOCALLY)']);
    const b = await tlsAt(ports['chained-full']!, { ca_file: stranger.cert });
    assert.deepEqual(failed(b), ['certificate chain trusted: untrusted chain: root CN=kuzet test root is not a trusted CA (SELF_SIGNED_CERT_IN_CHAIN)']);
    const c = await tlsAt(ports.leaf!, { ca_file: undefined });
    assert.match(failed(c)[0]!, /^certificate chain trusted: untrusted chain: issuer CN=kuzet test root of CN=localhost is not trusted and was not sent/);
  });

  test('hostname mismatch', async () => {
    const r = await tlsAt(ports.wrong!);
    assert.equal(failed(r).length, 1);
    assert.match(failed(r)[0]!, /^certificate names localhost: hostname mismatch: .*other\.example/);
  });

  test('expired, also when the chain is fine', async () => {
    const r = await tlsAt(ports.expired!);
    assert.equal(r.severity, 'critical');
    assert.equal(failed(r).length, 1);
    assert.match(failed(r)[0]!, /^certificate not expired: expired/);
  });

  test('not yet valid', async () => {
    const r = await tlsAt(ports.notyet!);
    assert.equal(r.severity, 'critical');
    assert.equal(failed(r).length, 1);
    assert.match(failed(r)[0]!, /^certificate already valid: not yet valid: valid from .+, in (9\.9|10) days$/);
  });
});

describe('days left, counted exactly by the injected clock', () => {
  const notAfter = () => Date.parse(new X509Certificate(readFileSync(leaf.cert)).validTo);
  const spec = { warn_days: 30, critical_days: 7 };

  test('30.0 days left shows as 30 and passes a 30-day threshold; a millisecond either side too', async () => {
    for (const skew of [0, 1, -1]) {
      const r = await tlsAt(ports.leaf!, spec, new FakeClock(notAfter() - 30 * DAY + skew));
      assert.equal(r.ok, true, r.reason);
      assert.deepEqual(r.assertions.slice(-2).map((a) => a.actual), ['30 days', '30 days']);
    }
  });

  test('29.5 days left fails the warning at 29.5; 6.99 days is critical at 6.9; expired 30.0 days ago says 30', async () => {
    const w = await tlsAt(ports.leaf!, spec, new FakeClock(notAfter() - 29.5 * DAY));
    assert.equal(w.severity, 'warning');
    assert.equal(w.reason, 'expires in >= 30 days (warning) failed: 29.5 days');
    const c = await tlsAt(ports.leaf!, spec, new FakeClock(notAfter() - 6.99 * DAY));
    assert.equal(c.severity, 'critical');
    assert.equal(c.reason, 'expires in >= 7 days (critical) failed: 6.9 days');
    const gone = await tlsAt(ports.leaf!, spec, new FakeClock(notAfter() + 30 * DAY + 1));
    assert.equal(gone.severity, 'critical');
    assert.match(gone.reason!, /^certificate not expired failed: expired 30 days ago \(valid until /);
  });

  test('days() cuts toward zero at one decimal', () => {
    assert.deepEqual([30, 29.96, 0.04, -0.04, -30, 2592000 / 86400, 1 / 3].map(days), ['30', '29.9', '0', '0', '-30', '30', '0.3']);
  });
});
