import { X509Certificate } from 'node:crypto';
import { promises as dnsp } from 'node:dns';
import { readFileSync } from 'node:fs';
import net, { type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import tls, { type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Clock } from '../../../clock.ts';
import { networkReason } from '../http-client.ts';
import type { AssertionOutcome, DnsSpec, Probe, ProbeResult, ProbeRunContext, ProbeSeverity, TcpSpec, TlsSpec } from '../types.ts';

// tcp (connect, optionally talk), tls (certificate expiry, chain, name) and dns (expected records).

export interface NetDeps {
  clock: Clock;
  lookup?: LookupFunction;
}

const ms = (t0: number) => Math.round((performance.now() - t0) * 100) / 100;

/** Connect a socket, resolving once connected (secureConnect for TLS); rejects on error or abort. */
function connect(opts: { host: string; port: number; tls?: tls.ConnectionOptions; lookup?: LookupFunction }, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const base = { host: opts.host, port: opts.port, ...(opts.lookup ? { lookup: opts.lookup } : {}) };
    const sock = opts.tls ? tls.connect({ ...base, ...opts.tls }) : net.connect(base);
    const onAbort = () => sock.destroy(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once(opts.tls ? 'secureConnect' : 'connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(sock);
    });
    sock.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      reject(err);
    });
  });
}

export function tcpProbe(name: string, spec: TcpSpec, deps: NetDeps): Probe {
  const target = new URL(`tcp://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`);
  return {
    name,
    kind: 'tcp',
    async run(ctx: ProbeRunContext): Promise<ProbeResult> {
      const startedAt = deps.clock.now();
      const t0 = performance.now();
      let phase = 'connecting';
      const fail = (reason: string, assertions: AssertionOutcome[] = []): ProbeResult => ({ ok: false, reason, startedAt, durationMs: ms(t0), assertions });
      let sock: net.Socket | undefined;
      try {
        sock = await connect({ host: spec.host, port: spec.port, tls: spec.tls ? sni(spec.host) : undefined, lookup: deps.lookup }, ctx.signal);
        const assertions: AssertionOutcome[] = [{ name: `connect ${target.host}`, ok: true, actual: `${ms(t0)} ms` }];
        if (spec.send !== undefined) sock.write(spec.send);
        if (spec.expect !== undefined) {
          phase = 'waiting for the expected answer';
          const got = await readUntil(sock, spec.expect, 64 * 1024, ctx.signal);
          assertions.push({ name: `answer contains ${JSON.stringify(spec.expect)}`, ok: got.found, actual: got.found ? undefined : got.why });
          if (!got.found) return fail(`answer does not contain ${JSON.stringify(spec.expect)}: ${got.why}`, assertions);
        }
        return { ok: true, startedAt, durationMs: ms(t0), assertions };
      } catch (err) {
        if (ctx.signal.aborted) return fail(`timed out after ${ctx.timeoutMs} ms ${phase} to ${target.host}`);
        return fail(networkReason(err, target));
      } finally {
        sock?.destroy();
      }
    },
  };
}

