import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { checkIin } from '../../../src/requests/identity.ts';
import { signKuzet } from '../../../src/sources/webhooks/signature.ts';
import { storeKind } from '../../support/store.ts';
import { pdApp, SOC_SECRET, type PdApp } from './pd-fixture.ts';

// Issue 12, item 3: one masking function at every output boundary. 1,000 synthetic IINs (valid check digits,
// written whole and grouped with spaces or dashes), Kazakhstan phone numbers and e-mail addresses go in through
// every intake: the request API and the public form, the staff incident API, the SOC webhook, the Alertmanager
// API and a log rule. Then every output is read back (the API as a viewer and as soc, /metrics, the log file,
// the mails a real SMTP server received and the webhook calls): none of them may hold one unmasked.

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(12);
const pick = (n: number) => Math.floor(rand() * n);
const pad = (n: number, w: number) => String(n).padStart(w, '0');

const W2 = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
function iinOf(first11: string): string | null {
  const d = [...first11].map(Number);
  let s = d.reduce((a, x, i) => a + x * (i + 1), 0) % 11;
  if (s === 10) s = d.reduce((a, x, i) => a + x * W2[i]!, 0) % 11;
  return s === 10 ? null : first11 + s;
}

/** 1,000 distinct IINs with real dates and valid check digits (checked with kuzet's own validator). */
function syntheticIins(n: number): string[] {
  const out = new Set<string>();
  while (out.size < n) {
    const c = 3 + pick(4); // 1900s or 2000s, either sex
    const first11 = `${pad(pick(100), 2)}${pad(1 + pick(12), 2)}${pad(1 + pick(28), 2)}${c}${pad(pick(10_000), 4)}`;
    const iin = iinOf(first11);
    if (iin && checkIin(iin).ok) out.add(iin);
  }
  return [...out];
}

const FORMATS: Array<(d: string) => string> = [
  (d) => d,
  (d) => `${d.slice(0, 6)} ${d.slice(6)}`,
  (d) => `${d.slice(0, 4)}-${d.slice(4, 8)}-${d.slice(8)}`,
  (d) => `${d.slice(0, 3)} ${d.slice(3, 6)} ${d.slice(6, 9)} ${d.slice(9)}`,
  (d) => `${d.slice(0, 6)}-${d.slice(6)}`,
];
const OPERATORS = ['701', '702', '705', '707', '747', '771', '775', '776', '777', '778'];
const PHONE_FORMATS: Array<(op: string, s: string) => string> = [
  (op, s) => `+7 ${op} ${s.slice(0, 3)} ${s.slice(3, 5)} ${s.slice(5)}`,
  (op, s) => `8 (${op}) ${s.slice(0, 3)}-${s.slice(3, 5)}-${s.slice(5)}`,
  (op, s) => `8${op}${s}`,
  (op, s) => `+7${op}${s}`,
];
/** Spellings people use in free text besides those: a city number, and a mobile without the prefix. */
const FREE_PHONE_FORMATS: Array<(op: string, s: string) => string> = [
  ...PHONE_FORMATS,
  (op, s) => `+7 ${op}${s[0]} ${s.slice(1, 3)} ${s.slice(3, 5)} ${s.slice(5)}`,
  (op, s) => `(${op}) ${s.slice(0, 3)}-${s.slice(3, 5)}-${s.slice(5)}`,
];

