import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../../src/clock.ts';
import { runWithRetries } from '../../../src/sources/probes/factory.ts';
import { HttpAgents } from '../../../src/sources/probes/http-client.ts';
import { flowProbe, httpProbe } from '../../../src/sources/probes/kinds/http.ts';
import type { FlowSpec, HttpRequestSpec, ProbeResult } from '../../../src/sources/probes/types.ts';
import { listen, makeCerts, PAGE_RU, targetHandler, type Certs } from './support.ts';

// http and flow probes against local servers, including the hostile targets of the issue:
// each must fail with a precise reason, within its timeout, in bounded memory.

let base = '';
let tlsBase = '';
let certs: Certs;
const closers: (() => Promise<void>)[] = [];
const agents = new HttpAgents();

before(async () => {
  const plain = await listen(http.createServer(targetHandler()));
  closers.push(plain.close);
  base = `http://127.0.0.1:${plain.port}`;
  certs = makeCerts();
  const valid = await listen(
    https.createServer({ cert: readFileSync(certs.valid.cert), key: readFileSync(certs.valid.key), ca: readFileSync(certs.ca), requestCert: false }, targetHandler()),
  );
  closers.push(valid.close);
  tlsBase = `https://localhost:${valid.port}`;
});
after(async () => {
  await agents.close();
  for (const c of closers) await c();
  rmSync(certs.dir, { recursive: true, force: true });
});

async function probe(spec: Partial<HttpRequestSpec> & { url: string }, timeoutMs = 2000, a = agents): Promise<ProbeResult> {
  return runWithRetries(httpProbe('t', spec, { clock: systemClock, agents: a }), { timeoutMs, retries: 0 }, systemClock);
}

async function tlsServer(pair: { cert: string; key: string }, extra: https.ServerOptions = {}): Promise<number> {
  const s = await listen(https.createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key), ...extra }, targetHandler()));
  closers.push(s.close);
  return s.port;
}

describe('http probe: passing and failing assertions', () => {
  test('a page with the expected status, keyword and regex passes, each assertion reported', async () => {
    const r = await probe({
      url: `${base}/ok`,
      expect_status: [200],
      latency_budget: '5s',
      assertions: [{ contains: 'Поиск вакансий' }, { not_contains: 'Ошибка' }, { regex: 'Найдено \\d+ ваканс' }, { header: 'content-type', contains: 'text/html' }],
    });
    assert.equal(r.ok, true, r.reason);
    assert.deepEqual(r.assertions.map((a) => a.ok), [true, true, true, true, true, true]);
    assert.match(r.assertions[4]!.actual!, /Найдено 1234 ваканс/);
  });

  test('a missing keyword fails and names the keyword', async () => {
    const r = await probe({ url: `${base}/ok`, assertions: [{ contains: 'Бос жұмыс орындары' }] });
    assert.equal(r.ok, false);
    assert.match(r.reason!, /body contains "Бос жұмыс орындары" failed/);
  });

  test('an unexpected status fails with the status seen', async () => {
    const r = await probe({ url: `${base}/status?code=503` });
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'status 200–399 failed: status 503');
    const r2 = await probe({ url: `${base}/status?code=404`, expect_status: [404] });
    assert.equal(r2.ok, true);
  });

  test('JSON path assertions compare numbers, strings and existence', async () => {
    const ok = await probe({
      url: `${base}/json`,
      assertions: [{ json_path: '$.data.total', op: '>', value: 0 }, { json_path: '$.data.items[1].id', value: 'a2' }, { json_path: '$.status' }, { json_path: '$.data.items.length', value: 2 }],
    });
    assert.equal(ok.ok, true, ok.reason);
    const bad = await probe({ url: `${base}/json`, assertions: [{ json_path: '$.data.total', op: '>=', value: 10 }] });
    assert.equal(bad.reason, '$.data.total >= 10 failed: 5');
    const missing = await probe({ url: `${base}/json`, assertions: [{ json_path: '$.data.nothing.deeper' }] });
    assert.equal(missing.reason, '$.data.nothing.deeper exists failed: $.data has no "nothing"');
    const notJson = await probe({ url: `${base}/ok`, assertions: [{ json_path: '$.x' }] });
    assert.match(notJson.reason!, /body is not JSON/);
  });

  test('latency budget: a slow answer fails the budget', async () => {
    const r = await probe({ url: `${base}/slow?ms=300`, latency_budget: '50ms' });
    assert.equal(r.ok, false);
    assert.match(r.reason!, /^response time <= 50ms failed: \d+ ms$/);
  });

  test('redirects: followed by default, not when disabled, loops stop at the limit', async () => {
    const followed = await probe({ url: `${base}/redirect`, assertions: [{ contains: 'вакансий' }] });
    assert.equal(followed.ok, true, followed.reason);
    const notFollowed = await probe({ url: `${base}/redirect`, follow_redirects: false, expect_status: [302] });
    assert.equal(notFollowed.ok, true, notFollowed.reason);
    const loop = await probe({ url: `${base}/loop`, follow_redirects: 3 });
    assert.equal(loop.reason, `too many redirects (more than 3, last to ${base}/loop)`);
  });
});

