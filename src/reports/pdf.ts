import { existsSync } from 'node:fs';
import type * as PlaywrightCore from 'playwright-core';

// PDF is the report's own HTML printed by headless Chromium (through playwright-core): one layout for
// screen, print and PDF, Cyrillic and Kazakh letters rendered by a real text engine with the system's fonts,
// and the print style sheet applies. Without Chromium the request fails with a clear message instead.

export class PdfUnavailableError extends Error {}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// One Chromium at a time: a burst of PDF requests queues instead of starting a browser each.
let queue: Promise<unknown> = Promise.resolve();

export function htmlToPdf(html: string, chromiumPath: string, timeoutMs = 60_000): Promise<Buffer> {
  const run = queue.then(() => render(html, chromiumPath, timeoutMs));
  queue = run.catch(() => undefined);
  return run;
}

async function render(html: string, chromiumPath: string, timeoutMs: number): Promise<Buffer> {
  if (!existsSync(chromiumPath)) {
    throw new PdfUnavailableError(`PDF needs headless Chromium: no browser at ${chromiumPath} (install the chromium package or set reports.chromium); use --format html and print it instead`);
  }
  let pw: typeof PlaywrightCore;
  try {
    pw = await import('playwright-core');
  } catch {
    throw new PdfUnavailableError('PDF needs the playwright-core package, which is not installed (npm install playwright-core); use --format html instead');
  }
  const browser = await pw.chromium.launch({ executablePath: chromiumPath, args: ARGS, timeout: timeoutMs }).catch((err: Error) => {
    throw new PdfUnavailableError(`PDF: headless Chromium at ${chromiumPath} did not start: ${err.message.split('\n')[0]}`);
  });
  try {
    const page = await browser.newPage();
    // The page is self-contained: nothing may be fetched while it renders.
    await page.route('**/*', (route) => (route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    await page.setContent(html, { waitUntil: 'load', timeout: timeoutMs });
    const pdf = await page.pdf({ format: 'A4', landscape: true, printBackground: true, preferCSSPageSize: true });
    return Buffer.from(pdf);
  } finally {
    await browser.close();
  }
}
