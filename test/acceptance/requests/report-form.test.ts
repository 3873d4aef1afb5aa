import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type BrowserContext } from 'playwright-core';
import { FakeClock } from '../../../src/clock.ts';
import { nullLogger } from '../../../src/log.ts';
import { AttachmentStore } from '../../../src/requests/attachments.ts';
import { loadCalendarFile } from '../../../src/requests/calendar-file.ts';
import { resolveRequestsConfig } from '../../../src/requests/config.ts';
import { registerRequestRoutes } from '../../../src/requests/http.ts';
import { RequestService } from '../../../src/requests/service.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';
import { samplePdf } from '../../support/files.ts';

// The public report form end to end in real headless Chromium (Debian package `chromium`), both languages, no
// script on the page. Screenshots go to test-output/requests/.

const CHROMIUM = process.env.KUZET_CHROMIUM ?? '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../../test-output/requests/', import.meta.url));
const CAL = fileURLToPath(new URL('../../../config/calendars/kz.yaml', import.meta.url));
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

describe('public report form in headless Chromium', { skip, timeout: 120_000 }, () => {
  let store: Store;
  let app: FastifyInstance;
  let browser: BrowserContext;
  let base: string;
  let dir: string;
  let profile: string;

  before(async () => {
    store = await freshStore();
    dir = await mkdtemp(join(tmpdir(), 'kuzet-att-'));
    profile = await mkdtemp(join(tmpdir(), 'kuzet-chromium-'));
    await mkdir(OUT, { recursive: true });
    const clock = new FakeClock('2026-03-20T12:59:00Z'); // Fri 20 Mar 2026, 17:59 in Almaty
    const config = resolveRequestsConfig({ attachments: { dir } });
    const calendar = loadCalendarFile(CAL).calendar;
    const service = new RequestService({ store, clock, calendar: () => calendar, config: () => config, logger: nullLogger });
    app = Fastify({ logger: false });
    await registerRequestRoutes(app, {
      service, config: () => config, clock, logger: nullLogger, attachments: new AttachmentStore(dir),
      authorize: () => async (_req, reply) => reply.code(401).send({ error: { code: 'KZ_ERR_UNAUTHENTICATED', message: 'no' } }),
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    // A new, empty profile; no script runs on the page (the form must work without it).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      javaScriptEnabled: false,
      viewport: { width: 800, height: 1400 },
      timeout: 60_000,
    });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
    await rm(profile, { recursive: true, force: true });
  });

  for (const lang of ['ru', 'kk'] as const) {
    it(`files an NQS report with an attachment in ${lang}, without JavaScript`, async () => {
      const page = await browser.newPage();
      try {
        await page.goto(`${base}/report?lang=${lang}`);
        assert.equal(await page.getAttribute('html', 'lang'), lang);
        await page.selectOption('#system', 'nqs');
        await Promise.all([page.waitForURL(/system=nqs/), page.click('button[type=submit]')]);

        // First a wrong IIN check digit: the server answers in the page's language and keeps what was typed.
        await page.fill('#full_name', 'Асқар Бекұлы');
        await page.fill('#iin', '850115300012');
        await page.fill('#login', 'askar85');
        await page.fill('#phone', '+7 701 123 45 67');
        await page.fill('#email', 'askar@example.kz');
        await page.fill('#subject', '<script>alert(1)</script>');
        await page.fill('#body', lang === 'kk' ? 'Жүйеге кіру мүмкін емес' : 'Не удаётся войти в систему');
        await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
        const alert = await page.textContent('[role=alert]');
        assert.match(alert ?? '', lang === 'kk' ? /ЖСН бақылау цифры қате/ : /неверная контрольная цифра ИИН/);
        assert.equal(await page.inputValue('#subject'), '<script>alert(1)</script>', 'refilled as text, not markup');
        await page.screenshot({ path: join(OUT, `report-error-${lang}.png`), fullPage: true });

        await page.fill('#iin', '850115300011');
        await page.setInputFiles('#attachment', { name: 'скан.pdf', mimeType: 'application/pdf', buffer: samplePdf() });
        await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
        const number = await page.textContent('#request-number');
        assert.match(number ?? '', /^R-2026-\d{6}$/);
        assert.equal(await page.textContent('#request-due'), '2026-03-30 18:00');
        assert.match(await page.textContent('h1') ?? '', lang === 'kk' ? /Өтініш қабылданды/ : /Обращение принято/);
        await page.screenshot({ path: join(OUT, `report-accepted-${lang}.png`), fullPage: true });

        const row = await store.query<{ lang: string; subject: string; iin: string }>('SELECT lang, subject, iin FROM requests WHERE number = $1', [number]);
        assert.deepEqual(row.rows[0], { lang, subject: '<script>alert(1)</script>', iin: '850115300011' });
        assert.ok((await readdir(OUT)).includes(`report-accepted-${lang}.png`));
      } finally {
        await page.close();
      }
    });
  }
});
