import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Local servers for the probe tests: hostile HTTP targets, a tiny DNS server, a fake PostgreSQL
// wire-protocol server, and certificates made with the openssl command (Debian package openssl).

export interface Certs {
  dir: string;
  ca: string;
  valid: { cert: string; key: string };
  selfSigned: { cert: string; key: string };
  expired: { cert: string; key: string };
  wrongName: { cert: string; key: string };
  client: { cert: string; key: string };
}

export function makeCerts(): Certs {
  const dir = mkdtempSync(path.join(tmpdir(), 'kuzet-probe-certs-'));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = (n: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(n)];
  ssl('req', '-x509', ...key('ca.key'), '-out', f('ca.crt'), '-days', '3650', '-subj', '/CN=kuzet test CA');
  ssl('req', '-x509', ...key('self.key'), '-out', f('self.crt'), '-days', '30', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  writeFileSync(f('index.txt'), '');
  writeFileSync(f('serial'), '1000\n');
  writeFileSync(
    f('ca.cnf'),
    [
      '[ca]', 'default_ca = t', '[t]', `dir = ${dir}`, `database = ${f('index.txt')}`, `serial = ${f('serial')}`, `new_certs_dir = ${dir}`,
      `certificate = ${f('ca.crt')}`, `private_key = ${f('ca.key')}`, 'default_md = sha256', 'policy = any', 'unique_subject = no',
      '[any]', 'commonName = supplied',
      '[local]', 'subjectAltName = DNS:localhost,IP:127.0.0.1',
      '[other]', 'subjectAltName = DNS:other.example',
      '[client]', 'extendedKeyUsage = clientAuth',
    ].join('\n'),
  );
  const sign = (name: string, cn: string, ext: string, dates: string[]) => {
    ssl('req', ...key(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    ssl('ca', '-batch', '-config', f('ca.cnf'), '-extensions', ext, ...dates, '-in', f(`${name}.csr`), '-out', f(`${name}.crt`));
    return { cert: f(`${name}.crt`), key: f(`${name}.key`) };
  };
  return {
    dir,
    ca: f('ca.crt'),
    valid: sign('valid', 'localhost', 'local', ['-days', '90']),
    expired: sign('expired', 'localhost', 'local', ['-startdate', '200101000000Z', '-enddate', '200201000000Z']),
    wrongName: sign('wrong', 'other.example', 'other', ['-days', '90']),
    client: sign('client', 'kuzet-probe', 'client', ['-days', '90']),
    selfSigned: { cert: f('self.crt'), key: f('self.key') },
  };
}

/** Listen on 127.0.0.1, ephemeral port; close() also destroys open sockets (hanging handlers). */
export async function listen(server: net.Server): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export const PAGE_RU = '<html lang="ru"><body><h1>Поиск вакансий</h1><p>Найдено 1234 вакансии</p></body></html>';

/** The routes tests aim probes at. Hostile ones never end on their own; close() destroys their sockets. */
export function targetHandler(): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const cookies = Object.fromEntries((req.headers.cookie ?? '').split(/;\s*/).filter(Boolean).map((c) => c.split('=') as [string, string]));
    switch (url.pathname) {
      case '/ok':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE_RU);
        return;
      case '/json':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { total: 5, items: [{ id: 'a1' }, { id: 'a2' }] }, status: 'ok' }));
        return;
      case '/status':
        res.writeHead(Number(url.searchParams.get('code') ?? 200), { 'content-type': 'text/plain' }).end('status');
        return;
      case '/slow':
        setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('slow'), Number(url.searchParams.get('ms') ?? 300));
        return;
      case '/redirect':
        res.writeHead(302, { location: '/ok' }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/hang-after-headers':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.flushHeaders();
        return;
      case '/hang':
        return;
      case '/trickle': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const t = setInterval(() => res.write('x'), 20);
        res.on('close', () => clearInterval(t));
        return;
      }
      case '/huge': {
        // 2 GB, announced and streamed with back-pressure: a probe must stop at its cap.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(2 * 1024 ** 3) });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        const pump = () => {
          while (sent < 2 * 1024 ** 3 && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      case '/reset-mid-body':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
        res.write('x'.repeat(1000), () => res.socket?.destroy());
        return;
      case '/bad-utf8':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(Buffer.concat([Buffer.from('<p>Вакансии '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('</p>')]));
        return;
      // ---- a login flow: form login sets a session cookie; the account page gives a CSRF token; search needs both
      case '/login': {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const form = new URLSearchParams(body);
          if (req.method === 'POST' && form.get('login') === 'probe-user' && form.get('password') === 's3cret') {
            res.writeHead(302, { location: '/account', 'set-cookie': 'session=abc123; Path=/; HttpOnly' }).end();
          } else res.writeHead(401, { 'content-type': 'text/plain' }).end('bad credentials');
        });
        return;
      }
      case '/account':
        if (cookies.session !== 'abc123') return void res.writeHead(401).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user: 'probe-user', csrf: 'tok 42' }));
        return;
      case '/search':
        if (cookies.session !== 'abc123' || url.searchParams.get('csrf') !== 'tok 42') return void res.writeHead(403).end('forbidden');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [{ id: 'v7', title: url.searchParams.get('q') }] }));
        return;
      case '/vacancy/v7':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<h1>Вакансия v7</h1>');
        return;
      default:
        res.writeHead(404).end('not found');
    }
  };
}

