import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, type App } from '../../../src/app.ts';
import { runCli } from '../../../src/cli/index.ts';
import { FakeClock } from '../../../src/clock.ts';
import { maskPersonal, type Logger } from '../../../src/log.ts';
import { createToken } from '../../../src/access/tokens.ts';
import { enqueueNotifications } from '../../../src/escalation/outbox.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { tmpTree } from '../../support/tmp.ts';
import { closedPort, smtpStandIn } from '../notify/stand-ins.ts';

// Issue 19, items 1-3: the start-up summary (and `kuzet status`), log lines that tell the story, and placeholder
// addresses that page nobody. A real SMTP server stands for the relay; another port refuses connections.

interface Line {
  level: string;
  msg: string;
  meta: Record<string, unknown>;
}

function recordingLogger(lines: Line[], base: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (msg: string, meta?: Record<string, unknown>) => void lines.push({ level, msg, meta: { ...base, ...meta } });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (m) => recordingLogger(lines, { ...base, ...m }) };
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe(`the operator's first hour on ${storeKind}`, () => {
  let smtp: Awaited<ReturnType<typeof smtpStandIn>>;
  let refused: number;
  let tree: ReturnType<typeof tmpTree>;
  let store: Store;
  let app: App;
  let clock: FakeClock;
  let url: string;
  let admin: string;
  const lines: Line[] = [];
  const info = (re: RegExp) => lines.filter((l) => l.level === 'info' && re.test(l.msg));

  before(async () => {
    smtp = await smtpStandIn();
    refused = await closedPort();
    tree = tmpTree({ 'probes/.keep': '', 'logs/app.log': 'started\n' });
    mkdirSync(join(tree.dir, 'probes'), { recursive: true });
    writeFileSync(join(tree.dir, 'probes', 'site.yaml'), `probes:
  - { name: enbek-home, kind: tcp, system: enbek, interval: 1h, tcp: { host: 127.0.0.1, port: ${refused} } }
  - { name: bus-internal, kind: tcp, system: integration-bus, enabled: false, interval: 1m, tcp: { host: 10.0.0.1, port: 1 } }
`);
    writeFileSync(join(tree.dir, 'kuzet.yaml'), `server: { listen: 127.0.0.1, port: 0, public_url: "https://kuzet.ops.kz" }
probes_dir: probes
systems:
  - { id: enbek, name: Electronic Labour Exchange, form: enbek }
  - { id: integration-bus, name: Integration bus }
logs:
  files:
    - { name: app, paths: ["${join(tree.dir, 'logs', '*.log')}"], system: enbek }
    - { name: gone, paths: ["${join(tree.dir, 'nowhere', 'error.log')}"], system: enbek }
  syslog: { name: syslog, udp: { host: 127.0.0.1, port: ${refused} }, system: enbek }
intake:
  soc:
    sources: [{ name: siem, secret: "\${SOC_SECRET}", system: enbek }]
escalation:
  default_lang: ru
  public_url: "https://kuzet.ops.kz"
  ack_links: { secret: "\${KUZET_ACK_SECRET:-change-me-ack-link-secret}", ttl: 4h }
  placeholder_domains: [example.kz, example.org]
  people:
    aigerim: { name: "Aigerim", email: aigerim@ops.kz, lang: kk, via: [email] }
    duty-1: { name: "Duty 1", email: duty1@example.kz, lang: ru, via: [email] }
    nobody: { name: "Nobody", email: nobody@ops.kz, via: [broken] }
  channels:
    email: { type: email, host: 127.0.0.1, port: ${smtp.port}, from: kuzet@ops.kz, timeout: 5s, max_attempts: 6 }
    broken: { type: email, host: 127.0.0.1, port: ${refused}, from: kuzet@ops.kz, timeout: 5s }
  policies:
    - name: all
      steps: [{ after: 0m, notify: [{ person: aigerim }, { person: duty-1 }] }]
`);
    store = await freshStore();
    clock = new FakeClock('2026-03-02T04:00:00Z');
    app = await createApp({ configFile: join(tree.dir, 'kuzet.yaml'), store, clock, log: recordingLogger(lines), port: 0, env: { SOC_SECRET: 's'.repeat(32) } });
    url = (await app.start()).url;
    admin = (await createToken(store, clock, 'ops', 'admin', 'test')).token;
  });
  after(async () => {
    await app?.stop();
    await store?.close();
    await smtp.close();
    tree.cleanup();
  });

  it('logs one start-up summary that names what is watched, where the data is, and what is not right yet', () => {
    const blocks = info(/^start-up summary/);
    assert.equal(blocks.length, 1);
    const text = blocks[0]!.msg;
    assert.match(text, new RegExp(`at ${url.replace(/[.]/g, '\\.')} \\(public URL https://kuzet\\.ops\\.kz\\)`));
    assert.match(text, /data: \S+ at \//, 'the data folder is an absolute path');
    assert.match(text, /probes: 1 enabled, 1 disabled placeholder\(s\)/);
    assert.match(text, /^ {2}enbek: 1 enabled$/m);
    assert.match(text, /^ {2}integration-bus: 0 enabled, 1 disabled$/m);
    assert.match(text, /log files: 1 found, 1 missing/);
    assert.match(text, /MISSING gone: .*nowhere\/error\.log/);
    assert.match(text, new RegExp(`syslog: udp 127\\.0\\.0\\.1:${refused}`));
    assert.match(text, /SOC sources: siem \(enbek\)/);
    assert.match(text, new RegExp(`answers +email \\(email\\): SMTP 127\\.0\\.0\\.1:${smtp.port} answers`));
    assert.match(text, new RegExp(`DOWN +broken \\(email\\): SMTP 127\\.0\\.0\\.1:${refused}: .*ECONNREFUSED`));
    assert.match(text, /people no channel can reach:\n {2}duty-1 \(Duty 1\): only placeholder addresses/);
    assert.match(text, /nobody \(Nobody\): its channels do not answer \(broken\)/);
    assert.doesNotMatch(text, /aigerim \(Aigerim\)/);
    assert.match(text, /escalation\.ack_links\.secret is the shipped placeholder/);
    assert.match(text, /person duty-1: …@example\.kz is a placeholder address \(pages to it are held\)/);
    assert.match(text, /duty-1 \(Duty 1\): only placeholder addresses \(…@example\.kz\)/);
    assert.equal(maskPersonal('…@example.kz'), '…@example.kz', 'log masking leaves the placeholder domain readable');
    assert.equal(smtp.mails.length, 0, 'asking the relay sends nothing');
  });

  it('serves the same at GET /api/v1/status and `kuzet status`', async () => {
    const r = await app.http.inject({ url: '/api/v1/status', headers: { authorization: `Bearer ${admin}` } });
    assert.equal(r.statusCode, 200, r.body);
    const s = r.json();
    assert.equal(s.probes.enabled, 1);
    assert.equal(s.probes.disabled_placeholders, 1);
    assert.deepEqual(s.channels.map((c: { name: string; answers: boolean }) => [c.name, c.answers]), [['email', true], ['broken', false]]);
    assert.equal((await app.http.inject({ url: '/api/v1/status' })).statusCode, 401);
    let out = '';
    const code = await runCli(['status', '--url', url, '--token', admin], { out: (x) => (out += x), err: (x) => (out += x) }, { run: async () => {} });
    assert.equal(code, 0, out);
    assert.match(out, /probes: 1 enabled, 1 disabled placeholder\(s\)/);
    assert.match(out, /as of \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+05:00 Asia\/Almaty/);
  });

  it('tells the story in one info line per step, each with the incident and its link; a placeholder is held, never tried', async () => {
    const open = await app.http.inject({ method: 'POST', url: '/api/v1/incidents', headers: { authorization: `Bearer ${admin}` }, payload: { system: 'enbek', title: 'Search is empty', severity: 'critical' } });
    assert.equal(open.statusCode, 201, open.body);
    const id = open.json().id as number;
    const link = `https://kuzet.ops.kz/incidents/${id}`;
    assert.equal(info(new RegExp(`^incident ${id} opened: enbek/specialist-report critical "Search is empty" ${link}$`)).length, 1);

    await app.escalation.worker.runOnce();
    await flush();
    assert.deepEqual(smtp.mails.map((m) => m.to), [['aigerim@ops.kz']], 'only the real address reached the relay');
    assert.equal(info(new RegExp(`^page sent: incident ${id} to aigerim via email ${link}$`)).length, 1);
    const dead = info(new RegExp(`^page dead-lettered: incident ${id} to duty-1 via email ${link} \\(placeholder address: `));
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.meta.attempt, 1);

    const dl = await app.http.inject({ url: '/api/v1/notifications/dead-letters', headers: { authorization: `Bearer ${admin}` } });
    const items = dl.json().items as Array<{ subjectId: number; lastError: string; attempts: number }>;
    const mine = items.filter((x) => x.subjectId === id);
    assert.equal(mine.length, 1);
    assert.match(mine[0]!.lastError, /^placeholder address: duty1@example\.kz/);
    assert.equal(mine[0]!.attempts, 1);

    const ack = await app.http.inject({ method: 'POST', url: `/api/v1/incidents/${id}/ack`, headers: { authorization: `Bearer ${admin}` } });
    assert.equal(ack.statusCode, 200, ack.body);
    assert.equal(info(new RegExp(`^incident ${id} acknowledged: .* ${link}$`)).length, 1);
    await app.http.inject({ method: 'POST', url: `/api/v1/incidents/${id}/resolve`, headers: { authorization: `Bearer ${admin}` } });
    assert.equal(info(new RegExp(`^incident ${id} resolved: .* ${link}$`)).length, 1);
  });

  it('logs a reopened incident and a page retried against a relay that refuses', async () => {
    const sig = (status: 'firing' | 'resolved') => ({
      source: 'probe' as const, system: 'enbek', check: 'enbek-search', fingerprint: 'fp-reopen', severity: 'major' as const, status,
      summary: 'search down', labels: {}, payload: {}, observedAt: clock.now(),
    });
    const [o] = (await app.sink.submit([sig('firing')])) as Array<{ incidentId: number }>;
    const id = o!.incidentId;
    clock.advance(60_000);
    await app.sink.submit([sig('resolved')]);
    clock.advance(60_000);
    await app.sink.submit([sig('firing')]);
    assert.equal(info(new RegExp(`^incident ${id} reopened: .* https://kuzet\\.ops\\.kz/incidents/${id}$`)).length, 1);
    // A page to someone whose only channel refuses: retried, with the link.
    await store.query(`UPDATE outbox SET state = 'cancelled' WHERE state = 'pending'`);
    await enqueueNotifications(store, [{
      key: `retry-${id}`, subjectKind: 'incident', subjectId: id, channel: 'broken', recipient: { person: 'nobody', address: 'nobody@ops.kz' }, lang: 'en',
      message: { kind: 'page', incidentUrl: `https://kuzet.ops.kz/incidents/${id}` },
    }], clock.now());
    await app.escalation.worker.runOnce();
    assert.equal(info(new RegExp(`^page retried: incident ${id} to nobody via broken https://kuzet\\.ops\\.kz/incidents/${id} \\(.*ECONNREFUSED`)).length, 1);
  });

  it('logs a request received and answered with its incident link', async () => {
    const r = await app.http.inject({
      method: 'POST', url: '/report', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ system: 'enbek', contact: 'Askar', email: 'askar@ops.kz', subject: 'Поиск', body: 'Не работает' }).toString(),
    });
    assert.ok(r.statusCode < 400, r.body);
    const got = info(/^request \S+ received \(enbek\)/);
    assert.equal(got.length, 1);
    if (got[0]!.meta.incident !== null) assert.match(got[0]!.msg, /, incident \d+ https:\/\/kuzet\.ops\.kz\/incidents\/\d+$/);
    const auth = { authorization: `Bearer ${admin}` };
    const list = await app.http.inject({ url: '/api/v1/requests', headers: auth });
    const req = (list.json().items as Array<{ id: number; number: string }>)[0]!;
    for (const [action, payload] of [['acknowledge', {}], ['start', {}], ['answer', { answer: 'Поиск восстановлен' }]] as const) {
      const r2 = await app.http.inject({ method: 'POST', url: `/api/v1/requests/${req.id}/${action}`, headers: auth, payload });
      assert.equal(r2.statusCode, 200, `${action}: ${r2.body}`);
    }
    assert.equal(info(new RegExp(`^request ${req.number} answered`)).length, 1);
  });
});
