import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createToken } from '../../src/access/tokens.ts';
import { createApp, type App } from '../../src/app.ts';
import { systemClock } from '../../src/clock.ts';
import { nullLogger } from '../../src/log.ts';
import type { Store } from '../../src/store/store.ts';
import { TEST_CONFIG } from '../support/app.ts';
import { freePort, run, start, waitFor, type Started } from '../support/process.ts';
import { freshStore } from '../support/store.ts';

// Real clients, unchanged: Prometheus (Debian `prometheus`) delivering an alert rule to kuzet, and amtool
// (Debian `prometheus-alertmanager`). They run on wall-clock time, so this test polls with bounded loops.

const haveTools = existsSync('/usr/bin/prometheus') && existsSync('/usr/bin/amtool');

describe('real Prometheus and amtool deliver to kuzet', { skip: haveTools ? false : 'prometheus/amtool not installed (CI installs them)' }, () => {
  let app: App, store: Store, dir: string, base: string, token: string;
  let prom: (Started & { signal: (s: NodeJS.Signals) => void }) | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kuzet-prom-'));
    mkdirSync(join(dir, 'probes'));
    writeFileSync(join(dir, 'kuzet.yaml'), TEST_CONFIG);
    store = await freshStore();
    app = await createApp({ configFile: join(dir, 'kuzet.yaml'), store, clock: systemClock, log: nullLogger, port: 0, env: {} });
    base = (await app.start()).url;
    token = (await createToken(store, systemClock, 'prometheus', 'soc', 'test')).token;
  });
  after(async () => {
    prom?.signal('SIGKILL');
    await app.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const incidents = async (check: string) =>
    (await store.query<{ id: number; status: string; reopen_count: number }>('SELECT id, status, reopen_count FROM incidents WHERE check_name = $1', [check])).rows;
  async function until<T>(what: string, fn: () => Promise<T | undefined>, tries: number): Promise<T> {
    for (let i = 0; i < tries; i++) {
      const v = await fn();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('Prometheus -> kuzet: one incident while the rule fires, resolved when it stops', async () => {
    const port = await freePort();
    const now = Math.floor(Date.now() / 1000);
    // Fires from +8 s (after Prometheus has found its Alertmanager, ~5 s) to +20 s.
    writeFileSync(join(dir, 'rules.yml'), `groups:
  - name: kuzet-test
    interval: 1s
    rules:
      - alert: KuzetPromTest
        expr: (vector(time()) > ${now + 8}) < ${now + 20}
        labels: { severity: critical, system: enbek }
        annotations: { summary: "enbek.kz vacancy search is failing" }
`);
    const target = new URL(base).host;
    writeFileSync(join(dir, 'prometheus.yml'), `global:
  evaluation_interval: 1s
rule_files: [${join(dir, 'rules.yml')}]
alerting:
  alertmanagers:
    - api_version: v2
      static_configs: [{ targets: ["${target}"] }]
      authorization: { type: Bearer, credentials: "${token}" }
`);
    prom = start('/usr/bin/prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], {}, dir);
    let alive = true;
    void prom.exited.then(() => (alive = false));
    await waitFor(`http://127.0.0.1:${port}/-/ready`, 60, 250, () => alive);
    const opened = await until('the incident to open', async () => (await incidents('KuzetPromTest')).find((i) => i.status === 'open'), 80);
    const resolved = await until('the incident to resolve', async () => (await incidents('KuzetPromTest')).find((i) => i.status === 'resolved'), 80);
    assert.equal(resolved.id, opened.id);
    const all = await incidents('KuzetPromTest');
    assert.equal(all.length, 1, 'one incident for the whole firing period');
    assert.equal(all[0]!.reopen_count, 0);
    const sum = (await store.query<{ n: number }>(`SELECT sum(repeat_count)::int AS n FROM signals WHERE check_name = 'KuzetPromTest' AND status = 'firing'`)).rows[0]!.n;
    assert.ok(sum >= 1);
  });

  it('amtool alert add and amtool config show work against kuzet', async () => {
    writeFileSync(join(dir, 'http.yml'), `authorization:\n  type: Bearer\n  credentials: "${token}"\n`);
    const common = [`--alertmanager.url=${base}`, `--http.config.file=${join(dir, 'http.yml')}`];
    const add = await run('/usr/bin/amtool', ['alert', 'add', 'alertname=AmtoolTest', 'severity=warning', 'system=nqs', '--annotation=summary=added by amtool', ...common]);
    assert.equal(add.code, 0, add.out);
    const rows = await incidents('AmtoolTest');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.status, 'open');
    const show = await run('/usr/bin/amtool', ['config', 'show', ...common]);
    assert.equal(show.code, 0, show.out);
    assert.match(show.out, /receiver: kuzet/);
    // Without its http config amtool sends no credentials, and the status (like the alerts) is for a soc token only.
    const anon = await run('/usr/bin/amtool', ['config', 'show', `--alertmanager.url=${base}`]);
    assert.notEqual(anon.code, 0, anon.out);
  });
});
