import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { FakeClock } from '../../../src/clock.ts';
import { nullLogger } from '../../../src/log.ts';
import { AttachmentStore } from '../../../src/requests/attachments.ts';
import { loadCalendarFile } from '../../../src/requests/calendar-file.ts';
import { resolveRequestsConfig, type RequestsConfig } from '../../../src/requests/config.ts';
import { registerRequestRoutes } from '../../../src/requests/http.ts';
import { RequestService } from '../../../src/requests/service.ts';
import type { Store } from '../../../src/store/store.ts';
import { samplePdf } from '../../support/files.ts';
import { freshStore, storeKind } from '../../support/store.ts';

// The public form cannot fill the disk: a daily byte budget per address, a quota on all attachments, and a floor of
// free space, each refused with a page in the user's language before anything is written.

const FILE = fileURLToPath(new URL('../../../config/calendars/kz.yaml', import.meta.url));
const PDF = samplePdf('budget');

function multipart(fields: Record<string, string>, files: Array<{ name: string; bytes: Buffer }>) {
  const b = '----kuzet-budget';
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const f of files) {
    parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="attachment"; filename="${f.name}"\r\nContent-Type: application/pdf\r\n\r\n`), f.bytes, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${b}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${b}` } };
}

const FIELDS = { lang: 'ru', system: 'enbek', contact: 'email', email: 'user@example.kz', subject: 'Не открывается', body: 'Страница вакансий не открывается' };

describe(`attachment budget and quota on ${storeKind}`, () => {
  let store: Store;
  let app: FastifyInstance;
  let dir: string;
  let config: RequestsConfig;
  const clock = new FakeClock('2026-03-20T06:00:00Z'); // 11:00 Almaty

  before(async () => {
    store = await freshStore();
    dir = await mkdtemp(join(tmpdir(), 'kuzet-budget-'));
    config = resolveRequestsConfig({
      attachments: { dir, max_bytes: 64 * 1024, max_files: 2, types: ['pdf'], daily_bytes_per_address: 3 * PDF.length, quota_bytes: 1 << 30, min_free_bytes: 0 },
      rate_limit: { max: 50, window: '10m' },
    });
    const calendar = loadCalendarFile(FILE).calendar;
    const service = new RequestService({ store, clock, calendar: () => calendar, config: () => config, logger: nullLogger });
    app = Fastify({ logger: false });
    await registerRequestRoutes(app, {
      service, config: () => config, clock, logger: nullLogger, attachments: new AttachmentStore(dir),
      authorize: () => async () => {},
    });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const files = async () => (await readdir(dir).catch(() => [])).length;
  const post = (ip: string, n = 1, lang = 'ru') => {
    const m = multipart({ ...FIELDS, lang }, Array.from({ length: n }, (_, i) => ({ name: `скан${i}.pdf`, bytes: PDF })));
    return app.inject({ method: 'POST', url: '/report', headers: m.headers, payload: m.payload, remoteAddress: ip });
  };

  it('refuses an address past its daily byte budget with a page in its language, others go on, and the next day it may again', async () => {
    assert.equal((await post('10.1.0.1', 2)).statusCode, 201);
    assert.equal((await post('10.1.0.1', 1)).statusCode, 201);
    const before = await files();
    const refused = await post('10.1.0.1', 1);
    assert.equal(refused.statusCode, 429, refused.body);
    assert.match(String(refused.headers['content-type']), /^text\/html/);
    assert.match(refused.body, /С вашего адреса сегодня уже отправлено \d+ МБ вложений/);
    const kk = await post('10.1.0.1', 1, 'kk');
    assert.equal(kk.statusCode, 429);
    assert.match(kk.body, /Сіздің мекенжайыңыздан бүгін/);
    assert.equal(await files(), before, 'nothing written for a refused request');
    // a request without files from the same address is still taken
    const m = multipart(FIELDS, []);
    assert.equal((await app.inject({ method: 'POST', url: '/report', headers: m.headers, payload: m.payload, remoteAddress: '10.1.0.1' })).statusCode, 201);
    assert.equal((await post('10.1.0.2', 1)).statusCode, 201, 'another address has its own budget');
    clock.advance(24 * 3_600_000);
    assert.equal((await post('10.1.0.1', 1)).statusCode, 201, 'a new day, a new budget');
  });

  it('refuses every attachment once the global quota is reached, and when the disk would go below its floor', async () => {
    const stored = await files();
    config = { ...config, attachments: { ...config.attachments, quota_bytes: (stored + 1) * PDF.length } };
    assert.equal((await post('10.2.0.1', 1)).statusCode, 201, 'one more fits');
    const full = await post('10.2.0.2', 1);
    assert.equal(full.statusCode, 507, full.body);
    assert.match(full.body, /Хранилище вложений заполнено/);
    assert.equal(await files(), stored + 1);
    config = { ...config, attachments: { ...config.attachments, quota_bytes: 1 << 30, min_free_bytes: 2 ** 50 } };
    const disk = await post('10.2.0.3', 1, 'kk');
    assert.equal(disk.statusCode, 507);
    assert.match(disk.body, /Тіркемелер қоймасы толы/);
    assert.equal(await files(), stored + 1);
  });
});
