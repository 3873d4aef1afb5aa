import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { alert, consoleApp, decodeMail, postAlert } from '../../support/console.ts';
import type { TestApp } from '../../support/app.ts';
import { smtpStandIn } from '../../integration/notify/stand-ins.ts';

// The console end to end in real headless Chromium (Debian package `chromium`), without JavaScript: sign in, see an
// incident opened by an alert, follow the link from the page that was mailed, acknowledge with the keyboard, see the
// notification rows. Screenshots in Russian and Kazakh at 1280 px and 390 px go to test-output/console/.

const CHROMIUM = process.env.KUZET_CHROMIUM ?? '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../../test-output/console/', import.meta.url));
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

// The page's globals, for the functions Chromium runs (the project compiles without the DOM library).
declare const document: {
  querySelector(selector: string): unknown;
  activeElement: { id: string } | null;
  documentElement: { scrollWidth: number; clientWidth: number };
};

/** Every visible form control has a <label for> (or an aria-label). */
async function unlabelled(page: Page): Promise<string[]> {
  return page.$$eval('input:not([type=hidden]), select, textarea', (els) =>
    els.filter((e) => !(e.id && document.querySelector(`label[for="${e.id}"]`)) && !e.getAttribute('aria-label')).map((e) => e.outerHTML));
}

