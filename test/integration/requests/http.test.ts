import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../src/clock.ts';
import { nullLogger } from '../../../src/log.ts';
import { AttachmentStore } from '../../../src/requests/attachments.ts';
import { loadCalendarFile } from '../../../src/requests/calendar-file.ts';
import { resolveRequestsConfig, type Role } from '../../../src/requests/config.ts';
import { registerRequestRoutes } from '../../../src/requests/http.ts';
import { registerRequestMetrics } from '../../../src/requests/metrics.ts';
import { RequestService } from '../../../src/requests/service.ts';
import type { Store } from '../../../src/store/store.ts';
import { samplePdf, samplePng } from '../../support/files.ts';
import { freshStore, storeKind } from '../../support/store.ts';

const FILE = fileURLToPath(new URL('../../../config/calendars/kz.yaml', import.meta.url));
const PDF = samplePdf();
const PNG = samplePng();
const EXE = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200, 0x90)]);

type Part = { name: string; value: string | Buffer; filename?: string };
function multipart(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const b = '----kuzet-test-boundary';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${b}\r\nContent-Disposition: ${disp}\r\n${p.filename !== undefined ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`));
    chunks.push(typeof p.value === 'string' ? Buffer.from(p.value, 'utf8') : p.value);
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${b}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${b}` } };
}

const NQS_FIELDS: Record<string, string> = {
  lang: 'kk', system: 'nqs', full_name: 'Асқар Бекұлы', iin: '850115300011', login: 'askar85', phone: '+7 701 123 45 67',
  email: 'askar@example.kz', subject: 'Кіру', body: 'Қате <b>шығады</b>',
};
const fieldsOf = (o: Record<string, string>): Part[] => Object.entries(o).map(([name, value]) => ({ name, value }));

