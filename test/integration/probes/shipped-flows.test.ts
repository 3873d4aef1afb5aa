import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../../src/clock.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { runWithRetries } from '../../../src/sources/probes/factory.ts';
import { HttpAgents } from '../../../src/sources/probes/http-client.ts';
import { flowProbe, httpProbe } from '../../../src/sources/probes/kinds/http.ts';
import type { FlowSpec, HttpRequestSpec } from '../../../src/sources/probes/types.ts';
import { schemaPlugins } from '../../../src/sections.ts';

// The shipped probes check what users do (search, open a result, open a form) and what the pages say, not only
// that they answer: each is run as shipped, with its origin pointed at a local stand-in of the portal.

const cfg = loadConfig(fileURLToPath(new URL('../../../config/kuzet.yaml', import.meta.url)), schemaPlugins, {});
const probes = cfg.probeFiles.flatMap((f) => f.probes) as Array<{ name: string; kind: string; http?: HttpRequestSpec; flow?: FlowSpec }>;
const byName = (n: string) => probes.find((p) => p.name === n)!;

let server: http.Server;
let origin = '';
let broken = false;
const seen: string[] = [];
const page = (lang: string, body: string) => `<!doctype html><html lang="${lang}"><body>${body}</body></html>`;

before(async () => {
  server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    seen.push(url);
    res.setHeader('content-type', 'text/html; charset=utf-8');
    if (broken) return res.end(page('ru', '<h1>Internal Server Error</h1>'));
    if (url.startsWith('/ru/search/vac')) return res.end(page('ru', 'Найдено 12 вакансий: <a href="/ru/vacancy/48213">Бухгалтер</a>'));
    if (url === '/ru/vacancy/48213') return res.end(page('ru', 'Бухгалтер. Заработная плата: 300 000 тг'));
    if (url === '/ru/feedback') return res.end(page('ru', '<form method="post"><label>E-mail<input name="email"></label></form>'));
    if (url.startsWith('/ru/search')) return res.end(page('ru', 'Профессии: <a href="/ru/profession/2411-0-001">Бухгалтер</a>'));
    if (url === '/ru/profession/2411-0-001') return res.end(page('ru', 'Бухгалтер — профессиональный стандарт'));
    if (url === '/ru') return res.end(page('ru', 'Национальная система квалификаций'));
    if (url === '/kk') return res.end(page('kk', 'Ұлттық біліктілік жүйесі'));
    res.statusCode = 404;
    res.end(page('ru', 'нет такой страницы'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const local = (u: string) => u.replace(/^https:\/\/(www\.enbek\.kz|career\.enbek\.kz)/, origin);
const agents = new HttpAgents();
const runShipped = async (name: string) => {
  const p = byName(name);
  const deps = { clock: systemClock, agents };
  const probe = p.kind === 'flow'
    ? flowProbe(name, { ...p.flow!, steps: p.flow!.steps.map((s) => ({ ...s, url: local(s.url) })) }, deps)
    : httpProbe(name, { ...p.http!, url: local(p.http!.url) }, deps);
  return runWithRetries(probe, { timeoutMs: 5000, retries: 0 }, systemClock);
};

describe('shipped probes of functionality', () => {
  for (const name of ['enbek-vacancy-flow', 'enbek-feedback-form', 'nqs-search-flow', 'nqs-web-ru', 'nqs-web-kk']) {
    test(`${name} passes on a working portal and fails on an error page`, async () => {
      broken = false;
      const ok = await runShipped(name);
      assert.equal(ok.ok, true, ok.reason);
      broken = true;
      const down = await runShipped(name);
      broken = false;
      assert.equal(down.ok, false, `${name} must fail on an error page`);
    });
  }

  test('the search flows follow the result they found', async () => {
    seen.length = 0;
    assert.equal((await runShipped('enbek-vacancy-flow')).ok, true);
    assert.ok(seen.includes('/ru/vacancy/48213'), seen.join(' '));
    assert.equal((await runShipped('nqs-search-flow')).ok, true);
    assert.ok(seen.includes('/ru/profession/2411-0-001'), seen.join(' '));
  });

  test('the NQS pages are checked for their content and language, not only for an answer', async () => {
    const p = byName('nqs-web-kk');
    assert.ok((p.http!.assertions ?? []).some((a) => 'regex' in a && /біліктілі/.test(a.regex)));
    assert.ok((p.http!.assertions ?? []).some((a) => 'regex' in a && /lang/.test(a.regex)));
  });
});
