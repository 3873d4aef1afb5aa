import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { archiveAudit, GENESIS, recordedArchives, scheduleAuditArchive, verifyAuditArchive } from '../../../src/access/audit-archive.ts';
import { nextCronTime } from '../../../src/backups/config.ts';
import { runCli } from '../../../src/cli/index.ts';
import { FakeClock } from '../../../src/clock.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { tmpTree } from '../../support/tmp.ts';

// The audit archive (002 §13.2): finished months into files, each carrying the SHA-256 of the one before.

const DAY = 86_400_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function addRow(store: Store, at: string, actor: string, action = 'incident.ack') {
  await store.query(`INSERT INTO audit_log (at, actor, action, target, remote, outcome, detail) VALUES ($1, $2, $3, 'incident:1', '127.0.0.1', 'ok', '{}')`, [at, actor, action]);
}

describe(`audit archive on ${storeKind}`, () => {
  let store: Store;
  before(async () => {
    store = await freshStore();
  });
  after(() => store.close());

  it('archives each finished Almaty month into a chained file, verifies it, and finds an edited file', async () => {
    const t = tmpTree({ '.keep': '' });
    try {
      // 23:30 on 31 October in Almaty (UTC+5) is still October; 00:10 on 1 November is November, though both are
      // 31 October in UTC.
      await addRow(store, '2026-10-31T18:30:00Z', 'aigerim');
      await addRow(store, '2026-10-31T19:10:00Z', 'bolat');
      await addRow(store, '2026-11-15T06:00:00Z', 'bolat');
      await addRow(store, '2026-12-02T06:00:00Z', 'dana'); // December is not over: stays in the store only
      const clock = new FakeClock('2026-12-03T04:00:00Z');
      const dir = t.path('audit');
      const run = await archiveAudit(store, clock, { dir, zone: 'Asia/Almaty', retentionMs: 0 });
      assert.deepEqual(run.written.map((w) => [w.month, w.rows]), [['2026-10', 1], ['2026-11', 2]]);

      const oct = readFileSync(join(dir, 'audit-2026-10.jsonl'));
      const nov = readFileSync(join(dir, 'audit-2026-11.jsonl'));
      const octHeader = JSON.parse(oct.toString().split('\n')[0]!);
      const novLines = nov.toString().trim().split('\n');
      assert.equal(octHeader.prev_sha256, GENESIS);
      assert.equal(JSON.parse(novLines[0]!).prev_sha256, sha(oct), 'November names October\'s SHA-256');
      assert.deepEqual(novLines.slice(1).map((l) => JSON.parse(l).actor), ['bolat', 'bolat']);
      assert.equal(JSON.parse(novLines[1]!).at, '2026-10-31T19:10:00.000Z');

      // Run again: nothing new, nothing rewritten.
      assert.deepEqual((await archiveAudit(store, clock, { dir, zone: 'Asia/Almaty', retentionMs: 0 })).written, []);
      const recorded = await recordedArchives(store);
      assert.deepEqual(verifyAuditArchive(dir, recorded), { ok: true, files: 2, rows: 3, problems: [] });

      // One changed character in October breaks the chain at November, and differs from the store's record.
      writeFileSync(join(dir, 'audit-2026-10.jsonl'), oct.toString().replace('aigerim', 'aigeriM'));
      const bad = verifyAuditArchive(dir, recorded);
      assert.equal(bad.ok, false);
      assert.ok(bad.problems.some((p) => p.startsWith('audit-2026-11.jsonl: the chain is broken here')), bad.problems.join('\n'));
      assert.ok(bad.problems.some((p) => p.startsWith('audit-2026-10.jsonl: its SHA-256')), bad.problems.join('\n'));

      // The CLI says so with exit 1, and names the file.
      let out = '';
      let err = '';
      const code = await runCli(['audit', 'verify', '--dir', dir], { out: (s) => (out += s), err: (s) => (err += s) }, { run: async () => {} });
      assert.equal(code, 1, out);
      assert.match(err, /audit-2026-11\.jsonl: the chain is broken here/);

      // A first line that is JSON but no header is named, not a crash.
      writeFileSync(join(dir, 'audit-2026-10.jsonl'), '{"hello": 1}\n');
      assert.ok(verifyAuditArchive(dir).problems.includes('audit-2026-10.jsonl: the first line is not an archive header'));

      // Restored: intact again, and the CLI says so with exit 0.
      writeFileSync(join(dir, 'audit-2026-10.jsonl'), oct);
      out = '';
      assert.equal(await runCli(['audit', 'verify', '--dir', dir], { out: (s) => (out += s), err: () => {} }, { run: async () => {} }), 0);
      assert.match(out, /2 file\(s\), 3 row\(s\), the chain is intact/);
    } finally {
      t.cleanup();
    }
  });

  it('a removed month is a gap; retention deletes only archived rows', async () => {
    const s = await freshStore();
    const t = tmpTree({ '.keep': '' });
    try {
      await addRow(s, '2026-01-10T06:00:00Z', 'a');
      await addRow(s, '2026-02-10T06:00:00Z', 'b');
      await addRow(s, '2026-03-10T06:00:00Z', 'c');
      const clock = new FakeClock('2026-03-20T06:00:00Z');
      const dir = t.path('audit');
      const run = await archiveAudit(s, clock, { dir, zone: 'Asia/Almaty', retentionMs: 30 * DAY });
      assert.deepEqual(run.written.map((w) => w.month), ['2026-01', '2026-02']);
      // January and February rows are older than 30 days and archived; March's is neither.
      assert.equal(run.deleted, 2);
      assert.deepEqual((await s.query<{ actor: string }>('SELECT actor FROM audit_log ORDER BY id')).rows.map((r) => r.actor), ['c']);
      writeFileSync(join(dir, 'audit-2026-01.jsonl.bak'), '');
      const { rmSync } = await import('node:fs');
      rmSync(join(dir, 'audit-2026-01.jsonl'));
      const v = verifyAuditArchive(dir, await recordedArchives(s));
      assert.equal(v.ok, false);
      assert.ok(v.problems.some((p) => /audit-2026-02\.jsonl: the chain is broken here/.test(p)), v.problems.join('\n'));
      assert.ok(v.problems.some((p) => /audit-2026-01\.jsonl: recorded as written, missing/.test(p)), v.problems.join('\n'));
    } finally {
      t.cleanup();
      await s.close();
    }
  });

  it('the daemon archives on its schedule, on the injected clock', async () => {
    const s = await freshStore();
    const t = tmpTree({ '.keep': '' });
    const clock = new FakeClock('2026-11-30T12:00:00Z');
    const logged: string[] = [];
    try {
      await addRow(s, '2026-11-10T06:00:00Z', 'a');
      const sched = scheduleAuditArchive({
        store: s, clock, next: nextCronTime, log: { info: (m) => logged.push(m), error: (m) => logged.push(`error: ${m}`) },
        options: () => ({ dir: t.path('audit'), zone: 'Asia/Almaty', schedule: '0 1 1 * *', retentionMs: 0 }),
      });
      // 1 December 01:00 Almaty is 30 November 20:00 UTC.
      await clock.advance(7 * 3_600_000 + 59 * 60_000);
      assert.equal((await recordedArchives(s)).size, 0);
      await clock.advance(60_000);
      for (let i = 0; i < 50 && (await recordedArchives(s)).size === 0; i++) await new Promise((r) => setImmediate(r));
      assert.deepEqual([...(await recordedArchives(s)).keys()], ['2026-11']);
      sched.stop();
      assert.ok(logged.includes('audit month archived'), logged.join('\n'));
    } finally {
      t.cleanup();
      await s.close();
    }
  });
});