function readUntil(sock: net.Socket, needle: string, cap: number, signal: AbortSignal): Promise<{ found: boolean; why?: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const want = Buffer.from(needle);
    const done = (v: { found: boolean; why?: string } | Error) => {
      sock.off('data', onData).off('end', onEnd).off('error', done);
      signal.removeEventListener('abort', onAbort);
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.includes(want)) done({ found: true });
      else if (buf.length > cap) done({ found: false, why: `not within the first ${cap} bytes` });
    };
    const onEnd = () => done({ found: false, why: `connection closed after ${buf.length} bytes` });
    const onAbort = () => done(new Error('aborted'));
    sock.on('data', onData).once('end', onEnd).once('error', done);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function tlsProbe(name: string, spec: TlsSpec, deps: NetDeps): Probe {
  const port = spec.port ?? 443;
  const servername = spec.servername ?? spec.host;
  const ca = spec.ca_file ? readFileSync(spec.ca_file) : undefined;
  const target = new URL(`tls://${net.isIPv6(servername) ? `[${servername}]` : servername}:${port}`);
  return {
    name,
    kind: 'tls',
    async run(ctx: ProbeRunContext): Promise<ProbeResult> {
      const startedAt = deps.clock.now();
      const t0 = performance.now();
      let sock: TLSSocket | undefined;
      try {
        // Verification off at the socket so an untrusted certificate can still be inspected and reported.
        sock = (await connect({ host: spec.host, port, lookup: deps.lookup, tls: { ...sni(servername), rejectUnauthorized: false, ca } }, ctx.signal)) as TLSSocket;
        const cert = sock.getPeerCertificate(true) as PeerCertificate;
        if (!cert || !cert.valid_to) return { ok: false, reason: `${target.host} presented no certificate`, startedAt, durationMs: ms(t0), assertions: [] };
        const now = deps.clock.now();
        const notAfter = Date.parse(cert.valid_to);
        const notBefore = Date.parse(cert.valid_from);
        // Certificates count whole seconds: so does this, so 30 days before notAfter is exactly 30.0 days.
        const daysLeft = Math.round((notAfter - now) / 1000) / 86_400;
        const chainFault = sock.authorized ? undefined : chainProblem(peerChain(cert), trustStore(ca), String(sock.authorizationError ?? ''));
        const nameError = tls.checkServerIdentity(servername, cert);
        const assertions: AssertionOutcome[] = [
          { name: 'certificate chain trusted', ok: !chainFault, actual: chainFault ?? 'trusted' },
          { name: `certificate names ${servername}`, ok: !nameError, actual: nameError ? `hostname mismatch: ${nameError.message}` : String(cert.subject?.CN ?? '') },
          {
            name: 'certificate not expired',
            ok: now <= notAfter,
            actual: now <= notAfter ? `valid until ${cert.valid_to}` : `expired ${days(-daysLeft)} days ago (valid until ${cert.valid_to})`,
          },
          {
            name: 'certificate already valid',
            ok: now >= notBefore,
            actual: now >= notBefore ? `valid from ${cert.valid_from}` : `not yet valid: valid from ${cert.valid_from}, in ${days(Math.round((notBefore - now) / 1000) / 86_400)} days`,
          },
        ];
        let severity: ProbeSeverity | undefined;
        if (spec.critical_days !== undefined) {
          const ok = daysLeft >= spec.critical_days;
          assertions.push({ name: `expires in >= ${spec.critical_days} days (critical)`, ok, actual: `${days(daysLeft)} days` });
          if (!ok) severity = 'critical';
        }
        if (spec.warn_days !== undefined) {
          const ok = daysLeft >= spec.warn_days;
          assertions.push({ name: `expires in >= ${spec.warn_days} days (warning)`, ok, actual: `${days(daysLeft)} days` });
          if (!ok) severity ??= 'warning';
        }
        // Every fault is named, not only the first: a self-signed certificate that has also expired says both.
        // The expiry thresholds add nothing once the certificate has expired, nor the warning once the critical one failed.
        const bad = assertions.filter((a) => !a.ok && !(a.name.startsWith('expires in') && now > notAfter) && !(a.name.endsWith('(warning)') && severity === 'critical'));
        if (now > notAfter || now < notBefore) severity = 'critical';
        return {
          ok: bad.length === 0,
          reason: bad.length ? bad.map((a) => `${a.name} failed: ${a.actual}`).join('; ') : undefined,
          severity: bad.length ? severity : undefined,
          startedAt,
          durationMs: ms(t0),
          assertions,
        };
      } catch (err) {
        if (ctx.signal.aborted) return { ok: false, reason: `timed out after ${ctx.timeoutMs} ms in the TLS handshake with ${target.host}`, startedAt, durationMs: ms(t0), assertions: [] };
        return { ok: false, reason: networkReason(err, target), startedAt, durationMs: ms(t0), assertions: [] };
      } finally {
        sock?.destroy();
      }
    },
  };
}

/** SNI for a host name; none for an IP address (RFC 6066 forbids it, and Node warns when given one). */
export function sni(host: string): { servername?: string } {
  return net.isIP(host) ? {} : { servername: host };
}

/** Days to one decimal, cut toward zero (29.96 days left is 29.9, never rounded up to a threshold); 30.0 shows as 30. */
export function days(d: number): string {
  const t = Math.trunc(Math.abs(d) * 10 + 1e-7) / 10;
  return String(d < 0 && t !== 0 ? -t : t);
}

/** The chain the server presented, leaf first (Node links it through issuerCertificate; a root links to itself). */
function peerChain(leaf: tls.DetailedPeerCertificate | PeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: tls.DetailedPeerCertificate | undefined = leaf as tls.DetailedPeerCertificate; c?.raw && out.length < 16; c = c.issuerCertificate) {
    if (seen.has(c.fingerprint256)) break;
    seen.add(c.fingerprint256);
    try {
      out.push(new X509Certificate(c.raw));
    } catch {
      break;
    }
  }
  return out;
}

let defaultRoots: X509Certificate[] | undefined;
const customRoots = new WeakMap<Buffer, X509Certificate[]>();

/** The certificates verification trusts: the probe's ca_file (which replaces the defaults, as in Node) or Node's roots. */
function trustStore(ca: Buffer | undefined): X509Certificate[] {
  // getCACertificates (newer Node) includes NODE_EXTRA_CA_CERTS; rootCertificates is the bundled set.
  const getCa = (tls as { getCACertificates?: (kind: string) => string[] }).getCACertificates;
  if (!ca) return (defaultRoots ??= parsePems((getCa?.('default') ?? tls.rootCertificates).join('\n')));
  let roots = customRoots.get(ca);
  if (!roots) customRoots.set(ca, (roots = parsePems(ca.toString('latin1'))));
  return roots;
}