describe('console in headless Chromium', { skip, timeout: 180_000 }, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof smtpStandIn>>;
  let browser: BrowserContext;
  let base: string;
  let profile: string;
  let oncall: string;
  let soc: string;

  before(async () => {
    smtp = await smtpStandIn();
    t = await consoleApp(smtp.port);
    ({ url: base } = await t.app.start());
    oncall = await t.token('oncall', 'aigerim');
    soc = await t.token('soc', 'prometheus');
    profile = await mkdtemp(join(tmpdir(), 'kuzet-chromium-'));
    await mkdir(OUT, { recursive: true });
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      javaScriptEnabled: false,
      viewport: { width: 1280, height: 900 },
      timeout: 60_000,
    });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await smtp?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('signs in, opens the incident an alert opened from the mailed link, acknowledges it with the keyboard, and shows its notifications', async () => {
    await postAlert(t, soc, [alert()]);
    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM incidents WHERE check_name = 'EnbekDown'`)).rows[0]!.id);
    await t.app.escalation.escalator.sweep();
    for (let i = 0; i < 50 && !smtp.mails.length; i++) await t.app.escalation.worker.runOnce();
    assert.equal(smtp.mails.length, 1, 'alice was paged by e-mail');
    const mail = decodeMail(smtp.mails[0]!.data);
    const link = new URL(/http:\/\/kuzet\.test\/incidents\/\d+/.exec(mail)![0]);
    assert.equal(link.pathname, `/incidents/${id}`, 'the mail links to the incident page');

    const page = await browser.newPage();
    try {
      // The mailed link, opened without a session, goes through the sign-in and lands on the incident.
      await page.goto(`${base}${link.pathname}`);
      assert.match(page.url(), /\/login\?next=%2Fincidents%2F\d+/);
      assert.equal(await page.getAttribute('html', 'lang'), 'ru');
      assert.deepEqual(await unlabelled(page), []);
      await page.focus('#token');
      await page.keyboard.type(oncall);
      await Promise.all([page.waitForURL(new RegExp(`/incidents/${id}$`)), page.keyboard.press('Enter')]);
      assert.match(await page.textContent('h1') ?? '', new RegExp(`Инцидент #${id}`));
      assert.equal(await page.getAttribute('#incident-status', 'data-status'), 'open');
      assert.deepEqual(await unlabelled(page), []);
      const sent = await page.$$eval('tr.tl-notification', (rows) => rows.map((r) => r.textContent ?? ''));
      assert.equal(sent.length, 1);
      assert.match(sent[0]!, /mail.*отправлено.*alice/s);
      assert.equal(await page.$$eval('a[href*="/ack/"]', (a) => a.length), 0, 'no acknowledge link on the page');

      // The list shows it, open, with its next escalation step.
      await page.goto(`${base}/incidents`);
      const row = await page.textContent(`tr.incident-row[data-id="${id}"]`);
      assert.match(row ?? '', /enbek\.kz does not answer.*критическая.*открыт.*шаг 2/s);

      // Acknowledge from its page with the keyboard: from the note field, Tab reaches the button, Enter presses it.
      await page.goto(`${base}/incidents/${id}`);
      await page.focus('#ack-note');
      await page.keyboard.type('смотрю');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'ack-button');
      await Promise.all([page.waitForURL(/done=ack/), page.keyboard.press('Enter')]);
      assert.equal(await page.getAttribute('#incident-status', 'data-status'), 'acknowledged');
      assert.equal(await page.textContent('#acked-by').then((s) => s?.split(' · ')[0]), 'token:aigerim');
      const tl = await page.$$eval('#timeline tbody tr', (rows) => rows.map((r) => `${r.className}|${r.textContent}`));
      assert.ok(tl.some((r) => r.startsWith('tl-signal|') && /enbek\.kz does not answer/.test(r)));
      assert.ok(tl.some((r) => r.startsWith('tl-notification|') && /alice/.test(r)));
      assert.ok(tl.some((r) => r.startsWith('tl-event|') && /подтверждён.*смотрю.*token:aigerim/s.test(r)), 'the event in Russian');
      assert.ok(tl.some((r) => r.startsWith('tl-signal|') && /Сигнал: сбой/.test(r)), 'the signal status in Russian');

      // Screenshots, Russian and Kazakh, desktop and phone; the phone page never scrolls sideways.
      for (const lang of ['ru', 'kk'] as const) {
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
          for (const [name, path] of [['incident', `/incidents/${id}`], ['incidents', '/incidents'], ['status', '/status']] as const) {
            await page.goto(`${base}${path}?lang=${lang}`);
            assert.equal(await page.getAttribute('html', 'lang'), lang);
            assert.deepEqual(await unlabelled(page), [], `${name} ${lang}`);
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
            assert.ok(overflow <= 0, `${name} ${lang} at ${width}px scrolls sideways by ${overflow}px`);
            await page.screenshot({ path: join(OUT, `${name}-${lang}-${width}.png`), fullPage: true });
          }
        }
      }
      assert.match(await page.textContent('h1') ?? '', /Ақпараттық жүйелердің күйі/);
      assert.equal(await page.$$eval('script', (x) => x.length), 0, 'the public page carries no script');
      const files = await readdir(OUT);
      for (const f of ['incident-ru-1280.png', 'incident-kk-390.png', 'status-kk-390.png']) assert.ok(files.includes(f), f);
    } finally {
      await page.close();
    }
  });

  it('with script on, an open incident page reloads itself when someone else acknowledges it', async () => {
    await postAlert(t, soc, [alert({ labels: { alertname: 'LiveProbe', system: 'nqs', severity: 'major' } })]);
    const id = Number((await t.store.query<{ id: number }>(`SELECT id FROM incidents WHERE check_name = 'LiveProbe'`)).rows[0]!.id);
    const jsProfile = await mkdtemp(join(tmpdir(), 'kuzet-chromium-js-'));
    const js = await chromium.launchPersistentContext(jsProfile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      javaScriptEnabled: true,
      viewport: { width: 390, height: 844 },
      timeout: 60_000,
    });
    try {
      const page = await js.newPage();
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(`${base}/incidents/${id}?lang=kk`);
      await page.fill('#token', oncall);
      await Promise.all([page.waitForURL(new RegExp(`/incidents/${id}`)), page.press('#token', 'Enter')]);
      assert.equal(await page.getAttribute('#incident-status', 'data-status'), 'open');
      // Someone else acknowledges through the API; the stream notices on its next look (the injected clock moves).
      const other = await t.token('oncall', 'dana');
      const r = await t.app.http.inject({ method: 'POST', url: `/api/v1/incidents/${id}/ack`, headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(r.statusCode, 200);
      const reloaded = page.waitForEvent('load', { timeout: 20_000 });
      for (let i = 0; i < 40; i++) {
        t.clock.advance(2_000);
        const done = await Promise.race([reloaded.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 250))]);
        if (done) break;
      }
      await reloaded;
      assert.equal(await page.getAttribute('#incident-status', 'data-status'), 'acknowledged');
      assert.match(await page.textContent('#acked-by') ?? '', /token:dana/);
      assert.deepEqual(errors, [], 'no CSP or script errors');
      await page.close();
    } finally {
      await js.close();
      await rm(jsProfile, { recursive: true, force: true });
    }
  });
});
