// The console's speed targets: the incident list with 10,000 incidents in the store (time to first byte, target
// ≤ 100 ms), side by side with the API's list of the same incidents; and the public /status page in requests per
// second (target ≥ 5,000), side by side with /healthz (the server's floor: no store, no page) in the same run.
//
//   node --import tsx bench/console.ts [--pg postgres://…] [--incidents 10000] [--seconds 10] [--connections 64]
//
// Without --pg it runs on the embedded store. /status is driven by wrk when installed (apt-get install wrk), else
// by a keep-alive loop in Node. Not a test: figures depend on the machine. Results go to stdout as Markdown.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createToken } from '../src/access/tokens.ts';
import { createApp } from '../src/app.ts';
import { systemClock } from '../src/clock.ts';
import { nullLogger } from '../src/log.ts';
import { migrate } from '../src/store/migrate.ts';
import { openStore, quoteIdent } from '../src/store/store.ts';

const { values } = parseArgs({
  options: {
    pg: { type: 'string' },
    incidents: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    samples: { type: 'string', default: '200' },
  },
});
const N = Number(values.incidents);
const SAMPLES = Number(values.samples);

const SYSTEMS = ['enbek', 'nqs', 'social-services', 'payments', 'integration-bus', 'e-sobes', 'qandas', 'labour-market'];
const dir = mkdtempSync(join(tmpdir(), 'kuzet-bench-console-'));
mkdirSync(join(dir, 'probes'));
writeFileSync(join(dir, 'kuzet.yaml'), `server: { listen: 127.0.0.1, port: 0 }
probes_dir: probes
systems:
${SYSTEMS.map((s) => `  - { id: ${s}, name: ${s}, name_ru: ${s}, name_kk: ${s} }`).join('\n')}
`);

const schema = `bench_${randomBytes(4).toString('hex')}`;
const store = values.pg ? await openStore({ url: values.pg, schema }) : await openStore({ dataDir: 'memory://' });
await migrate(store);
// 10,000 incidents over 90 days: a few dozen open, the rest resolved; a timeline row each.
const now = Date.now(); // a benchmark, on the wall clock
await store.query(
  `INSERT INTO incidents (fingerprint, source, system, check_name, title, severity, status, labels, opened_at, acknowledged_at, acknowledged_by,
                          resolved_at, resolved_by, signal_count, last_signal_at, updated_at)
   SELECT 'fp-' || g, (ARRAY['probe','log','soc','alertmanager','staff','user'])[1 + g % 6], ($2::text[])[1 + g % ${SYSTEMS.length}], 'check-' || (g % 40),
          'Synthetic failure ' || g, (ARRAY['warning','minor','major','critical'])[1 + g % 4],
          CASE WHEN g % 250 = 0 THEN 'open' WHEN g % 250 = 1 THEN 'acknowledged' ELSE 'resolved' END, '{}'::jsonb,
          to_timestamp(($1::float8 - (${N} - g)::float8 * 777000) / 1000),
          CASE WHEN g % 250 = 0 THEN NULL ELSE to_timestamp(($1::float8 - (${N} - g)::float8 * 777000 + 120000) / 1000) END,
          CASE WHEN g % 250 = 0 THEN NULL ELSE 'token:oncall' END,
          CASE WHEN g % 250 < 2 THEN NULL ELSE to_timestamp(($1::float8 - (${N} - g)::float8 * 777000 + 1800000) / 1000) END,
          CASE WHEN g % 250 < 2 THEN NULL ELSE 'token:oncall' END, 1 + g % 5,
          to_timestamp(($1::float8 - (${N} - g)::float8 * 777000) / 1000), to_timestamp($1::float8 / 1000)
     FROM generate_series(1, ${N}) g`,
  [now, SYSTEMS],
);
await store.query(`INSERT INTO incident_events (incident_id, at, kind, actor, detail) SELECT id, opened_at, 'opened', source, '{}' FROM incidents`);
await store.query(`INSERT INTO timers (subject_kind, subject_id, kind, due_at, payload, created_at)
  SELECT 'incident', id, 'step', now() + interval '10 minutes', '{"step":1,"round":0}', now() FROM incidents WHERE status = 'open'`);
await store.query('ANALYZE');

