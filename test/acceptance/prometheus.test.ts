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
// Both reach kuzet under the path prefix (/alertmanager by default) as well as at the root.

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

  it('Prometheus (path_prefix: /alertmanager) -> kuzet: one incident while the rule fires, resolved when it stops', async () => {
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
      - alert: KuzetPromForever
        expr: vector(1)
        labels: { severity: warning, system: nqs }
`);
    const target = new URL(base).host;
    writeFileSync(join(dir, 'prometheus.yml'), `global:
  evaluation_interval: 1s
rule_files: [${join(dir, 'rules.yml')}]
alerting:
  alertmanagers:
    - api_version: v2
      path_prefix: /alertmanager
      static_configs: [{ targets: ["${target}"] }]
      authorization: { type: Bearer, credentials: "${token}" }
`);
    // resend-delay 1s: Prometheus sets endsAt 4 × max(evaluation interval, resend delay) = 4 s ahead on every send.
    prom = start('/usr/bin/prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, '--rules.alert.resend-delay=1s',
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

  it('an alert Prometheus stops sending (Prometheus is gone) resolves when its endsAt passes', async () => {
    const open = await until('KuzetPromForever to open', async () => (await incidents('KuzetPromForever')).find((i) => i.status === 'open'), 40);
    assert.ok(prom, 'Prometheus runs');
    prom.signal('SIGKILL');
    await prom.exited;
    // endsAt is at most 4 s after the last send; the sweeper looks every 5 s.
    const resolved = await until('KuzetPromForever to resolve without Prometheus', async () => (await incidents('KuzetPromForever')).find((i) => i.status === 'resolved'), 40);
    assert.equal(resolved.id, open.id);
    const last = (await store.query<{ payload: { expired?: string } }>(`SELECT payload FROM signals WHERE check_name = 'KuzetPromForever' AND status = 'resolved'`)).rows;
    assert.match(String(last[0]?.payload.expired), /endsAt passed/);
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

  it('amtool under the prefix: alert add with an end expires, alert query, silence add / query / expire, and no version warning', async () => {
    // Alerts are posted with the soc token; silences need an oncall one.
    const oncall = (await createToken(store, systemClock, 'duty', 'oncall', 'test')).token;
    writeFileSync(join(dir, 'http.yml'), `authorization:\n  type: Bearer\n  credentials: "${token}"\n`);
    writeFileSync(join(dir, 'oncall.yml'), `authorization:\n  type: Bearer\n  credentials: "${oncall}"\n`);
    const amtool = async (...args: string[]) => {
      const auth = join(dir, args[0] === 'silence' ? 'oncall.yml' : 'http.yml');
      const r = await run('/usr/bin/amtool', [...args, `--alertmanager.url=${base}/alertmanager`, `--http.config.file=${auth}`]);
      assert.equal(r.code, 0, `amtool ${args.join(' ')}: ${r.out}`);
      assert.doesNotMatch(r.out, /Warning|version/i, 'amtool accepts versionInfo without its version warning');
      return r.out;
    };
    // An alert that ends 4 s ahead and is never sent again.
    const end = new Date(Date.now() + 4_000).toISOString();
    await amtool('alert', 'add', 'alertname=AmtoolEnds', 'system=nqs', `--end=${end}`, '--annotation=summary=ends soon');
    await amtool('alert', 'add', 'alertname=AmtoolQuery', 'system=enbek', 'severity=critical', '--annotation=summary=enbek vacancy search fails');
    assert.equal((await incidents('AmtoolEnds'))[0]?.status, 'open');

    const query = await amtool('alert', 'query');
    assert.match(query, /^Alertname\s+Starts At\s+Summary\s+State/m);
    assert.match(query, /^AmtoolQuery\s.*enbek vacancy search fails\s+active\s*$/m);
    assert.match(await amtool('alert', 'query', 'alertname=AmtoolQuery'), /AmtoolQuery/);
    assert.doesNotMatch(await amtool('alert', 'query', 'alertname=AmtoolQuery'), /AmtoolEnds/);

    const id = (await amtool('silence', 'add', 'alertname=AmtoolQuery', '--comment=enbek release', '--duration=1h', '--author=aigerim')).trim();
    assert.match(id, /^\d+$/);
    const silences = await amtool('silence', 'query');
    assert.match(silences, new RegExp(`^${id}\\s+alertname="AmtoolQuery"\\s+.*aigerim\\s+enbek release`, 'm'));
    const stored = (await store.query<{ matchers: unknown; reason: string }>('SELECT matchers, reason FROM silences WHERE id = $1', [Number(id)])).rows;
    assert.deepEqual(stored, [{ matchers: { alertname: 'AmtoolQuery' }, reason: 'enbek release' }], "it is one of kuzet's silences");
    assert.doesNotMatch(await amtool('alert', 'query'), /AmtoolQuery/, 'a silenced alert is left out of the default query');
    assert.match(await amtool('alert', 'query', '--silenced'), /^AmtoolQuery\s.*suppressed\s*$/m);

    await amtool('silence', 'expire', id);
    assert.doesNotMatch(await amtool('silence', 'query'), new RegExp(`^${id}\\s`, 'm'));
    assert.match(await amtool('silence', 'query', '--expired'), new RegExp(`^${id}\\s`, 'm'));
    assert.match(await amtool('alert', 'query'), /^AmtoolQuery\s.*active\s*$/m);

    const resolved = await until('AmtoolEnds to expire', async () => (await incidents('AmtoolEnds')).find((i) => i.status === 'resolved'), 40);
    assert.ok(resolved);
    assert.doesNotMatch(await amtool('alert', 'query'), /AmtoolEnds/);
  });
});
