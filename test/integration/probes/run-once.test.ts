import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { runProbeOnce } from '../../../src/sources/probes/run-once.ts';
import type { ProbeFile } from '../../../src/sources/probes/types.ts';
import { listen, targetHandler } from './support.ts';

// `kuzet probe NAME`: each assertion and step printed, exit code 0 / 1 / 2.

let base = '';
let close: () => Promise<void>;
before(async () => {
  const s = await listen(http.createServer(targetHandler()));
  base = `http://127.0.0.1:${s.port}`;
  close = s.close;
});
after(async () => close());

const config = (): ProbeFile[] => [
  {
    probes: [
      { name: 'home-ru', kind: 'http', system: 'enbek', http: { url: `${base}/ok`, assertions: [{ contains: 'Поиск вакансий' }, { contains: 'Бос жұмыс' }] } },
      { name: 'home-ok', kind: 'http', system: 'enbek', http: { url: `${base}/ok`, assertions: [{ contains: 'Поиск вакансий' }] } },
      {
        name: 'login-flow',
        kind: 'flow',
        system: 'nqs',
        flow: {
          credentials: { login: 'probe-user', password: 's3cret' },
          steps: [
            { name: 'log in', url: `${base}/login`, method: 'POST', form: { login: '{{login}}', password: '{{password}}' }, extract: { csrf: { json_path: '$.csrf' } } },
            { name: 'search', url: `${base}/search?q=x&csrf={{csrf}}` },
          ],
        },
      },
    ],
  },
];

test('a failing probe prints each assertion and exits 1', async () => {
  const out = await runProbeOnce('home-ru', config());
  assert.equal(out.exitCode, 1);
  assert.match(out.text, /^probe home-ru \(http, system enbek\)\n/);
  assert.match(out.text, /\n {2}ok {3}status 200–399 \(status 200\)\n/);
  assert.match(out.text, /\n {2}ok {3}body contains "Поиск вакансий"/);
  assert.match(out.text, /\n {2}FAIL body contains "Бос жұмыс"/);
  assert.match(out.text, /\nDOWN: body contains "Бос жұмыс" failed: \d+ bytes \(\d+ ms\)\n$/);
});

test('a passing probe exits 0; a flow prints its steps, not the password', async () => {
  const ok = await runProbeOnce('home-ok', config());
  assert.equal(ok.exitCode, 0);
  assert.match(ok.text, /\nUP in \d+ ms\n$/);
  const flow = await runProbeOnce('login-flow', config());
  assert.equal(flow.exitCode, 0, flow.text);
  assert.match(flow.text, /\n {2}step log in: ok in \d+ ms\n {4}ok {3}status 200–399 \(status 200\)\n {4}ok {3}extract csrf \(6 characters\)\n {2}step search: ok/);
  assert.ok(!flow.text.includes('s3cret'));
});

test('an unknown name exits 2 and suggests near names', async () => {
  const out = await runProbeOnce('home', config());
  assert.equal(out.exitCode, 2);
  assert.equal(out.text, 'no probe named "home"; did you mean home-ru, home-ok?\n');
});