const app = await createApp({ configFile: join(dir, 'kuzet.yaml'), store, clock: systemClock, log: nullLogger, port: 0 });
const { url: base } = await app.start();
const { token } = await createToken(store, systemClock, 'bench', 'viewer', 'bench');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; ttfb: number; total: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(`${base}${path}`, { agent, headers }, (res) => {
      const ttfb = Number(process.hrtime.bigint() - t0) / 1e6;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, ttfb, total: Number(process.hrtime.bigint() - t0) / 1e6, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

// Sign in through the form, as a browser does.
const form = await get('/login');
const pre = /kuzet_login_csrf=([^;]+)/.exec(String(form.headers['set-cookie']))![1]!;
const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
const cookie = await new Promise<string>((resolve, reject) => {
  const body = new URLSearchParams({ _csrf: csrf, token }).toString();
  const req = request(`${base}/login`, { method: 'POST', agent, headers: { cookie: `kuzet_login_csrf=${pre}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
    res.resume();
    res.on('end', () => resolve(/kuzet_session=[^;]+/.exec(String(res.headers['set-cookie']))![0]));
  });
  req.on('error', reject);
  req.end(body);
});

const deep = /href="\/incidents\?([^"]*after=[^"]+)"/.exec((await get('/incidents', { cookie })).body)![1]!.replaceAll('&amp;', '&');
const cases: Array<[string, string, Record<string, string>]> = [
  ['console: /incidents (open first, first page)', '/incidents', { cookie }],
  ['console: /incidents?status=resolved', '/incidents?status=resolved', { cookie }],
  ['console: /incidents?system=payments&severity=critical&period=30d', '/incidents?system=payments&severity=critical&period=30d', { cookie }],
  ['console: /incidents next page (keyset cursor)', `/incidents?${deep}`, { cookie }],
  ['peer, API: /api/v1/incidents?limit=50 (JSON)', '/api/v1/incidents?limit=50', { authorization: `Bearer ${token}` }],
];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
console.log(`\n### Incident list, ${N} incidents, ${store.kind} (${SAMPLES} sequential requests each, after 20 warm-up)\n`);
console.log('| page | status | TTFB p50 ms | TTFB p95 ms | TTFB max ms | whole page p50 ms | bytes |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, path, headers] of cases) {
  for (let i = 0; i < 20; i++) await get(path, headers);
  const ttfb: number[] = [];
  const total: number[] = [];
  let last = { status: 0, body: '' };
  for (let i = 0; i < SAMPLES; i++) {
    const r = await get(path, headers);
    ttfb.push(r.ttfb);
    total.push(r.total);
    last = r;
  }
  console.log(`| ${name} | ${last.status} | ${pct(ttfb, 50).toFixed(1)} | ${pct(ttfb, 95).toFixed(1)} | ${Math.max(...ttfb).toFixed(1)} | ${pct(total, 50).toFixed(1)} | ${Buffer.byteLength(last.body)} |`);
}

// /status requests per second.
const seconds = Number(values.seconds);
const conns = Number(values.connections);
function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status === 1; // wrk --version exits 1 after printing its version
  }
}
async function nodeLoop(path: string): Promise<number> {
  const a = new Agent({ keepAlive: true, maxSockets: conns });
  let n = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: conns }, async () => {
    while (performance.now() < until) {
      await new Promise<void>((resolve, reject) => request(`${base}${path}`, { agent: a }, (res) => { res.resume(); res.on('end', () => resolve()); }).on('error', reject).end());
      n++;
    }
  }));
  a.destroy();
  return n / seconds;
}
const wrk = hasWrk();
console.log(`\n### /status, ${store.kind}, ${wrk ? `wrk -t2 -c${conns} -d${seconds}s` : `Node keep-alive loop, ${conns} connections, ${seconds} s`} (client on the same 2 cores)\n`);
console.log('| path | requests/s | ratio to /healthz |');
console.log('|---|---|---|');
const rps: Record<string, number> = {};
for (const path of ['/healthz', '/status', '/status?lang=kk']) {
  if (wrk) {
    // Asynchronously: the server runs in this very process.
    const out = (await promisify(execFile)('wrk', [`-t2`, `-c${conns}`, `-d${seconds}s`, `${base}${path}`], { encoding: 'utf8' })).stdout;
    rps[path] = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
    if (/Non-2xx/.test(out)) throw new Error(`${path}: non-2xx answers\n${out}`);
  } else {
    rps[path] = await nodeLoop(path);
  }
}
for (const [path, v] of Object.entries(rps)) console.log(`| ${path} | ${Math.round(v)} | ${(v / rps['/healthz']!).toFixed(2)} |`);

agent.destroy();
await app.stop();
if (values.pg) await store.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`).catch(() => {});
await store.close();
rmSync(dir, { recursive: true, force: true });
