import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../../src/cli/index.ts';
import { lockDataDir } from '../../../src/store/lock.ts';
import { openStore } from '../../../src/store/store.ts';
import { testApp, type TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s) }, { run: async () => {} });
  return { code, out, err };
}

describe(`kuzet incidents … against a running kuzet on ${storeKind}`, () => {
  let t: TestApp;
  let url: string, oncall: string;
  before(async () => {
    t = await testApp();
    url = (await t.app.start()).url;
    oncall = await t.token('oncall', 'bolat');
  });
  after(() => t.close());

  it('opens, lists, shows, acknowledges, annotates and resolves', async () => {
    const common = ['--url', url, '--token', oncall];
    const open = await cli(['incidents', 'open', ...common, '--system', 'enbek', '--title', 'Login page returns 502', '--severity', 'critical']);
    assert.equal(open.code, 0, open.err);
    const id = Number(/incident #(\d+) open/.exec(open.out)?.[1]);
    assert.ok(id > 0, open.out);
    const ls = await cli(['incidents', 'ls', ...common, '--status', 'open']);
    assert.match(ls.out, new RegExp(`^${id}\\s+open\\s+critical\\s+enbek`, 'm'));
    assert.equal((await cli(['incidents', 'ack', String(id), ...common, '--note', 'looking'])).out, `incident #${id} is acknowledged\n`);
    assert.equal((await cli(['incidents', 'note', String(id), 'upstream restarted', ...common])).code, 0);
    assert.equal((await cli(['incidents', 'resolve', String(id), ...common])).out, `incident #${id} is resolved\n`);
    const show = await cli(['incidents', 'show', String(id), ...common]);
    assert.match(show.out, /status: {4}resolved/);
    assert.match(show.out, /acknowledged\s+token:bolat\s+\{"note":"looking"\}/);
    assert.match(show.out, /note\s+token:bolat\s+\{"text":"upstream restarted"\}/);
    const json = JSON.parse((await cli(['incidents', 'show', String(id), ...common, '--json'])).out);
    assert.equal(json.status, 'resolved');
  });

  it('reports refusals and an unreachable server with exit 1 and the reason', async () => {
    const bad = await cli(['incidents', 'ls', '--url', url, '--token', 'kzt_nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /401: the API token is not valid/);
    const missing = await cli(['incidents', 'show', '999999', '--url', url, '--token', oncall]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /404: incident 999999 not found/);
    const down = await cli(['incidents', 'ls', '--url', 'http://127.0.0.1:1', '--token', oncall]);
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach kuzet at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('kuzet token … on the embedded store', () => {
  it('creates tokens, uses a running daemon\'s server, and refuses while a daemon holds the store without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kuzet-cli-'));
    chmodSync(dir, 0o755); // as root, the embedded server runs as postgres and must reach its folder
    try {
      mkdirSync(join(dir, 'probes'));
      writeFileSync(join(dir, 'kuzet.yaml'), 'store:\n  url: ""\n  data_dir: data\nprobes_dir: probes\n');
      const cfg = join(dir, 'kuzet.yaml');
      const made = await cli(['token', 'create', '--role', 'oncall', '--name', 'duty', '--config', cfg]);
      assert.equal(made.code, 0, made.err);
      assert.match(made.out, /^kzt_[A-Za-z0-9_-]{32}\n$/);
      assert.match(made.err, /token #1 \(duty, role oncall\) created/);
      const ls = await cli(['token', 'ls', '--config', cfg]);
      assert.match(ls.out, /1\s+duty\s+oncall/);
      assert.ok(!ls.out.includes(made.out.trim()), 'the token value is never listed');
      // Beside a daemon whose embedded server runs, the command works through that server.
      const daemon = await openStore({ dataDir: join(dir, 'data') });
      try {
        writeFileSync(join(dir, 'data', 'kuzet.pid'), `${process.ppid}\n`);
        const beside = await cli(['token', 'create', '--role', 'viewer', '--name', 'beside', '--config', cfg]);
        assert.equal(beside.code, 0, beside.err);
        assert.match(beside.err, /token #2 \(beside, role viewer\) created/);
        writeFileSync(join(dir, 'data', 'kuzet.pid'), `${process.pid}\n`);
      } finally {
        await daemon.close();
      }
      const unlock = lockDataDir(join(dir, 'data'));
      // A live process other than this one must hold it: pretend with our parent's pid.
      writeFileSync(join(dir, 'data', 'kuzet.pid'), `${process.ppid}\n`);
      const refused = await cli(['token', 'create', '--role', 'viewer', '--config', cfg]);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /in use by the running daemon \(pid \d+\)/);
      unlock();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
