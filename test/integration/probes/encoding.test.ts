import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../../src/clock.ts';
import { runWithRetries } from '../../../src/sources/probes/factory.ts';
import { HttpAgents } from '../../../src/sources/probes/http-client.ts';
import { httpProbe } from '../../../src/sources/probes/kinds/http.ts';
import type { HttpRequestSpec, ProbeResult } from '../../../src/sources/probes/types.ts';
import { listen, PAGE_RU } from './support.ts';

// http probes against a local server that compresses its answers (Content-Encoding gzip, deflate, br), and
// against compression bombs: the body cap counts decoded bytes, so a bomb fails as over the cap in flat memory.

const MiB = 1024 * 1024;
const page = Buffer.from(PAGE_RU);
const json = Buffer.from(JSON.stringify({ data: { total: 5 } }));
// 64 MiB of zeros in one gzip member (about 64 KiB); the bomb sends 16 members: 1 GiB once decoded.
const zeros64 = zlib.gzipSync(Buffer.alloc(64 * MiB), { level: 9 });
const brBomb = zlib.brotliCompressSync(Buffer.alloc(256 * MiB), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });

let base = '';
let close: () => Promise<void>;
let lastAcceptEncoding: string | undefined;
const agents = new HttpAgents();

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  lastAcceptEncoding = req.headers['accept-encoding'];
  const url = new URL(req.url ?? '/', 'http://x');
  const html = { 'content-type': 'text/html; charset=utf-8' };
  switch (url.pathname) {
    case '/gzip':
      res.writeHead(200, { ...html, 'content-encoding': 'gzip' }).end(req.method === 'HEAD' ? undefined : zlib.gzipSync(page));
      return;
    case '/deflate':
      res.writeHead(200, { ...html, 'content-encoding': 'deflate' }).end(zlib.deflateSync(page));
      return;
    case '/deflate-raw':
      res.writeHead(200, { ...html, 'content-encoding': 'deflate' }).end(zlib.deflateRawSync(page));
      return;
    case '/br':
      res.writeHead(200, { ...html, 'content-encoding': 'br' }).end(zlib.brotliCompressSync(page));
      return;
    case '/gzip-then-br':
      res.writeHead(200, { ...html, 'content-encoding': 'gzip, br' }).end(zlib.brotliCompressSync(zlib.gzipSync(page)));
      return;
    case '/json-gzip':
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(zlib.gzipSync(json));
      return;
    case '/gzip-no-type':
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(zlib.gzipSync(page));
      return;
    case '/gzip-empty':
      res.writeHead(204, { 'content-encoding': 'gzip' }).end();
      return;
    case '/corrupt':
      res.writeHead(200, { ...html, 'content-encoding': 'gzip' }).end(Buffer.concat([zlib.gzipSync(page).subarray(0, 10), Buffer.from('not gzip at all')]));
      return;
    case '/zstd':
      res.writeHead(200, { ...html, 'content-encoding': 'zstd' }).end('whatever');
      return;
    case '/gzip-bomb': {
      res.writeHead(200, { ...html, 'content-encoding': 'gzip' });
      let sent = 0;
      const more = () => {
        while (sent < 16) {
          sent++;
          if (!res.write(zeros64)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
      return;
    }
    case '/br-bomb':
      res.writeHead(200, { ...html, 'content-encoding': 'br' }).end(brBomb);
      return;
    default:
      res.writeHead(404).end();
  }
}

before(async () => {
  const s = await listen(http.createServer(handler));
  close = s.close;
  base = `http://127.0.0.1:${s.port}`;
});
after(async () => {
  await agents.close();
  await close();
});

const probe = (spec: Partial<HttpRequestSpec> & { url: string }, timeoutMs = 5000): Promise<ProbeResult> =>
  runWithRetries(httpProbe('t', spec, { clock: systemClock, agents }), { timeoutMs, retries: 0 }, systemClock);

describe('http probe: compressed answers', () => {
  for (const path of ['/gzip', '/deflate', '/deflate-raw', '/br', '/gzip-then-br', '/gzip-no-type']) {
    test(`${path}: decoded, and the assertions see the text`, async () => {
      const r = await probe({ url: base + path, assertions: [{ contains: 'Поиск вакансий' }, { regex: 'Найдено \\d+ ваканс' }] });
      assert.equal(r.ok, true, r.reason);
      assert.ok(r.assertions.every((a) => a.ok));
    });
  }

  test('a probe without assertions is up on a gzip page', async () => {
    const r = await probe({ url: `${base}/gzip` });
    assert.equal(r.ok, true, r.reason);
  });

  test('the probe asks for gzip, deflate and br unless the probe names its own Accept-Encoding', async () => {
    await probe({ url: `${base}/gzip` });
    assert.equal(lastAcceptEncoding, 'gzip, deflate, br');
    await probe({ url: `${base}/gzip`, headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(lastAcceptEncoding, 'gzip');
  });

  test('JSON path assertions on a gzip JSON answer; HEAD and 204 with an encoding but no body', async () => {
    const r = await probe({ url: `${base}/json-gzip`, assertions: [{ json_path: '$.data.total', op: '>', value: 0 }] });
    assert.equal(r.ok, true, r.reason);
    assert.equal((await probe({ url: `${base}/gzip`, method: 'HEAD' })).ok, true);
    const empty = await probe({ url: `${base}/gzip-empty`, expect_status: [204] });
    assert.equal(empty.ok, true, empty.reason);
  });

  test('a corrupt gzip body and an unknown encoding fail with a precise reason', async () => {
    const bad = await probe({ url: `${base}/corrupt` });
    assert.equal(bad.ok, false);
    assert.match(bad.reason!, /^body is not valid gzip \(.+; \d+ bytes received\)$/);
    const zstd = await probe({ url: `${base}/zstd` });
    assert.equal(zstd.ok, false);
    assert.match(zstd.reason!, /^unsupported Content-Encoding "zstd"/);
  });
});

describe('http probe: compression bombs', () => {
  for (const [path, wireMax] of [
    ['/gzip-bomb', 16 * zeros64.length],
    ['/br-bomb', brBomb.length],
  ] as const) {
    test(`${path} fails as over the cap (decoded bytes), memory flat`, async () => {
      global.gc?.();
      const before = process.memoryUsage();
      const r = await probe({ url: base + path, max_body_bytes: MiB }, 10_000);
      const afterMem = process.memoryUsage();
      assert.equal(r.ok, false);
      const m = /^body larger than 1048576 bytes \(stopped reading at (\d+) of .+-decoded body, from (\d+) bytes received\)$/.exec(r.reason!);
      assert.ok(m, r.reason);
      // Stopped within one decoder chunk of the cap, long before the wire body (let alone the decoded one) was all read.
      assert.ok(Number(m[1]) <= MiB + 64 * 1024, `decoded ${m[1]}`);
      assert.ok(Number(m[2]) <= wireMax, `wire ${m[2]}`);
      const grown = afterMem.rss + afterMem.arrayBuffers - before.rss - before.arrayBuffers;
      assert.ok(grown < 64 * MiB, `memory grew by ${grown} bytes decoding a bomb of ${path === '/gzip-bomb' ? '1 GiB' : '256 MiB'}`);
    });
  }
});
