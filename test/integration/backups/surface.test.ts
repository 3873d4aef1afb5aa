// The CLI function and GET /api/v1/backups, over a folder job (runs on PGlite and PostgreSQL stores).

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Fastify, { type preHandlerHookHandler } from 'fastify';
import { backupCommand } from '../../../src/backups/cli.ts';
import { registerBackupRoutes } from '../../../src/backups/routes.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, harness } from './helpers.ts';

let store: Store;
before(async () => {
  store = await freshStore();
});
after(async () => {
  await store.close();
});

const setup = () =>
  harness((dir) => ({
    jobs: [
      { name: 'uploads', kind: 'folder', dir: join(dir, 'out'), folder: { path: join(dir, 'src') }, schedule: '0 3 * * *' },
      { name: 'gone', kind: 'folder', dir: join(dir, 'out'), folder: { path: join(dir, 'nowhere') } },
    ],
  }), { store });

test('kuzet backup run|verify|drill: progress lines, summary and exit codes', async () => {
  const h = await setup();
  try {
    await mkdir(join(h.dir, 'src'));
    await writeFile(join(h.dir, 'src', 'a.txt'), 'hello');
    const out: string[] = [];
    const say = (l: string) => out.push(l);

    assert.equal(await backupCommand('run', 'uploads', { service: h.service, out: say }), 0);
    assert.ok(out.includes('[uploads] backup started'), out.join('\n'));
    assert.ok(out.some((l) => l.startsWith('[uploads]   ok   sha256: ')));
    assert.match(out.at(-1)!, /^uploads: backup ok in \d+\.\d s, verified$/);

    out.length = 0;
    assert.equal(await backupCommand('verify', undefined, { service: h.service, out: say }), 1, 'one job has no backup');
    assert.ok(out.includes('gone: verify FAILED after 0.0 s (no_backup): no complete backup of "gone" is recorded') || out.some((l) => /^gone: verify FAILED after \d+\.\d s \(no_backup\)/.test(l)), out.join('\n'));
    assert.ok(out.some((l) => /^uploads: verify ok in/.test(l)));

    out.length = 0;
    assert.equal(await backupCommand('run', 'gone', { service: h.service, out: say }), 1);
    assert.match(out.at(-1)!, /^gone: backup FAILED after \d+\.\d s \(dump_failed\): tar exited with code 2: .*nowhere.*No such file or directory/);

    out.length = 0;
    assert.equal(await backupCommand('run', 'nope', { service: h.service, out: say }), 2);
    assert.deepEqual(out, ['error: no backup job named "nope"; configured: uploads, gone']);
    out.length = 0;
    assert.equal(await backupCommand('restore', undefined, { service: h.service, out: say }), 2);
    assert.deepEqual(out, ['error: unknown backup action "restore"; expected one of: run, verify, drill']);
    out.length = 0;
    assert.equal(await backupCommand('drill', 'uploads', { service: h.service, out: say }), 2);
    assert.deepEqual(out, ['error: backup job "uploads" has no drill configured (backups.jobs[].drill)']);
    out.length = 0;
    assert.equal(await backupCommand('drill', undefined, { service: h.service, out: say }), 2);
    assert.deepEqual(out, ['no backup job has a drill configured']);
  } finally {
    await h.close();
  }
});

test('GET /api/v1/backups lists jobs with their newest backup and the run history; bad input is a 4xx', async () => {
  const h = await setup();
  const app = Fastify();
  const roles: string[] = [];
  const authorize = (role: string): preHandlerHookHandler => async (req, reply) => {
    roles.push(role);
    if (req.headers.authorization !== 'Bearer ok') await reply.code(401).send({ error: { code: 'KZ_ERR_UNAUTHENTICATED', message: 'no' } });
  };
  await registerBackupRoutes(app, { service: h.service, authorize });
  try {
    await mkdir(join(h.dir, 'src'));
    await writeFile(join(h.dir, 'src', 'a.txt'), 'hello');
    await h.service.syncSchedules();
    await h.service.run('backup', 'uploads');
    await h.service.run('backup', 'gone');
    const auth = { authorization: 'Bearer ok' };

    assert.equal((await app.inject({ url: '/api/v1/backups' })).statusCode, 401);
    assert.deepEqual(roles, ['viewer']);

    const res = await app.inject({ url: '/api/v1/backups', headers: auth });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(body.jobs.map((j: { name: string }) => j.name), ['uploads', 'gone']);
    const [up, gone] = body.jobs;
    assert.equal(up.latest_backup.verify_ok, true);
    assert.match(up.latest_backup.sha256, /^[0-9a-f]{64}$/);
    assert.equal(up.last_backup_run.status, 'ok');
    assert.equal(up.last_verify_run.trigger, 'after_backup');
    assert.equal(up.schedules[0].task, 'backup');
    assert.equal(up.schedules[0].cron, '0 3 * * *');
    assert.match(up.schedules[0].due_at, /T2[12]:00:00\.000Z$/, '03:00 Asia/Almaty');
    assert.deepEqual(up.firing, []);
    assert.equal(gone.latest_backup, null);
    assert.equal(gone.last_backup_run.reason_code, 'dump_failed');
    assert.deepEqual(gone.firing, [{ stage: 'backup', reasonCode: 'dump_failed' }]);
    assert.deepEqual(body.history.map((r: { job: string; task: string }) => `${r.job}/${r.task}`), ['gone/backup', 'uploads/verify', 'uploads/backup']);

    const page = (await app.inject({ url: '/api/v1/backups?job=uploads&limit=1', headers: auth })).json();
    assert.equal(page.jobs.length, 1);
    assert.equal(page.history.length, 1);
    assert.equal(page.history[0].task, 'verify');
    const next = (await app.inject({ url: `/api/v1/backups?job=uploads&limit=1&before=${page.next_before}`, headers: auth })).json();
    assert.equal(next.history[0].task, 'backup');
    const onlyBackups = (await app.inject({ url: '/api/v1/backups?task=backup', headers: auth })).json();
    assert.deepEqual(onlyBackups.history.map((r: { job: string }) => r.job), ['gone', 'uploads']);

    const unknown = await app.inject({ url: '/api/v1/backups?job=nope', headers: auth });
    assert.equal(unknown.statusCode, 404);
    assert.deepEqual(unknown.json(), { error: { code: 'KZ_ERR_NOT_FOUND', message: 'backup job "nope" not found' } });
    for (const q of ['limit=0', 'limit=abc', 'limit=501', 'task=restore', 'before=-1', 'job=']) {
      const bad = await app.inject({ url: `/api/v1/backups?${q}`, headers: auth });
      assert.equal(bad.statusCode, 400, q);
      assert.equal(bad.json().error.code, 'KZ_ERR_VALIDATION', q);
      assert.match(bad.json().error.message, /^invalid query: /, q);
    }
  } finally {
    await app.close();
    await h.close();
  }
});
