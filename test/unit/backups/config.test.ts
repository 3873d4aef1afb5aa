import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parseDuration } from '../../../src/clock.ts';
import { backupsConfigProblems, backupsConfigSchema, nextCronTime, resolveBackupsConfig, type BackupsConfig } from '../../../src/backups/config.ts';

function validator() {
  // The same options the config loader uses.
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
  ajv.addFormat('duration', { type: 'string', validate: (s: string) => parseDuration(s) !== undefined });
  return ajv.compile(backupsConfigSchema);
}

const good = (): BackupsConfig => ({
  timezone: 'Asia/Almaty',
  jobs: [
    {
      name: 'enbek-db',
      kind: 'postgres',
      schedule: '0 2 * * *',
      dir: '/var/backups/kuzet',
      postgres: { host: 'db', database: 'enbek', user: 'backup', password: 's3cret' },
      verify: { schedule: '0 * * * *', rpo: '26h', max_shrink_percent: 20 },
      drill: {
        schedule: '0 4 * * 0',
        validations: [
          { name: 'users', kind: 'row_count', table: 'public.users', tolerance_percent: 1 },
          { name: 'regions', kind: 'checksum', query: 'SELECT md5(string_agg(id::text, \',\' ORDER BY id)) FROM regions' },
          { name: 'fresh', kind: 'freshness', table: 'applications', column: 'updated_at', max_lag: '26h' },
        ],
      },
      retention: { keep_last: 7, max_age: '30d' },
    },
    { name: 'uploads', kind: 'folder', dir: '/var/backups/kuzet', folder: { path: '/srv/uploads' } },
    { name: 'vendor', kind: 'external', external: { dir: '/mnt/vendor', pattern: '*.dump', format: 'pg_custom' } },
  ],
});

test('a good backups section passes the schema and the cross-field checks, and defaults fill in', () => {
  const validate = validator();
  const cfg = good();
  assert.equal(validate(cfg), true, JSON.stringify(validate.errors));
  assert.deepEqual(backupsConfigProblems(cfg), []);
  const r = resolveBackupsConfig(cfg);
  const [db, uploads, vendor] = r.jobs;
  assert.equal(db!.format, 'pg_custom');
  assert.equal(db!.verify.rpoMs, 26 * 3_600_000);
  assert.equal(db!.verify.maxShrinkPercent, 20);
  assert.equal(db!.drill!.scratchDatabase, 'kuzet_drill_enbek_db');
  assert.equal(db!.drill!.target.host, 'db', 'the drill borrows the source connection');
  assert.equal(db!.drill!.target.password, 's3cret');
  assert.equal(db!.drill!.target.maintenance_database, 'postgres');
  assert.equal(db!.drill!.validations[2]!.maxLagMs, 26 * 3_600_000);
  assert.equal(db!.retention.maxAgeMs, 30 * 86_400_000);
  assert.equal(uploads!.format, 'tar');
  assert.equal(uploads!.folder!.compress, true);
  assert.equal(uploads!.retention.keepLast, 7);
  assert.equal(vendor!.format, 'pg_custom');
  assert.equal(r.missedAfterMs, 15 * 60_000);
  assert.ok(Object.isFrozen(db!.drill!.validations[0]));
});

test('an absent section validates to no jobs (the loader defaults it to {})', () => {
  const validate = validator();
  const cfg = {} as BackupsConfig;
  assert.equal(validate(cfg), true);
  assert.deepEqual(cfg.jobs, []);
  assert.deepEqual(resolveBackupsConfig(cfg).jobs, []);
});

test('the schema rejects unknown fields, bad names, bad durations and unknown kinds', () => {
  const validate = validator();
  const cases: [unknown, string][] = [
    [{ jobs: [{ name: 'a', kind: 'postgres', colour: 'red' }] }, 'additionalProperties'],
    [{ jobs: [{ name: 'Bad Name', kind: 'folder' }] }, 'pattern'],
    [{ jobs: [{ name: 'a', kind: 'tape' }] }, 'enum'],
    [{ jobs: [{ name: 'a', kind: 'folder', verify: { rpo: 'soon' } }] }, 'format'],
    [{ jobs: [{ name: 'a', kind: 'postgres', drill: { scratch_database: 'Robert"); DROP' } }] }, 'pattern'],
    [{ jobs: [{ name: 'a', kind: 'postgres', drill: { validations: [{ name: 'x', kind: 'row_count', table: 'users; drop' }] } }] }, 'pattern'],
  ];
  for (const [cfg, keyword] of cases) {
    assert.equal(validate(cfg), false, JSON.stringify(cfg));
    assert.ok(validate.errors!.some((e) => e.keyword === keyword), `${JSON.stringify(cfg)} -> ${JSON.stringify(validate.errors)}`);
  }
});

test('cross-field problems name the field and say what is wrong', () => {
  const cfg: BackupsConfig = {
    timezone: 'Mars/Olympus',
    jobs: [
      { name: 'a', kind: 'postgres', schedule: '61 * * * *' },
      { name: 'a', kind: 'folder', dir: '/b', folder: { path: '/x' }, drill: {} },
      {
        name: 'c',
        kind: 'external',
        external: { dir: '/e', format: 'pg_custom' },
        drill: { validations: [{ name: 'n', kind: 'row_count', table: 't' }, { name: 'f', kind: 'freshness', table: 't' }] },
      },
    ],
  };
  const p = backupsConfigProblems(cfg);
  const expect = [
    'backups.timezone: unknown time zone "Mars/Olympus"',
    'backups.jobs[0].schedule: invalid cron expression "61 * * * *"',
    'backups.jobs[0].postgres: required for kind "postgres"',
    'backups.jobs[0].dir: required for kind "postgres"',
    'backups.jobs[1].name: duplicate job name "a"',
    'backups.jobs[1].drill: restore drills need a PostgreSQL custom-format backup',
    'backups.jobs[2].drill.target: required for an external backup',
    'backups.jobs[2].drill.validations[0]: kind "row_count" compares with the source',
    'backups.jobs[2].drill.validations[1]: kind "freshness" needs table, column and max_lag',
  ];
  for (const e of expect) assert.ok(p.some((x) => x.startsWith(e)), `missing problem ${e}\n${p.join('\n')}`);
  assert.equal(p.length, expect.length, p.join('\n'));
});

test('schedules are read in the configured time zone', () => {
  const at = Date.parse('2026-01-05T04:00:00Z'); // 09:00 in Almaty (UTC+5)
  assert.equal(new Date(nextCronTime('0 2 * * *', at, 'Asia/Almaty')).toISOString(), '2026-01-05T21:00:00.000Z');
  assert.equal(new Date(nextCronTime('0 2 * * *', at, 'UTC')).toISOString(), '2026-01-06T02:00:00.000Z');
  // strictly after: a time exactly on an occurrence moves to the next one
  const onTheDot = Date.parse('2026-01-05T21:00:00Z');
  assert.equal(new Date(nextCronTime('0 2 * * *', onTheDot, 'Asia/Almaty')).toISOString(), '2026-01-06T21:00:00.000Z');
});