describe('http probe: hostile targets', () => {
  test('a target that hangs after the headers times out with the phase named', async () => {
    const t0 = performance.now();
    const r = await probe({ url: `${base}/hang-after-headers` }, 300);
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'timed out after 300 ms reading the body (0 bytes received)');
    assert.ok(performance.now() - t0 < 3000, 'returns promptly after the timeout');
  });

  test('a target that never answers times out waiting for headers', async () => {
    const r = await probe({ url: `${base}/hang` }, 300);
    assert.equal(r.reason, 'timed out after 300 ms waiting for the response headers');
  });

  test('a trickling body is cut off by the overall timeout, not per-chunk timeouts', async () => {
    const r = await probe({ url: `${base}/trickle` }, 400);
    assert.equal(r.ok, false);
    assert.match(r.reason!, /^timed out after 400 ms reading the body \(\d+ bytes received\)$/);
  });

  test('a 2 GB body stops at the size cap with bounded memory', async () => {
    const before = process.memoryUsage();
    const r = await probe({ url: `${base}/huge`, max_body_bytes: 1024 * 1024 }, 10_000);
    const afterMem = process.memoryUsage();
    assert.equal(r.ok, false);
    assert.match(r.reason!, /^body larger than 1048576 bytes \(stopped reading at \d+\)$/);
    const grown = afterMem.rss - before.rss;
    assert.ok(grown < 128 * 1024 * 1024, `rss grew by ${grown} bytes`);
  });

  test('invalid UTF-8 is a failure, not silently replaced', async () => {
    const r = await probe({ url: `${base}/bad-utf8`, assertions: [{ contains: 'Вакансии' }] });
    assert.equal(r.ok, false);
    assert.match(r.reason!, /^body is not valid utf-8/);
  });

  test('a connection reset in the middle of the body, and a server that does not speak HTTP', async () => {
    const reset = await probe({ url: `${base}/reset-mid-body` });
    assert.equal(reset.ok, false);
    assert.match(reset.reason!, /^(connection to 127\.0\.0\.1:\d+ closed unexpectedly|connection reset by 127\.0\.0\.1:\d+)$/);
    const garbage = await listen(net.createServer((s) => s.on('error', () => {}).end('SSH-2.0-OpenSSH_9.2\r\n')));
    closers.push(garbage.close);
    const notHttp = await probe({ url: `http://127.0.0.1:${garbage.port}/` });
    assert.equal(notHttp.ok, false);
    assert.match(notHttp.reason!, new RegExp(`^127\\.0\\.0\\.1:${garbage.port} did not answer with valid HTTP: `));
  });

  test('a refused connection is named as such', async () => {
    const s = await listen(http.createServer());
    const port = s.port;
    await s.close();
    const r = await probe({ url: `http://127.0.0.1:${port}/` });
    assert.equal(r.reason, `connection refused by 127.0.0.1:${port}`);
  });

  test('a DNS failure is named as such (resolver answering "no such host")', async () => {
    const lookup = ((hostname: string, _o: unknown, cb: (err: NodeJS.ErrnoException | null) => void) => {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      process.nextTick(() => cb(err));
    }) as unknown as LookupFunction;
    const a = new HttpAgents({ lookup });
    try {
      const r = await probe({ url: 'http://vacancies.nonexistent.invalid/' }, 2000, a);
      assert.equal(r.reason, 'DNS lookup failed for vacancies.nonexistent.invalid: no such host');
    } finally {
      await a.close();
    }
  });

  test('a self-signed certificate fails verification, and passes with verify: false', async () => {
    const port = await tlsServer(certs.selfSigned);
    const r = await probe({ url: `https://localhost:${port}/ok` });
    assert.equal(r.reason, 'TLS certificate of localhost is self-signed');
    const off = await probe({ url: `https://localhost:${port}/ok`, tls: { verify: false } });
    assert.equal(off.ok, true, off.reason);
  });

  test('an expired certificate fails', async () => {
    const port = await tlsServer(certs.expired);
    const r = await probe({ url: `https://localhost:${port}/ok`, tls: { ca_file: certs.ca } });
    assert.equal(r.reason, 'TLS certificate of localhost has expired');
  });

  test('a certificate for another name fails', async () => {
    const port = await tlsServer(certs.wrongName);
    const r = await probe({ url: `https://localhost:${port}/ok`, tls: { ca_file: certs.ca } });
    assert.equal(r.reason, 'TLS certificate does not name localhost');
  });

  test('a trusted certificate with a private CA passes; a client certificate is presented when asked', async () => {
    const r = await probe({ url: `${tlsBase}/ok`, tls: { ca_file: certs.ca } });
    assert.equal(r.ok, true, r.reason);
    const port = await tlsServer(certs.valid, { ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true });
    const without = await probe({ url: `https://localhost:${port}/ok`, tls: { ca_file: certs.ca } });
    assert.equal(without.ok, false);
    const withCert = await probe({ url: `https://localhost:${port}/ok`, tls: { ca_file: certs.ca, cert_file: certs.client.cert, key_file: certs.client.key } });
    assert.equal(withCert.ok, true, withCert.reason);
  });

  test('retries: a failing probe is attempted 1 + retries times', async () => {
    const r = await runWithRetries(httpProbe('t', { url: `${base}/status?code=500` }, { clock: systemClock, agents }), { timeoutMs: 2000, retries: 2 }, systemClock);
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 3);
  });
});