describe(`personal data is masked at every output on ${storeKind}`, () => {
  let t: PdApp;
  const iins = syntheticIins(1000);
  let next = 0;
  let intake = '';
  const origin = new Map<string, string>();
  /** What must never come out whole: every spelling that went in, and the bare forms. */
  const secrets = new Set<string>();
  const phones: string[] = [];
  const emails: string[] = [];

  const iin = () => {
    assert.ok(next < iins.length, 'the test spends exactly the generated IINs');
    const d = iins[next]!;
    const text = FORMATS[next % FORMATS.length]!(d);
    next++;
    secrets.add(d).add(text);
    origin.set(d, intake);
    return text;
  };
  /** A phone for the validated `phone` field (with the prefix), or for free text (any spelling). */
  const phone = (formats = PHONE_FORMATS) => {
    const op = OPERATORS[pick(OPERATORS.length)]!;
    const s = pad(pick(10_000_000), 7);
    const text = formats[phones.length % formats.length]!(op, s);
    phones.push(text);
    secrets.add(text).add(`+7${op}${s}`).add(`8${op}${s}`);
    return text;
  };
  const email = () => {
    const e = phones.length % 2 ? `user${emails.length}.n${pick(1000)}@mail.kz` : `aigerim${emails.length}@почта.қаз`;
    emails.push(e);
    secrets.add(e);
    return e;
  };
  /** For fields kuzet keeps in the signal ledger but shows nowhere (a description, details): not an output. */
  const payloadOnly = (f: () => string) => {
    const was = intake;
    intake = 'payload';
    try {
      return f();
    } finally {
      intake = was;
    }
  };
  /** Free text carrying `n` IINs, a phone and an e-mail. */
  const bundle = (n: number) => {
    const parts = [];
    for (let i = 0; i < n && next < iins.length; i++) parts.push(`ИИН ${iin()}`);
    return `${parts.join(', ')}; тел. ${phone(FREE_PHONE_FORMATS)}; ${email()}`;
  };

  before(async () => {
    t = await pdApp();
  });
  after(async () => t?.close());

  it('1,000 IINs, phones and e-mails through every intake; 0 unmasked in every output', { timeout: 300_000 }, async () => {
    const [reporter, viewer, soc, admin] = await Promise.all([t.token('reporter'), t.token('viewer'), t.token('soc'), t.token('admin')]);
    const call = (token: string | null, method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
      t.app.http.inject({ method, url, payload: payload as string, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
    const expect = async (p: ReturnType<typeof call>, status: number, what: string) => {
      const r = await p;
      assert.equal(r.statusCode, status, `${what}: ${r.body.slice(0, 500)}`);
      return r;
    };

    // 1. Requests through the API: access requests (every personal field) and trouble reports.
    intake = 'api';
    const accessIins: string[] = [];
    for (let i = 0; i < 20; i++) {
      const whole = iins[next]!;
      next++;
      secrets.add(whole);
      accessIins.push(whole);
      await expect(call(reporter, 'POST', '/api/v1/requests', {
        kind: 'access', system: 'labour-market', full_name: 'Иванов Иван', iin: whole, login: 'ivanov', position: `специалист ${bundle(1)}`,
        phone: phone(), email: email(), contact: bundle(1), subject: `доступ ${iin()}`, body: bundle(4),
        access: { action: 'grant', systems: ['labour-market'], functions: bundle(4), basis: bundle(2) },
      }), 201, 'access request');
      await expect(call(reporter, 'POST', '/api/v1/requests', {
        system: 'enbek', contact: bundle(1), email: email(), phone: phone(), subject: `не работает ${iin()}`, body: bundle(4),
      }), 201, 'trouble report');
    }
    // 2. The public form (urlencoded, as a browser without script sends it), from several addresses.
    intake = 'form';
    for (let i = 0; i < 5; i++) {
      const form = new URLSearchParams({ lang: 'ru', system: 'enbek', contact: bundle(1), email: email(), subject: `ошибка ${iin()}`, body: bundle(5) });
      await expect(t.app.http.inject({
        method: 'POST', url: '/report?lang=ru&system=enbek', payload: form.toString(), remoteAddress: `127.0.0.${10 + i}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }), 201, 'public form');
    }
    // 3. Staff incidents: title, description, labels.
    intake = 'staff';
    for (let i = 0; i < 20; i++) {
      await expect(call(reporter, 'POST', '/api/v1/incidents', {
        system: i % 2 ? 'enbek' : 'nqs', severity: 'critical', title: `жалоба ${bundle(3)}`, description: payloadOnly(() => bundle(3)), labels: { user: bundle(1) },
      }), 201, 'staff incident');
    }
    // 4. The SOC webhook: one signed batch.
    intake = 'soc';
    const alerts = Array.from({ length: 20 }, (_, i) => ({
      id: `evt-${i}`, rule: `brute-force-${i}`, severity: 'high', status: 'firing', asset: `enbek-web-${i}`, system: 'enbek',
      summary: `failed logins for ${bundle(3)}`, details: { user: payloadOnly(() => bundle(2)) }, observed_at: new Date(t.clock.now()).toISOString(),
    }));
    const body = JSON.stringify(alerts);
    await expect(t.app.http.inject({
      method: 'POST', url: '/webhooks/soc/soc-main', payload: body,
      headers: { 'content-type': 'application/json', ...signKuzet(SOC_SECRET, body, Math.floor(t.clock.now() / 1000)) },
    }), 202, 'SOC webhook');
    // 5. The Alertmanager API: labels (the system label too, which becomes a /metrics label) and annotations.
    intake = 'am';
    const am = Array.from({ length: 20 }, (_, i) => ({
      labels: { alertname: `LoginFailures${i}`, system: i < 3 ? iin() : 'enbek', severity: 'critical', user: bundle(1) },
      annotations: { summary: `too many failures: ${bundle(3)}`, description: payloadOnly(() => bundle(3)) },
      startsAt: new Date(t.clock.now()).toISOString(),
    }));
    await expect(call(soc, 'POST', '/api/v2/alerts', am), 200, 'Alertmanager API');
    // 6. A log rule: lines in a tailed file.
    intake = 'log';
    for (let i = 0; i < 20; i++) appendFileSync(t.appLog, `LOGIN FAILED user=${email()} iin=${iin()} phone=${phone(FREE_PHONE_FORMATS)} attempt=${i}\n`);
    // Whatever is left goes into staff descriptions, so all 1,000 went in.
    intake = 'rest';
    while (next < iins.length) {
      await expect(call(reporter, 'POST', '/api/v1/incidents', { system: 'enbek', severity: 'critical', title: 'more complaints', description: payloadOnly(() => bundle(100)) }), 201, 'staff incident');
    }
    assert.equal(next, 1000, 'every synthetic IIN went in');

    await t.app.start();
    for (let i = 0; i < 300; i++) {
      t.clock.advance(150);
      await new Promise((r) => setTimeout(r, 10));
      const n = await t.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM incidents WHERE source = 'log'`);
      if (Number(n.rows[0]!.n) >= 1 && i > 20) break;
    }
    await t.deliver();

    // ---- read every output back ----
    const outputs: Array<{ where: string; text: string }> = [];
    for (const [who, token] of [['viewer', viewer], ['soc', soc]] as const) {
      const ids: number[] = [];
      for (let before: number | null = null, i = 0; i < 20; i++) {
        const r = await expect(call(token, 'GET', `/api/v1/incidents?limit=500${before ? `&before=${before}` : ''}`), 200, 'incident list');
        outputs.push({ where: `${who} GET /api/v1/incidents`, text: r.body });
        ids.push(...(r.json().items as Array<{ id: number }>).map((x) => x.id));
        before = r.json().next;
        if (!before) break;
      }
      for (const id of ids) {
        outputs.push({ where: `${who} GET /api/v1/incidents/${id}`, text: (await expect(call(token, 'GET', `/api/v1/incidents/${id}`), 200, 'incident')).body });
        outputs.push({ where: `${who} escalation ${id}`, text: (await expect(call(token, 'GET', `/api/v1/incidents/${id}/escalation`), 200, 'escalation')).body });
      }
      outputs.push({ where: `${who} dead letters`, text: (await expect(call(token, 'GET', '/api/v1/notifications/dead-letters?limit=1000'), 200, 'dead letters')).body });
      const list = await expect(call(token, 'GET', '/api/v1/requests?limit=500'), 200, 'request list');
      outputs.push({ where: `${who} GET /api/v1/requests`, text: list.body });
      for (const r of list.json().items as Array<{ id: number }>) {
        outputs.push({ where: `${who} GET /api/v1/requests/${r.id}`, text: (await expect(call(token, 'GET', `/api/v1/requests/${r.id}`), 200, 'request')).body });
      }
    }
    const metrics = (await expect(call(null, 'GET', '/metrics'), 200, 'metrics')).body;
    outputs.push({ where: '/metrics', text: metrics });
    const sent = t.sent();
    assert.ok(sent.length >= 100, `pages were sent (${sent.length})`);
    for (const m of sent) outputs.push({ where: `notification to ${m.to}`, text: m.text });
    const whole = await expect(call(admin, 'GET', '/api/v1/requests/1'), 200, 'request as admin');
    assert.equal(whole.json().request.iin, accessIins[0], 'a personal-data role reads the IIN whole');
    await t.app.stop();
    outputs.push({ where: 'the log file', text: await t.logText() });

    const leaks: string[] = [];
    for (const o of outputs) {
      for (const s of secrets) if (o.text.includes(s)) leaks.push(`${o.where}: ${JSON.stringify(s)}`);
    }
    assert.equal(leaks.length, 0, `${leaks.length} unmasked values:\n${leaks.slice(0, 30).join('\n')}`);

    // Not vacuous: every IIN sent in a field kuzet shows reaches the viewer, masked (descriptions and SOC details are
    // kept in the ledger and shown by no answer); the system label in /metrics is masked; a role in
    // requests.personal_data_roles still reads a request whole (checked above).
    const viewerText = outputs.filter((o) => o.where.startsWith('viewer')).map((o) => o.text).join('\n');
    const missing = iins.filter((d) => !viewerText.includes(`${d.slice(0, 6)}*****${d.slice(11)}`));
    const unseen = missing.filter((d) => origin.get(d) !== 'payload').map((d) => `${d} (${origin.get(d)})`);
    assert.deepEqual(unseen, [], 'every IIN sent in a field kuzet shows is in the viewer\'s answers, masked');
    assert.ok(iins.length - missing.length >= 600, `${iins.length - missing.length} IINs shown masked`);
    assert.match(metrics, /kuzet_incidents_open\{system="\d{6}\*{5}\d"/);
  });
});
