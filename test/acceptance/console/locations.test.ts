import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { twoLocations, type TwoLocations } from '../../support/locations.ts';

// The incident page of a probe confirmed from two locations, in real headless Chromium without JavaScript: each
// location's view (status, since when in Almaty time, instance, reason, live or not) and "2 of 2 needed", in
// Russian, Kazakh and English, at 1280 px and on a 390 px phone. Screenshots go to test-output/console/.

const CHROMIUM = process.env.KUZET_CHROMIUM ?? '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../../test-output/console/', import.meta.url));
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

declare const document: { documentElement: { scrollWidth: number; clientWidth: number } };

const items = (page: Page) =>
  page.$$eval('#locations li', (lis) => lis.map((li) => ({
    location: li.getAttribute('data-location'),
    status: li.getAttribute('data-status'),
    live: li.getAttribute('data-live'),
    text: ((li as unknown as { innerText: string }).innerText ?? '').replace(/\s+/g, ' ').trim(),
  })));

describe('incident page: the locations of a probe confirmed from several places, in headless Chromium', { skip, timeout: 180_000 }, () => {
  let c: TwoLocations;
  let browser: BrowserContext;
  let base: string;
  let profile: string;

  before(async () => {
    c = await twoLocations();
    base = c.urls.almaty;
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
    await c?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows each location, its status since when, the instance, the reason, live or not, and k of n needed', async () => {
    // Almaty sees it down at 09:00 Almaty time; Astana confirms 30 s later: 2 of 2, the incident opens.
    assert.equal((await c.almaty.probes.runNow('web'))?.ok, false);
    await c.step(30);
    assert.equal((await c.astana.probes.runNow('web'))?.ok, false);
    const id = Number((await c.store.query<{ id: string }>(`SELECT id FROM incidents WHERE check_name = 'web'`)).rows[0]!.id);
    const viewer = await c.token('viewer', 'dana');

    const page = await browser.newPage();
    try {
      await page.goto(`${base}/incidents/${id}`);
      assert.match(page.url(), /\/login\?next=/);
      await page.fill('#token', viewer);
      await Promise.all([page.waitForURL(new RegExp(`/incidents/${id}$`)), page.press('#token', 'Enter')]);

      assert.equal(await page.textContent('#locations h2'), 'Места проверки');
      assert.equal(await page.textContent('#locations-needed'), 'нужно 2 из 2 · видят отказ: 2');
      let li = await items(page);
      assert.deepEqual(li.map((x) => [x.location, x.status, x.live]), [['almaty', 'down', 'true'], ['astana', 'down', 'true']]);
      assert.match(li[0]!.text, /^almaty · не работает · с 2026-03-02 09:00 · на связи экземпляр: almaty-1 Причина: .*refused/i);
      assert.match(li[1]!.text, /^astana · не работает · с 2026-03-02 09:00 · на связи экземпляр: astana-1 Причина: .*refused/i);

      // Kazakh and English wording.
      await page.goto(`${base}/incidents/${id}?lang=kk`);
      assert.equal(await page.textContent('#locations h2'), 'Тексеру орындары');
      assert.equal(await page.textContent('#locations-needed'), '2 орынның 2 қажет · істен шығуды көреді: 2');
      assert.match((await items(page))[0]!.text, /^almaty · істемейді · 2026-03-02 09:00 бастап · байланыста дана: almaty-1 Себебі: /);
      await page.goto(`${base}/incidents/${id}?lang=en`);
      assert.equal(await page.textContent('#locations-needed'), '2 of 2 needed · seeing it down: 2');
      assert.match((await items(page))[1]!.text, /^astana · down · since 2026-03-02 09:00 · live instance: astana-1 Reason: /);

      // Screenshots, Russian and Kazakh, desktop and phone; the phone page never scrolls sideways.
      for (const lang of ['ru', 'kk'] as const) {
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
          await page.goto(`${base}/incidents/${id}?lang=${lang}`);
          assert.equal(await page.$$eval('#locations li', (x) => x.length), 2);
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert.ok(overflow <= 0, `${lang} at ${width}px scrolls sideways by ${overflow}px`);
          await page.screenshot({ path: join(OUT, `incident-locations-${lang}-${width}.png`), fullPage: true });
        }
      }
      for (const f of ['incident-locations-ru-390.png', 'incident-locations-kk-1280.png']) assert.ok((await readdir(OUT)).includes(f), f);

      // Astana's instance stops: its view stays, no longer live; one live location is left.
      await c.astana.stop();
      await c.step(1);
      await page.goto(`${base}/incidents/${id}?lang=ru`);
      li = await items(page);
      assert.deepEqual(li.map((x) => [x.location, x.status, x.live]), [['almaty', 'down', 'true'], ['astana', 'down', 'false']]);
      assert.match(li[1]!.text, / · нет связи /);
      assert.equal(await page.textContent('#locations-needed'), 'нужно 2 из 1 · видят отказ: 1');
    } finally {
      await page.close();
    }
  });
});
