// `kuzet backup` backs up kuzet's own embedded store: pg_dump (PostgreSQL 15's client, as in Debian) reaches the
// embedded server on its unix socket with the generated password, with or without a daemon running.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../../src/cli/index.ts';
import { migrate } from '../../../src/store/migrate.ts';
import { openStore } from '../../../src/store/store.ts';

const hasPgDump = spawnSync('pg_dump', ['--version']).status === 0;

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s) }, { run: async () => {} });
  return { code, out, err };
}

describe('kuzet backup of its own embedded store', { skip: !hasPgDump && 'pg_dump is not installed' }, () => {
  it('dumps the store through the embedded server, beside a running daemon and with none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kuzet-selfbackup-'));
    chmodSync(dir, 0o755); // as root, the embedded server runs as postgres and must reach its folder
    after(() => rmSync(dir, { recursive: true, force: true }));
    const data = join(dir, 'data');
    mkdirSync(join(dir, 'probes'));
    // The daemon's first start creates the cluster and its password file.
    const daemon = await openStore({ dataDir: data });
    await migrate(daemon);
    await daemon.query("INSERT INTO api_tokens (name, role, token_hash, created_at, created_by) VALUES ('marker-token-7', 'viewer', 'h', now(), 'test')");
    const cfg = join(dir, 'kuzet.yaml');
    writeFileSync(cfg, `store:
  url: ""
  data_dir: data
probes_dir: probes
backups:
  jobs:
    - name: kuzet-store
      kind: postgres
      dir: ${join(dir, 'out')}
      postgres: { host: ${join(data, 'cluster')}, port: 5432, user: kuzet, database: kuzet, password_file: data/password }
`);
    try {
      // Beside the running daemon (posing as another process holding the folder): the command attaches to its server.
      writeFileSync(join(data, 'kuzet.pid'), `${process.ppid}\n`);
      const beside = await cli(['backup', 'run', 'kuzet-store', '--config', cfg]);
      assert.equal(beside.code, 0, beside.out + beside.err);
      assert.match(beside.out, /kuzet-store: backup ok in [\d.]+ s, verified/);
      writeFileSync(join(data, 'kuzet.pid'), `${process.pid}\n`);
    } finally {
      await daemon.close();
    }
    // No daemon: the command starts the embedded server for its own run.
    await new Promise((r) => setTimeout(r, 1100)); // backups are named by the second they start
    const alone = await cli(['backup', 'run', 'kuzet-store', '--config', cfg]);
    assert.equal(alone.code, 0, alone.out + alone.err);
    const dumps = readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.dump'));
    assert.equal(dumps.length, 2, dumps.join(', '));
    for (const f of dumps) {
      const sql = spawnSync('pg_restore', ['-f', '-', join(dir, 'out', f)], { encoding: 'utf8' });
      assert.equal(sql.status, 0, sql.stderr);
      assert.match(sql.stdout, /CREATE TABLE public\.incidents/);
      assert.match(sql.stdout, /marker-token-7/, 'the dump holds the store\'s rows');
    }
  });
});