describe('flow probe', () => {
  const flow = (over: Partial<FlowSpec> = {}): FlowSpec => ({
    credentials: { login: 'probe-user', password: 's3cret' },
    variables: { query: 'электрик' },
    steps: [
      { name: 'open home', url: `${base}/ok`, assertions: [{ contains: 'вакансий' }] },
      { name: 'log in', url: `${base}/login`, method: 'POST', form: { login: '{{login}}', password: '{{password}}' }, extract: { csrf: { json_path: '$.csrf' } } },
      { name: 'search', url: `${base}/search?q={{query}}&csrf={{csrf}}`, assertions: [{ json_path: '$.items[0].title', value: 'электрик' }], extract: { first: { json_path: '$.items[0].id' } } },
      { name: 'open result', url: `${base}/vacancy/{{first}}`, assertions: [{ contains: 'Вакансия v7' }] },
    ],
    ...over,
  });

  test('a login-search-open flow carries cookies and extracted values, timing each step', async () => {
    const r = await runWithRetries(flowProbe('f', flow(), { clock: systemClock, agents }), { timeoutMs: 3000, retries: 0 }, systemClock);
    assert.equal(r.ok, true, r.reason);
    assert.deepEqual(r.steps!.map((s) => [s.name, s.ok]), [['open home', true], ['log in', true], ['search', true], ['open result', true]]);
    for (const s of r.steps!) assert.ok(s.durationMs >= 0);
  });

  test('wrong credentials stop the flow at the failing step with its reason', async () => {
    const r = await runWithRetries(flowProbe('f', flow({ credentials: { login: 'probe-user', password: 'wrong' } }), { clock: systemClock, agents }), { timeoutMs: 3000, retries: 0 }, systemClock);
    assert.equal(r.ok, false);
    assert.equal(r.steps!.length, 2);
    assert.equal(r.reason, 'step "log in" (2 of 4): status 200–399 failed: status 401');
  });

  test('an unknown variable fails the step that uses it', async () => {
    const f = flow();
    f.steps = [{ name: 'only', url: `${base}/vacancy/{{nothing}}` }];
    const r = await runWithRetries(flowProbe('f', f, { clock: systemClock, agents }), { timeoutMs: 3000, retries: 0 }, systemClock);
    assert.equal(r.reason, 'step "only" (1 of 1): unknown variable {{nothing}}');
  });
});

test('the page fixture is what the assertions above look for', () => {
  assert.ok(PAGE_RU.includes('Поиск вакансий'));
});

describe('http probe: credentials do not follow a redirect to another origin', () => {
  test('authorization, x-api-key and cookies reach the same origin, never another port', async () => {
    const seen: Array<{ port: number; path: string; headers: http.IncomingHttpHeaders }> = [];
    const other = await listen(http.createServer((req, res) => {
      seen.push({ port: other.port, path: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('landed');
    }));
    closers.push(other.close);
    const first = await listen(http.createServer((req, res) => {
      seen.push({ port: first.port, path: req.url ?? '', headers: req.headers });
      if (req.url === '/start') res.writeHead(302, { location: '/same', 'set-cookie': 'session=s3cret; Path=/' }).end();
      else res.writeHead(302, { location: `http://127.0.0.1:${other.port}/away` }).end();
    }));
    closers.push(first.close);
    const r = await probe({
      url: `http://127.0.0.1:${first.port}/start`,
      headers: { Authorization: 'Bearer probe-token', 'X-Api-Key': 'probe-key', Cookie: 'pref=1', 'X-Trace': 'kept' },
      assertions: [{ contains: 'landed' }],
    });
    assert.equal(r.ok, true, r.reason);
    assert.deepEqual(seen.map((s) => s.path), ['/start', '/same', '/away']);
    const [start, same, away] = seen as [typeof seen[0], typeof seen[0], typeof seen[0]];
    assert.equal(start.headers.authorization, 'Bearer probe-token');
    // The same origin keeps the credentials and gets the cookie it set.
    assert.equal(same.headers.authorization, 'Bearer probe-token');
    assert.equal(same.headers['x-api-key'], 'probe-key');
    assert.match(String(same.headers.cookie), /session=s3cret/);
    // Another port of the same host is another origin: nothing secret goes there, the rest does.
    assert.equal(away.port, other.port);
    assert.equal(away.headers.authorization, undefined);
    assert.equal(away.headers['x-api-key'], undefined);
    assert.equal(away.headers.cookie, undefined);
    assert.equal(away.headers['x-trace'], 'kept');
  });
});
