import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../../src/cli/index.ts';
import { TEST_CONFIG, testApp, type TestApp } from '../../support/app.ts';
import { storeKind } from '../../support/store.ts';
import { smtpStandIn } from '../notify/stand-ins.ts';

// The interface as an administrator meets it: GET /api/v1/reports/<kind>, the archive, the monthly delivery by
// e-mail through the outbox (to a real SMTP server), the NQS yearly deadline paging through the timers, and
// `kuzet report` with its precise refusals.

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s) }, { run: async () => {} });
  return { code, out, err };
}

describe(`reports over HTTP, e-mail and the CLI (${storeKind})`, () => {
  let t: TestApp;
  let url: string;
  let viewer: string;
  let smtp: Awaited<ReturnType<typeof smtpStandIn>>;
  const get = (path: string, token: string | null = viewer) => fetch(url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  before(async () => {
    smtp = await smtpStandIn();
    const config = `${TEST_CONFIG}
escalation:
  people:
    head-ops: { name: Head of operations, email: head.ops@example.kz, lang: en, via: [email] }
  channels:
    email: { type: email, host: 127.0.0.1, port: ${smtp.port}, from: kuzet@example.kz, timeout: 5s }
  policies:
    - name: report-deadlines
      match: { labels: { report: nqs-yearly } }
      ack_deadline: 1d
      steps:
        - { after: 0m, notify: [{ person: head-ops }] }
reports:
  recipients: [director@example.kz, analyst@example.kz]
  lang: en
  format: csv
  monthly: [availability, backups]
`;
    t = await testApp(config);
    url = (await t.app.start()).url;
    viewer = await t.token('viewer');
  });
  after(async () => {
    await t.close();
    await smtp.close();
  });

  it('GET /api/v1/reports/<kind> answers every format; bad input is a 400 naming the field', async () => {
    const csv = await get('/api/v1/reports/availability?period=2026-02&format=csv&bom=true');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type')!, /^text\/csv; charset=utf-8/);
    const bytes = Buffer.from(await csv.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'BOM');
    const text = bytes.toString('utf8').slice(1);
    assert.match(text, /^system,name,availability_pct,/);
    assert.equal(text.trimEnd().split('\r\n').length, 4, 'header and one row per system');
    assert.match(text, new RegExp(csv.headers.get('x-kuzet-data-sha256')!));

    const json = (await (await get('/api/v1/reports/incidents?period=2026-Q1&system=enbek&format=json')).json()) as { kind: string; scope: { system: string }; period: { days: number } };
    assert.deepEqual([json.kind, json.scope.system, json.period.days], ['incidents', 'enbek', 90]);
    const html = await get('/api/v1/reports/requests?period=2026-03-01..2026-03-31&format=html&lang=kk');
    assert.match(await html.text(), /<html lang="kk">[\s\S]*Пайдаланушылардың өтініштері/);

    const cases: [string, number, RegExp][] = [
      ['/api/v1/reports/availability?period=2026-13', 400, /period: expected a month 01 to 12, got "2026-13"/],
      ['/api/v1/reports/availability?period=2026-02-30..2026-03-01', 400, /period: 2026-02-30 is not a date/],
      ['/api/v1/reports/availability', 400, /period: .*it is missing/],
      ['/api/v1/reports/uptime?period=2026-03', 400, /kind: expected one of availability, incidents, requests, backups, feeds, nqs-yearly, got "uptime"/],
      ['/api/v1/reports/availability?period=2026-03&system=nope', 400, /system: unknown system "nope"; known: enbek, nqs, integration-bus/],
      ['/api/v1/reports/availability?period=2026-03&format=xlsx', 400, /format: expected one of csv, json, html, pdf, got "xlsx"/],
      ['/api/v1/reports/availability?period=2026-03&lang=de', 400, /lang: expected one of ru, kk, en, got "de"/],
      ['/api/v1/reports/availability?period=2026-03&colour=red', 400, /unknown query parameter "colour"/],
      ['/api/v1/reports/availability?period=2026-03&exclude_maintenance=maybe', 400, /exclude_maintenance: expected true or false/],
      ['/api/v1/reports/nqs-yearly?period=2026-03', 400, /period: the nqs-yearly report covers a year/],
      ['/api/v1/reports/archive/abc', 400, /id: expected a positive whole number/],
      ['/api/v1/reports/archive/999999', 404, /report 999999 is not in the archive/],
    ];
    for (const [path, status, message] of cases) {
      const r = await get(path);
      const body = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(r.status, status, path);
      assert.match(body.error.message, message, path);
    }
    assert.equal((await get('/api/v1/reports/availability?period=2026-03', null)).status, 401);
  });

  it('monthly delivery: node-cron at 09:00 Asia/Almaty on the 1st; kept once, mailed through the outbox, downloadable', async () => {
    const next = t.app.reports.nextDelivery();
    assert.ok(next, 'the monthly task is scheduled');
    const local = new Date(next.getTime() + 5 * 3_600_000);
    assert.deepEqual([local.getUTCDate(), local.getUTCHours(), local.getUTCMinutes()], [1, 9, 0]);

    t.clock.set('2026-04-01T04:00:00Z'); // 09:00 in Almaty
    const first = await t.app.reports.deliverMonthly();
    assert.equal(first.kept.length, 2);
    assert.equal(first.mailed, 4);
    const again = await t.app.reports.deliverMonthly();
    assert.deepEqual([again.kept, again.mailed, again.skipped], [[], 0, ['availability', 'backups']], 'a second run (or instance) sends nothing twice');

    await t.app.escalation.worker.runOnce();
    assert.equal(smtp.mails.length, 4);
    const toDirector = smtp.mails.filter((m) => m.to[0] === 'director@example.kz');
    assert.equal(toDirector.length, 2);
    const link = /\/api\/v1\/reports\/archive\/(\d+)/.exec(toDirector.map((m) => m.data).join('\n'));
    assert.ok(link, 'the mail carries the download link');

    const list = (await (await get('/api/v1/reports/archive?kind=availability')).json()) as { items: { id: number; period: string; trigger: string; format: string; sha256: string }[] };
    assert.equal(list.items.length, 1);
    assert.deepEqual([list.items[0]!.period, list.items[0]!.trigger, list.items[0]!.format], ['2026-03', 'scheduled', 'csv']);
    const dl = await get(`/api/v1/reports/archive/${list.items[0]!.id}`);
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get('content-disposition')!, /kuzet-availability-2026-03\.csv/);
    assert.match(await dl.text(), new RegExp(`2026-03,.*,${list.items[0]!.sha256},`));
  });

  it('the NQS yearly analysis: its deadline pages the owner through the timers until it is submitted', async () => {
    t.clock.set('2026-11-20T00:00:00Z');
    const times = await t.app.reports.scheduleNqsDeadline();
    // 14, 7 and 1 days before 15 December 18:00 Almaty, and the due time itself.
    assert.deepEqual(times.map((x) => new Date(x).toISOString()), ['2026-12-01T13:00:00.000Z', '2026-12-08T13:00:00.000Z', '2026-12-14T13:00:00.000Z', '2026-12-15T13:00:00.000Z']);
    t.clock.set('2026-12-01T13:00:01Z');
    await t.app.escalation.escalator.sweep();
    const inc = await t.store.query<{ id: string; status: string; severity: string; labels: Record<string, string> }>(
      `SELECT id, status, severity, labels FROM incidents WHERE fingerprint = 'report:nqs-yearly:2026'`,
    );
    assert.equal(inc.rows.length, 1);
    assert.equal(inc.rows[0]!.labels.owner, 'head-ops');
    const pages = await t.store.query<{ recipient: { person?: string } }>(`SELECT recipient FROM outbox WHERE subject_kind = 'incident' AND subject_id = $1`, [inc.rows[0]!.id]);
    assert.ok(pages.rows.some((p) => p.recipient.person === 'head-ops'), JSON.stringify(pages.rows));

    // The page leaves through the outbox; the incidents report counts it, and the deadline to acknowledge (1 d) as kept or not.
    await t.app.escalation.worker.runOnce();
    assert.ok(smtp.mails.some((m) => m.to[0] === 'head.ops@example.kz'), 'the owner got the page by e-mail');

    // The owner submits the year's analysis (what `kuzet report nqs-yearly --period 2026 --notes … --submit` does).
    const { id } = await t.app.reports.submitNqs({ kind: 'nqs-yearly', period: '2026', format: 'html', lang: 'ru', notes: { situation: 'Работает.' } }, 'test', (q, s) => t.app.engine.applyInTx(q, s));
    assert.ok(id > 0);
    const after = await t.store.query<{ status: string }>(`SELECT status FROM incidents WHERE fingerprint = 'report:nqs-yearly:2026'`);
    assert.equal(after.rows[0]!.status, 'resolved');
    // A reminder after the submission raises nothing.
    t.clock.set('2026-12-08T13:00:01Z');
    await t.app.escalation.escalator.sweep();
    const still = await t.store.query<{ status: string }>(`SELECT status FROM incidents WHERE fingerprint = 'report:nqs-yearly:2026'`);
    assert.equal(still.rows[0]!.status, 'resolved');
    const r = (await (await get('/api/v1/reports/incidents?period=2026-12&system=nqs&format=json')).json()) as { tables: { id: string; rows: Record<string, unknown>[] }[] };
    const item = r.tables[0]!.rows.find((x) => x.id === Number(inc.rows[0]!.id))!;
    assert.equal(item.source_group, 'staff');
    assert.ok((item.pages_sent as number) >= 1, JSON.stringify(item));
    assert.equal(item.ack_deadline, '2026-12-02T18:00:01+05:00'); // the escalation started when the timer fired
    assert.equal(item.ack_within_deadline, false, 'resolved by the submission, never acknowledged, and the deadline has passed');
  });

  it('kuzet report: refuses bad input with exit 2 and a precise message; writes a report with -o', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kuzet-report-cli-'));
    chmodSync(dir, 0o755); // as root the embedded server runs as postgres, which must enter the folder
    try {
      mkdirSync(join(dir, 'probes'));
      writeFileSync(join(dir, 'kuzet.yaml'), `${TEST_CONFIG}store: { data_dir: ${JSON.stringify(join(dir, 'data'))} }\nrequests: { calendar_file: config/calendars/kz.yaml }\n`);
      const c = ['-c', join(dir, 'kuzet.yaml')];
      const bad = await cli(['report', 'availability', ...c, '--period', '2026-Q5']);
      assert.equal(bad.code, 2, bad.err);
      assert.match(bad.err, /kuzet report: period: expected a month "2026-11", a quarter "2026-Q4", a year "2026" or days "2026-11-01\.\.2026-11-15", got "2026-Q5"/);
      assert.equal((await cli(['report', 'uptime', ...c, '--period', '2026-03'])).code, 2);
      const sys = await cli(['report', 'availability', ...c, '--period', '2026-03', '--system', 'mars']);
      assert.equal(sys.code, 2);
      assert.match(sys.err, /system: unknown system "mars"/);
      assert.match((await cli(['report', 'availability', ...c, '--period', '2026-03', '--format', 'docx'])).err, /format: expected one of csv, json, html, pdf, got "docx"/);

      const out = join(dir, 'march.csv');
      const ok = await cli(['report', 'availability', ...c, '--period', '2026-03', '--format', 'csv', '-o', out]);
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.err, /availability 2026-03: csv, \d+ bytes, data SHA-256 [0-9a-f]{64}; written to /);
      assert.match(readFileSync(out, 'utf8'), /^system,name,availability_pct/);
      const stdout = await cli(['report', 'backups', ...c, '--period', '2026', '--format', 'json']);
      assert.equal(stdout.code, 0, stdout.err);
      assert.equal((JSON.parse(stdout.out) as { kind: string }).kind, 'backups');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