describe(`request routes on ${storeKind}`, () => {
  let store: Store;
  let app: FastifyInstance;
  let dir: string;
  let clock: FakeClock;
  let failIntake = false;
  const registry = new Registry();
  let ip = 0;
  const nextIp = () => `10.0.${Math.floor(++ip / 250)}.${ip % 250}`;

  before(async () => {
    store = await freshStore();
    dir = await mkdtemp(join(tmpdir(), 'kuzet-att-'));
    clock = new FakeClock('2026-03-20T12:59:00Z'); // Fri 17:59 Almaty
    const config = resolveRequestsConfig({
      attachments: { dir, max_bytes: 10 * 1024 * 1024, max_files: 2, types: ['pdf', 'png', 'jpeg'] },
      rate_limit: { max: 5, window: '10m', api_max: 4 },
    });
    const calendar = loadCalendarFile(FILE).calendar;
    const metrics = registerRequestMetrics(registry, { store, clock });
    const service = new RequestService({ store, clock, calendar: () => calendar, config: () => config, logger: nullLogger, metrics });
    const realIntake = service.intake.bind(service);
    service.intake = async (...args) => {
      if (failIntake) throw new Error('database went away');
      return realIntake(...args);
    };
    app = Fastify({ logger: false });
    await registerRequestRoutes(app, {
      service, config: () => config, clock, logger: nullLogger, attachments: new AttachmentStore(dir), metrics,
      authorize: (role) => async (req, reply) => {
        const have = req.headers['x-role'];
        if (typeof have !== 'string') return reply.code(401).send({ error: { code: 'KZ_ERR_UNAUTHENTICATED', message: 'no token' } });
        if (role !== 'viewer' && have === 'viewer') return reply.code(403).send({ error: { code: 'KZ_ERR_FORBIDDEN', message: 'role' } });
      },
      roleOf: (req) => (req.headers['x-role'] as Role | undefined) ?? 'viewer',
      actorOf: (req) => (req.headers['x-actor'] as string | undefined) ?? 'specialist-1',
    });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const count = async () => Number((await store.query<{ n: number }>('SELECT count(*)::int AS n FROM requests')).rows[0]!.n);
  const files = async () => (await readdir(dir).catch(() => [])).length;
  const post = (parts: Part[], extra: { url?: string; ip?: string } = {}) => {
    const m = multipart(parts);
    return app.inject({ method: 'POST', url: extra.url ?? '/report', headers: m.headers, payload: m.payload, remoteAddress: extra.ip ?? nextIp() });
  };

  it('serves the chooser and the form in Russian and Kazakh, with no script and a strict CSP', async () => {
    const ru = await app.inject({ url: '/report' });
    assert.equal(ru.statusCode, 200);
    assert.match(ru.body, /<html lang="ru">/);
    assert.match(ru.body, /Сообщить о проблеме/);
    assert.match(ru.headers['content-security-policy'] as string, /default-src 'none'/);
    const kk = await app.inject({ url: '/report?lang=kk&system=nqs' });
    assert.equal(kk.statusCode, 200);
    assert.match(kk.body, /<html lang="kk">/);
    assert.match(kk.body, /ЖСН <span class="req">\(міндетті\)<\/span>/);
    assert.match(kk.body, /enctype="multipart\/form-data"/);
    assert.doesNotMatch(kk.body + ru.body, /<script/i);
    const bad = await app.inject({ url: '/report?system=%3Cscript%3E' });
    assert.equal(bad.statusCode, 404);
    assert.doesNotMatch(bad.body, /<script>/);
  });

  it('takes a report with an attachment from the page: stored once, file by generated name, mode 0600, SHA-256', async () => {
    const before = await count();
    const r = await post([...fieldsOf(NQS_FIELDS), { name: 'attachment', value: PDF, filename: 'скан.pdf' }]);
    assert.equal(r.statusCode, 201, r.body);
    assert.match(r.body, /Өтініш қабылданды/);
    assert.match(r.body, /<strong id="request-number">R-2026-\d{6}<\/strong>/);
    assert.match(r.body, /<strong id="request-due">2026-03-30 18:00<\/strong>/);
    assert.equal(await count(), before + 1);
    const att = await store.query<{ stored_name: string; original_name: string; sha256: string; size_bytes: number; media_type: string }>(
      'SELECT stored_name, original_name, sha256, size_bytes, media_type FROM request_attachments');
    assert.equal(att.rows.length, 1);
    const a = att.rows[0]!;
    assert.match(a.stored_name, /^[0-9a-f]{32}\.pdf$/);
    assert.equal(a.original_name, 'скан.pdf');
    assert.equal(a.media_type, 'application/pdf');
    assert.equal(a.sha256, createHash('sha256').update(PDF).digest('hex'));
    const path = join(dir, a.stored_name);
    assert.deepEqual(await readFile(path), PDF);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('takes a url-encoded report without a file', async () => {
    const body = new URLSearchParams({ system: 'enbek', contact: 'Айгүл, 8 701 000 00 00', email: 'aigul@example.kz', subject: 'Поиск вакансий', body: 'Не работает поиск' });
    const r = await app.inject({ method: 'POST', url: '/report', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: body.toString(), remoteAddress: nextIp() });
    assert.equal(r.statusCode, 201, r.body);
    assert.match(r.body, /Обращение принято/);
  });

  it('refuses a wrong IIN check digit in the user language, refills the form escaped, and stores nothing', async () => {
    const before = [await count(), await files()];
    const r = await post([...fieldsOf({ ...NQS_FIELDS, iin: '850115300012', subject: '"><script>alert(1)</script>' }), { name: 'attachment', value: PDF, filename: 'a.pdf' }]);
    assert.equal(r.statusCode, 400);
    assert.match(r.body, /ЖСН: ЖСН бақылау цифры қате, нөмірді тексеріңіз/);
    assert.match(r.body, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
    assert.match(r.body, /Қате &lt;b&gt;шығады&lt;\/b&gt;<\/textarea>/);
    assert.doesNotMatch(r.body, /<script>/);
    assert.deepEqual([await count(), await files()], before);
  });

  it('lists every missing field in Russian', async () => {
    const r = await post([{ name: 'system', value: 'enbek' }]);
    assert.equal(r.statusCode, 400);
    for (const m of ['Контактные данные: обязательное поле', 'Адрес электронной почты: обязательное поле', 'Тема обращения: обязательное поле', 'Текст обращения: обязательное поле']) {
      assert.ok(r.body.includes(m), m);
    }
  });

  it('refuses a 50 MB attachment with 413', async () => {
    const before = [await count(), await files()];
    const big = Buffer.alloc(50 * 1024 * 1024, 0x20);
    PDF.copy(big);
    const r = await post([...fieldsOf(NQS_FIELDS), { name: 'attachment', value: big, filename: 'big.pdf' }]);
    assert.equal(r.statusCode, 413);
    assert.match(r.body, /Файл тым үлкен: 10 МБ-тан аспауы керек/);
    assert.deepEqual([await count(), await files()], before);
  });

  it('refuses an .exe renamed .pdf, a PNG named .pdf, and a file name with a path', async () => {
    const before = [await count(), await files()];
    const exe = await post([...fieldsOf({ ...NQS_FIELDS, lang: 'ru' }), { name: 'attachment', value: EXE, filename: 'invoice.pdf' }]);
    assert.equal(exe.statusCode, 415);
    assert.match(exe.body, /Этот тип файла не принимается; допустимы: pdf, png, jpeg/);
    const png = await post([...fieldsOf({ ...NQS_FIELDS, lang: 'ru' }), { name: 'attachment', value: PNG, filename: 'photo.pdf' }]);
    assert.equal(png.statusCode, 415);
    assert.match(png.body, /Расширение файла не соответствует его содержимому/);
    for (const name of ['../../etc/passwd.pdf', 'C:\\Users\\a\\scan.pdf', 'dir/scan.pdf']) {
      const p = await post([...fieldsOf({ ...NQS_FIELDS, lang: 'ru' }), { name: 'attachment', value: PDF, filename: name }]);
      assert.equal(p.statusCode, 400, name);
      assert.match(p.body, /Имя файла не должно содержать путь/);
    }
    assert.deepEqual([await count(), await files()], before);
  });

  it('refuses more files than allowed', async () => {
    const parts = [...fieldsOf(NQS_FIELDS), ...[1, 2, 3].map((i) => ({ name: 'attachment', value: PDF, filename: `f${i}.pdf` }))];
    const r = await post(parts);
    assert.equal(r.statusCode, 413);
    assert.match(r.body, /Файлдар тым көп: 2-дан аспауы керек/);
  });

  it('removes written files when the database refuses the request', async () => {
    const before = [await count(), await files()];
    failIntake = true;
    try {
      const r = await post([...fieldsOf(NQS_FIELDS), { name: 'attachment', value: PDF, filename: 'a.pdf' }]);
      assert.equal(r.statusCode, 500);
      assert.match(r.body, /Өтінішті сақтау мүмкін болмады/);
    } finally {
      failIntake = false;
    }
    assert.deepEqual([await count(), await files()], before);
  });

  it('limits a flood from one address, per address, and lets it in again after the window', async () => {
    const addr = '192.0.2.7';
    const send = (ip: string) => app.inject({
      method: 'POST', url: '/report?lang=kk', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ system: 'enbek', contact: 'x', email: 'x@example.kz', subject: 's', body: 'b' }).toString(), remoteAddress: ip,
    });
    for (let i = 0; i < 5; i++) assert.equal((await send(addr)).statusCode, 201);
    const sixth = await send(addr);
    assert.equal(sixth.statusCode, 429);
    assert.match(sixth.body, /Сіздің мекенжайыңыздан өтініштер тым көп/);
    assert.ok(Number(sixth.headers['retry-after']) > 0);
    assert.equal((await send('192.0.2.8')).statusCode, 201, 'another address is not affected');
    clock.advance(20 * 60_000);
    assert.equal((await send(addr)).statusCode, 201);
    const text = await registry.metrics();
    assert.match(text, /kuzet_requests_refused_total\{reason="rate_limited"\} 1\n/);
    assert.match(text, /kuzet_requests_refused_total\{reason="file_type"\} 1\n/);
    assert.match(text, /kuzet_requests_received_total\{form="enbek",channel="web"\} 8\n/);
    assert.match(text, /kuzet_requests_open\{form="nqs",overdue="false"\} 1\n/);
  });

  describe('API', () => {
    let actor = 0;
    const api = (method: 'GET' | 'POST', url: string, opts: { role?: string; json?: unknown; raw?: string | Buffer; type?: string; actor?: string } = {}) =>
      app.inject({
        method, url, remoteAddress: '198.51.100.1',
        headers: { 'x-actor': opts.actor ?? `specialist-${++actor}`, ...(opts.role ? { 'x-role': opts.role } : {}), ...(opts.json !== undefined || opts.raw !== undefined ? { 'content-type': opts.type ?? 'application/json' } : {}) },
        payload: opts.raw ?? (opts.json === undefined ? undefined : JSON.stringify(opts.json)),
      });

    it('needs a reporter token to file, and files on a user behalf as a specialist', async () => {
      assert.equal((await api('POST', '/api/v1/requests', { json: { system: 'enbek' } })).statusCode, 401);
      const r = await api('POST', '/api/v1/requests', {
        role: 'reporter', actor: 'specialist-aigerim',
        json: { channel: 'specialist', system: 'labour-market', contact: 'звонок', full_name: 'Серик Ахметов', position: 'инспектор', login: 'serik',
          phone: '87172556677', email: 'serik@gov.kz', subject: 'Не входит', body: 'Ошибка входа' },
      });
      assert.equal(r.statusCode, 201, r.body);
      const req = r.json().request;
      assert.equal(req.channel, 'specialist');
      assert.equal(req.filedBy, 'specialist-aigerim');
      assert.equal(req.phone, '+77172556677');
      assert.equal(req.dueRule, '3 calendar days');
    });

    it('limits intake per token, not per office address', async () => {
      const json = { system: 'enbek', contact: 'звонок', email: 'x@example.kz', subject: 's', body: 'b' };
      for (let i = 0; i < 4; i++) assert.equal((await api('POST', '/api/v1/requests', { role: 'reporter', actor: 'busy', json })).statusCode, 201);
      const r = await api('POST', '/api/v1/requests', { role: 'reporter', actor: 'busy', json });
      assert.equal(r.statusCode, 429);
      assert.equal(r.json().error.code, 'KZ_ERR_RATE_LIMITED');
      assert.equal((await api('POST', '/api/v1/requests', { role: 'reporter', actor: 'colleague', json })).statusCode, 201, 'same address, other token');
    });

    it('answers bad JSON input with precise 4xx', async () => {
      const bad = async (opts: Parameters<typeof api>[2], status: number, re: RegExp) => {
        const r = await api('POST', '/api/v1/requests', { role: 'reporter', ...opts });
        assert.equal(r.statusCode, status, r.body);
        assert.match(r.json().error.message, re);
        return r.json().error;
      };
      const before = await count();
      const e = await bad({ json: { system: 'nqs', lang: 'kk', iin: '850115300012' } }, 400, /Өтініш қабылданбады/);
      assert.ok(e.fields.some((f: { field: string; problem: string }) => f.field === 'iin' && f.problem === 'iin_checksum'));
      await bad({ json: { system: 'enbek', hacker: 1 } }, 400, /повреждён.*\(hacker\)/);
      await bad({ raw: Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }, 400, /UTF-8/);
      await bad({ raw: '['.repeat(10_000) + ']'.repeat(10_000) }, 400, /слишком сложной структуры/);
      await bad({ raw: '{"system": ' }, 400, /повреждён/);
      await bad({ json: ['system'] }, 400, /повреждён/);
      await bad({ raw: 'system=enbek', type: 'text/plain' }, 415, /Неподдерживаемый формат/);
      await bad({ raw: JSON.stringify({ body: 'x'.repeat(300_000) }) }, 413, /слишком большой/);
      assert.equal(await count(), before, 'nothing stored');
    });

    it('masks personal data for viewers and shows it to admins', async () => {
      const list = await api('GET', '/api/v1/requests?system=nqs', { role: 'viewer' });
      assert.equal(list.statusCode, 200);
      const items = list.json().items as Array<{ iin: string; email: string }>;
      assert.ok(items.length > 0);
      assert.ok(items.every((i) => i.iin === '850115*****1' && i.email === 'a***@***'));
      assert.doesNotMatch(list.body, /850115300011|askar@example/);
      const one = await api('GET', `/api/v1/requests/${(list.json().items[0] as { id: number }).id}`, { role: 'admin' });
      assert.equal(one.json().request.iin, '850115300011');
      assert.equal((await api('GET', '/api/v1/requests?status=bogus', { role: 'viewer' })).statusCode, 400);
      assert.equal((await api('GET', '/api/v1/requests/0', { role: 'viewer' })).statusCode, 400);
      assert.equal((await api('GET', '/api/v1/requests/999999', { role: 'viewer' })).statusCode, 404);
    });

    it('lets only personal-data roles download an attachment, always as a download', async () => {
      const a = await store.query<{ id: number; request_id: number }>('SELECT id, request_id FROM request_attachments ORDER BY id LIMIT 1');
      const { id, request_id: rid } = a.rows[0]!;
      const ok = await api('GET', `/api/v1/requests/${rid}/attachments/${id}`, { role: 'admin' });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(ok.rawPayload, PDF);
      assert.match(ok.headers['content-disposition'] as string, /^attachment; filename="[0-9a-f]{32}\.pdf"; filename\*=UTF-8''%D1%81%D0%BA%D0%B0%D0%BD\.pdf$/);
      assert.equal(ok.headers['x-content-type-options'], 'nosniff');
      assert.equal((await api('GET', `/api/v1/requests/${rid}/attachments/${id}`, { role: 'oncall' })).statusCode, 403);
      assert.equal((await api('GET', `/api/v1/requests/${rid}/attachments/999999`, { role: 'admin' })).statusCode, 404);
      assert.equal((await api('GET', `/api/v1/requests/${rid}/attachments/..%2F..%2Fetc`, { role: 'admin' })).statusCode, 400);
    });

    it('moves a request through its lifecycle and extends it', async () => {
      const list = await api('GET', '/api/v1/requests?system=nqs&status=received', { role: 'admin' });
      const id = (list.json().items[0] as { id: number }).id;
      assert.equal((await api('POST', `/api/v1/requests/${id}/acknowledge`, { role: 'viewer' })).statusCode, 403);
      const ack = await api('POST', `/api/v1/requests/${id}/acknowledge`, { role: 'reporter' });
      assert.equal(ack.statusCode, 200, ack.body);
      assert.equal(ack.json().request.status, 'acknowledged');
      assert.equal((await api('POST', `/api/v1/requests/${id}/acknowledge`, { role: 'reporter' })).statusCode, 409);
      assert.equal((await api('POST', `/api/v1/requests/${id}/answer`, { role: 'reporter', json: {} })).statusCode, 400);
      assert.equal((await api('POST', `/api/v1/requests/${id}/extend`, { role: 'reporter', json: { reason: 'because', note: 'x' } })).statusCode, 400);
      const ext = await api('POST', `/api/v1/requests/${id}/extend`, { role: 'reporter', json: { reason: 'defect_fix', note: 'нужна доработка' } });
      assert.equal(ext.statusCode, 200, ext.body);
      assert.equal(ext.json().request.extendedTo, 10);
      const ans = await api('POST', `/api/v1/requests/${id}/answer`, { role: 'reporter', json: { answer: 'Исправлено' } });
      assert.equal(ans.json().request.status, 'answered');
    });
  });
});