// ---------------------------------------------------------------- DNS (UDP, A and TXT only)

export async function dnsServer(records: Record<string, { A?: string[]; TXT?: string[] }>): Promise<{ port: number; close: () => Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    let off = 12;
    const labels: string[] = [];
    while (msg[off]) {
      labels.push(msg.subarray(off + 1, off + 1 + msg[off]!).toString());
      off += msg[off]! + 1;
    }
    const qEnd = off + 5;
    const qtype = msg.readUInt16BE(off + 1);
    const name = labels.join('.').toLowerCase();
    const rec = records[name];
    const answers: Buffer[] = [];
    const type = qtype === 1 ? 'A' : qtype === 16 ? 'TXT' : undefined;
    for (const v of (type && rec?.[type]) ?? []) {
      const rdata = type === 'A' ? Buffer.from(v.split('.').map(Number)) : Buffer.concat([Buffer.from([Buffer.byteLength(v)]), Buffer.from(v)]);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(rdata.length, 10);
      answers.push(rr, rdata);
    }
    const head = Buffer.alloc(12);
    msg.copy(head, 0, 0, 2);
    head.writeUInt16BE(rec ? 0x8180 : 0x8183, 2); // NOERROR, or NXDOMAIN for unknown names
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(answers.length / 2, 6);
    sock.send(Buffer.concat([head, msg.subarray(12, qEnd), ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

// ---------------------------------------------------------------- a fake PostgreSQL (simple query protocol)

export type FakeAnswer = { columns: string[]; rows: (string | number | null)[][] } | { error: string; code?: string } | 'hang';

export async function fakePostgres(answer: (sql: string) => FakeAnswer): Promise<{ port: number; close: () => Promise<void>; queries: string[] }> {
  const queries: string[] = [];
  const msg = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0);
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const int16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  const cstr = (s: string) => Buffer.from(`${s}\0`);
  const ready = msg('Z', Buffer.from('I'));
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let started = false;
    sock.on('error', () => {});
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (!started) {
          if (buf.length < 8) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code === 80877103) {
            sock.write('N');
            continue;
          }
          started = true;
          sock.write(Buffer.concat([msg('R', int32(0)), msg('K', Buffer.concat([int32(1), int32(2)])), ready]));
          continue;
        }
        if (buf.length < 5) return;
        const type = String.fromCharCode(buf[0]!);
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) return;
        const body = buf.subarray(5, len + 1);
        buf = buf.subarray(len + 1);
        if (type === 'X') return void sock.end();
        if (type !== 'Q') continue;
        const sql = body.subarray(0, body.length - 1).toString();
        queries.push(sql);
        const a = answer(sql);
        if (a === 'hang') return;
        if ('error' in a) {
          sock.write(Buffer.concat([msg('E', Buffer.concat([cstr('SERROR'), cstr(`C${a.code ?? '42P01'}`), cstr(`M${a.error}`), Buffer.from([0])])), ready]));
          continue;
        }
        const types = a.columns.map((_c, i) => (typeof a.rows[0]?.[i] === 'number' ? 701 : 25));
        const desc = Buffer.concat([int16(a.columns.length), ...a.columns.map((c, i) => Buffer.concat([cstr(c), int32(0), int16(0), int32(types[i]!), int16(-1), int32(-1), int16(0)]))]);
        const rows = a.rows.map((r) =>
          msg('D', Buffer.concat([int16(r.length), ...r.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(String(v))), Buffer.from(String(v))])))])),
        );
        sock.write(Buffer.concat([msg('T', desc), ...rows, msg('C', cstr(`SELECT ${a.rows.length}`)), ready]));
      }
    });
  });
  const l = await listen(server);
  return { ...l, queries };
}
