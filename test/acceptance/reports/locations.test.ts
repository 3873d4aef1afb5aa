import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { buildReport } from '../../../src/reports/build.ts';
import type { Report } from '../../../src/reports/model.ts';
import { htmlToPdf } from '../../../src/reports/pdf.ts';
import { parsePeriod } from '../../../src/reports/period.ts';
import { renderHtml } from '../../../src/reports/render.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';
import { seedLocations } from '../../integration/reports/locations-fixture.ts';

// The availability report's rows per location as a person reads them: the HTML on a 390 px phone in headless
// Chromium and the PDF it prints, read back with pdftotext, in Russian, Kazakh and English.

const CHROMIUM = process.env.KUZET_CHROMIUM ?? '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../../test-output/reports/', import.meta.url));
const hasPdftotext = (() => {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : !hasPdftotext ? 'no pdftotext (apt-get install poppler-utils)' : false;

describe('availability report with two probing locations: HTML in Chromium and PDF', { skip, timeout: 180_000 }, () => {
  let store: Store;
  let report: Report;
  let browser: Browser;
  let tmp: string;

  before(async () => {
    store = await freshStore();
    const { ctx } = await seedLocations(store);
    report = await buildReport(ctx, { kind: 'availability', period: parsePeriod('2026-03') });
    await mkdir(OUT, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'kuzet-reports-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await store?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('HTML on a phone: the locations table with each location and the overall row; the page does not scroll sideways', async () => {
    const file = join(tmp, 'availability-locations-ru.html');
    await writeFile(file, renderHtml(report, 'ru'));
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(`file://${file}`);
    assert.equal(await page.locator('section#t-locations h2').innerText(), 'Проверки по местам');
    const rows = await page.locator('section#t-locations tbody tr').allInnerTexts();
    assert.deepEqual(rows.map((r) => r.split('\t').slice(1, 5)), [
      ['enbek-api', 'almaty', '—', '99,978'],
      ['enbek-api', 'astana', '—', '99,978'],
      ['enbek-api', 'в целом', '1', '99,965'],
      ['enbek-web', 'almaty', '—', '99,944'],
      ['enbek-web', 'astana', '—', '99,949'],
      ['enbek-web', 'в целом', '2', '99,979'],
    ]);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok((overflow as number) <= 0, `page overflows by ${String(overflow)} px`);
    await page.screenshot({ path: join(OUT, 'availability-locations-ru-390.png'), fullPage: true });
    await ctx.close();
  });

  it('PDF in Russian, Kazakh and English: the table, the overall rows and the footnote', async () => {
    const want = {
      ru: ['Проверки по местам', 'в целом', '99,979', 'Нужно мест', 'по тому же правилу открывается инцидент'],
      kk: ['Орындар бойынша тексерулер', 'жалпы', 'Қажет орындар', 'инцидент те осы ережемен ашылады'],
      en: ['Probes by location', 'overall', '99.979', '99.944', 'Locations needed', 'the rule that opens its incident'],
    } as const;
    for (const lang of ['ru', 'kk', 'en'] as const) {
      const pdf = await htmlToPdf(renderHtml(report, lang), CHROMIUM);
      const file = join(tmp, `availability-locations-${lang}.pdf`);
      await writeFile(file, pdf);
      if (lang === 'ru') await writeFile(join(OUT, 'availability-locations-ru.pdf'), pdf);
      const flat = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
      for (const w of want[lang]) assert.ok(flat.includes(w), `${lang}: the PDF text has ${JSON.stringify(w)}`);
    }
  });
});
