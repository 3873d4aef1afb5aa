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
import { htmlToPdf, PdfUnavailableError } from '../../../src/reports/pdf.ts';
import { parsePeriod } from '../../../src/reports/period.ts';
import { renderCsv, renderHtml } from '../../../src/reports/render.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';
import { context, seedFixture } from '../../integration/reports/fixture.ts';

// The report as a person reads it: the HTML in real headless Chromium (a phone's 390 px and a desktop, no script,
// inline SVG, a print style sheet; screenshots in test-output/reports/) and the PDF Chromium prints from it, read
// back with pdftotext. CSV by RFC 4180.

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

/** A minimal RFC 4180 reader: quoted fields with doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        f += '"';
        i++;
      } else if (c === '"') q = false;
      else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      row.push(f);
      f = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(f);
      rows.push(row);
      row = [];
      f = '';
      i++;
    } else f += c;
  }
  return rows;
}

describe('reports rendered: CSV, HTML in headless Chromium, PDF through pdftotext', { skip, timeout: 180_000 }, () => {
  let store: Store;
  let report: Report;
  let yearly: Report;
  let browser: Browser;
  let tmp: string;

  before(async () => {
    store = await freshStore();
    const { clock } = await seedFixture(store);
    // A hostile title shows escaping in every format.
    await store.query(`UPDATE incidents SET title = $1 WHERE fingerprint = 'staff:1'`, ['<script>alert(1)</script> "down", =cmd']);
    report = await buildReport(context(store, clock.now()), { kind: 'availability', period: parsePeriod('2026-03') });
    yearly = await buildReport(context(store, clock.now()), { kind: 'nqs-yearly', period: parsePeriod('2026'), notes: { situation: 'Платформа работает; ҰБЖ жұмыс істейді.' } });
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

  it('CSV: RFC 4180, a header, one row per system, quoting and formula guard', () => {
    const csv = renderCsv(report);
    assert.ok(csv.endsWith('\r\n'));
    const rows = parseCsv(csv);
    assert.equal(rows.length, 3);
    assert.equal(rows[0]![0], 'system');
    const width = rows[0]!.length;
    assert.ok(rows.every((r) => r.length === width));
    const enbek = rows.find((r) => r[0] === 'enbek')!;
    assert.equal(enbek[rows[0]!.indexOf('availability_pct')], '99.6483');
    assert.equal(enbek[rows[0]!.indexOf('data_sha256')], report.data_sha256);
    const outages = parseCsv(renderCsv(report, { table: 'outages' }));
    const staff = outages.find((r) => r[0] === 'nqs')!;
    assert.equal(staff[outages[0]!.indexOf('titles')], '<script>alert(1)</script> "down", =cmd');
    assert.ok(renderCsv(report, { bom: true }).startsWith('\uFEFFsystem,'));
  });

  for (const lang of ['ru', 'kk', 'en'] as const) {
    it(`HTML (${lang}) in Chromium: self-contained, no script, SVG charts, fits a 390 px phone`, async () => {
      const html = renderHtml(report, lang);
      assert.doesNotMatch(html, /<script|src=|href=/i, 'nothing to fetch, nothing to run');
      const file = join(tmp, `availability-${lang}.html`);
      await writeFile(file, html);
      const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
      const requests: string[] = [];
      const page = await ctx.newPage();
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${file}`);
      assert.deepEqual(requests, [`file://${file}`], 'the page loads nothing else');
      assert.equal(await page.locator('html').getAttribute('lang'), lang);
      assert.equal(await page.locator('svg rect.bad').count() > 0, true, 'the outage days are red bars');
      assert.equal(await page.locator('table#x, section#t-outages tbody tr').count(), 5);
      assert.equal(await page.locator('script').count(), 0);
      // The hostile title is text, not markup.
      assert.match((await page.locator('section#t-outages').innerText()), /<script>alert\(1\)<\/script> "down", =cmd/);
      // The page itself does not scroll sideways on a phone; wide tables scroll inside their box.
      const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok((overflow as number) <= 0, `page overflows by ${String(overflow)} px`);
      const heading = await page.locator('h1').innerText();
      assert.equal(heading, { ru: 'Доступность систем', kk: 'Жүйелердің қолжетімділігі', en: 'Availability of systems' }[lang]);
      await page.screenshot({ path: join(OUT, `availability-${lang}-390.png`), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.screenshot({ path: join(OUT, `availability-${lang}-1280.png`), fullPage: true });
      // The print style sheet applies when printed.
      await page.emulateMedia({ media: 'print' });
      assert.equal(await page.evaluate("getComputedStyle(document.querySelector('.scroll')).overflowX"), 'visible');
      await ctx.close();
    });
  }

  it('PDF: printed by headless Chromium; pdftotext reads back the figures, period, version and hash', async () => {
    const pdf = await htmlToPdf(renderHtml(report, 'en'), CHROMIUM);
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    const file = join(tmp, 'availability.pdf');
    await writeFile(file, pdf);
    await writeFile(join(OUT, 'availability-en.pdf'), pdf);
    const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
    const flat = text.replace(/\s+/g, ' ');
    for (const want of ['Availability of systems', '2026-03 (2026-03-01 – 2026-03-31)', '9.9.9-test', report.data_sha256, '99.648', '99.899', '2026-03-10 23:40', '2026-03-11 00:17', 'Calendar facts used', 'Asia/Almaty, UTC+5']) {
      assert.ok(flat.includes(want), `the PDF text has ${JSON.stringify(want)}:\n${text.slice(0, 3000)}`);
    }
  });

  it('PDF in Russian and Kazakh keeps the letters (nqs-yearly with a written section)', async () => {
    for (const [lang, title] of [['ru', 'Платформа НСК: годовой анализ'], ['kk', 'ҰБЖ платформасы: жылдық талдау']] as const) {
      const pdf = await htmlToPdf(renderHtml(yearly, lang), CHROMIUM);
      const file = join(tmp, `yearly-${lang}.pdf`);
      await writeFile(file, pdf);
      const flat = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
      assert.ok(flat.includes(title), `${lang}: ${flat.slice(0, 500)}`);
      assert.ok(flat.includes('Платформа работает; ҰБЖ жұмыс істейді.'), `${lang}: the owner's text`);
    }
  });

  it('PDF without Chromium is a clear error, not a crash', async () => {
    await assert.rejects(htmlToPdf('<p>x</p>', join(tmp, 'no-such-chromium')), (err: Error) => err instanceof PdfUnavailableError && /PDF needs headless Chromium: no browser at .*no-such-chromium/.test(err.message));
  });
});