function parsePems(text: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)) {
    try {
      out.push(new X509Certificate(m[0]));
    } catch {
      // an unreadable entry in a CA bundle trusts nothing
    }
  }
  return out;
}

const signedBy = (c: X509Certificate, issuer: X509Certificate) => c.checkIssued(issuer) && c.verify(issuer.publicKey);
const subjectOf = (c: X509Certificate) => c.subject.replace(/\n/g, ', ');

/**
 * What is wrong with the chain, named, or undefined when it leads to a trusted certificate. OpenSSL reports one
 * error, the last it met: an expired self-signed certificate says only CERT_HAS_EXPIRED. So the chain is walked
 * here, by signatures alone (the dates and the name have their own assertions).
 */
function chainProblem(chain: X509Certificate[], trusted: X509Certificate[], code: string): string | undefined {
  const tag = code ? ` (${code})` : '';
  const isTrusted = (c: X509Certificate) => trusted.some((t) => t.fingerprint256 === c.fingerprint256 || signedBy(c, t));
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    // Trusted by signatures; a fault OpenSSL found beyond dates and name (a bad purpose, a weak signature) still counts.
    if (isTrusted(c)) return judgedElsewhere(code) || !code ? undefined : `certificate rejected: ${code}`;
    if (signedBy(c, c)) {
      return i === 0 ? `self-signed: ${subjectOf(c)} is not a trusted certificate${tag}` : `untrusted chain: root ${subjectOf(c)} is not a trusted CA${tag}`;
    }
    const next = chain[i + 1];
    if (!next || !signedBy(c, next)) return `untrusted chain: issuer ${c.issuer.replace(/\n/g, ', ')} of ${subjectOf(c)} is not trusted and was not sent${tag}`;
  }
  return `untrusted chain: no certificate presented${tag}`;
}

// The dates are judged against the (injectable) clock and the name by checkServerIdentity, each in its own assertion.
const judgedElsewhere = (e: string) => e === 'CERT_HAS_EXPIRED' || e === 'CERT_NOT_YET_VALID' || e === 'ERR_TLS_CERT_ALTNAME_INVALID';

type Answer = string;
const DNS_CODES: Record<string, string> = {
  ENOTFOUND: 'no such name (NXDOMAIN)',
  ENODATA: 'no records of this type',
  ETIMEOUT: 'the resolver did not answer',
  ECONNREFUSED: 'the resolver refused the connection',
  ESERVFAIL: 'the resolver answered SERVFAIL',
  EREFUSED: 'the resolver refused the query',
  EBADRESP: 'the resolver sent a malformed answer',
  ECANCELLED: 'the query was cancelled',
};

export function dnsProbe(name: string, spec: DnsSpec, deps: NetDeps): Probe {
  const type = spec.type ?? 'A';
  return {
    name,
    kind: 'dns',
    async run(ctx: ProbeRunContext): Promise<ProbeResult> {
      const startedAt = deps.clock.now();
      const t0 = performance.now();
      const resolver = new dnsp.Resolver({ timeout: Math.max(100, ctx.timeoutMs), tries: 1 });
      const onAbort = () => resolver.cancel();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        if (spec.server) resolver.setServers([spec.server]);
        const answers = await resolve(resolver, spec.name, type);
        const assertions: AssertionOutcome[] = [{ name: `${type} ${spec.name} resolves`, ok: answers.length > 0, actual: answers.slice(0, 10).join(', ') }];
        for (const want of spec.expect ?? []) {
          assertions.push({ name: `answer includes ${want}`, ok: answers.some((a) => a.toLowerCase() === want.toLowerCase()), actual: answers.slice(0, 10).join(', ') });
        }
        const bad = assertions.find((a) => !a.ok);
        return { ok: !bad, reason: bad && `${bad.name} failed: got ${bad.actual || 'nothing'}`, startedAt, durationMs: ms(t0), assertions };
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        const why = ctx.signal.aborted ? `timed out after ${ctx.timeoutMs} ms` : (DNS_CODES[code] ?? (err as Error).message);
        return { ok: false, reason: `DNS ${type} ${spec.name}: ${why}`, startedAt, durationMs: ms(t0), assertions: [] };
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  };
}

async function resolve(r: dnsp.Resolver, name: string, type: NonNullable<DnsSpec['type']>): Promise<Answer[]> {
  switch (type) {
    case 'A': return r.resolve4(name);
    case 'AAAA': return r.resolve6(name);
    case 'CNAME': return r.resolveCname(name);
    case 'NS': return r.resolveNs(name);
    case 'MX': return (await r.resolveMx(name)).map((m) => m.exchange);
    case 'TXT': return (await r.resolveTxt(name)).map((parts) => parts.join(''));
  }
}
