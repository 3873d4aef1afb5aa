import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { checkFile, detectType, fileNameProblem } from '../../../src/requests/attachments.ts';
import { IntakeError, jsonDepth, parseUrlEncoded, strictUtf8 } from '../../../src/requests/intake-http.ts';
import { esc, renderForm } from '../../../src/requests/page.ts';
import { DEFAULT_SYSTEMS, resolveRequestsConfig } from '../../../src/requests/config.ts';
import { ByteBudget, RateLimiter } from '../../../src/requests/rate-limit.ts';
import { sampleJpeg, samplePdf, samplePng } from '../../support/files.ts';

const EOCD = Buffer.concat([Buffer.from([0x50, 0x4b, 0x05, 0x06]), Buffer.alloc(18)]);
const zip = (...names: string[]) => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(26), ...names.map((n) => Buffer.from(n)), EOCD]);
const webp = () => {
  const b = Buffer.concat([Buffer.from('RIFF\0\0\0\0WEBPVP8 ', 'latin1'), Buffer.alloc(10)]);
  b.writeUInt32LE(b.length - 8, 4);
  return b;
};

describe('attachments by magic bytes', () => {
  it('knows the allowed types and nothing else', () => {
    assert.equal(detectType(samplePdf()), 'pdf');
    assert.equal(detectType(samplePng()), 'png');
    assert.equal(detectType(sampleJpeg()), 'jpeg');
    assert.equal(detectType(Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(20), Buffer.from([0x3b])])), 'gif');
    assert.equal(detectType(webp()), 'webp');
    assert.equal(detectType(zip('[Content_Types].xml', 'word/document.xml')), 'docx');
    assert.equal(detectType(zip('[Content_Types].xml', 'xl/workbook.xml')), 'xlsx');
    assert.equal(detectType(zip('[Content_Types].xml', 'word/document.xml', 'word/vbaProject.bin')), undefined, 'macros');
    assert.equal(detectType(zip('evil.exe')), undefined, 'a plain zip');
    assert.equal(detectType(Buffer.from('MZ\x90\0')), undefined);
    assert.equal(detectType(Buffer.from('\x7fELF')), undefined);
    assert.equal(detectType(Buffer.from('#!/bin/sh\n')), undefined);
    assert.equal(detectType(Buffer.from('<html><script>')), undefined);
    assert.equal(detectType(Buffer.alloc(0)), undefined);
  });

  it('checks the structure, not only the first bytes', () => {
    const pdf = samplePdf();
    const html = Buffer.from('%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n');
    assert.equal(detectType(html), undefined, 'HTML behind a %PDF prefix');
    assert.equal(detectType(Buffer.concat([html, Buffer.from('\n1 0 obj\n<<>>\nendobj\nstartxref\n9\n%%EOF\n')])), undefined, 'HTML with a PDF-looking tail');
    const withHtml = Buffer.from(pdf.toString('latin1').replace('%PDF-1.4\n', '%PDF-1.4\n%<!doctype html><script>x</script>\n'), 'latin1');
    assert.equal(detectType(withHtml), undefined, 'a PDF that is also an HTML page');
    assert.equal(detectType(pdf.subarray(0, pdf.length - 7)), undefined, 'a PDF without %%EOF');
    assert.equal(detectType(Buffer.from(pdf.toString('latin1').replace(/startxref\n\d+/, 'startxref\n3'), 'latin1')), undefined, 'startxref pointing nowhere');
    assert.equal(detectType(Buffer.from('%PDF-1.7\n%%EOF\n')), undefined, 'a header and a trailer only');
    const png = samplePng();
    assert.equal(detectType(png.subarray(0, png.length - 12)), undefined, 'a PNG without IEND');
    const badCrc = Buffer.from(png);
    badCrc[30] = badCrc[30]! ^ 0xff;
    assert.equal(detectType(badCrc), undefined, 'a PNG with a broken chunk');
    assert.equal(detectType(Buffer.concat([png, Buffer.from('<html>')])), undefined, 'bytes after IEND');
    assert.equal(detectType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])), undefined, 'a PNG signature alone');
    const jpeg = sampleJpeg();
    assert.equal(detectType(jpeg.subarray(0, jpeg.length - 2)), undefined, 'a JPEG without EOI');
    assert.equal(detectType(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('<html><script>x</script>')])), undefined, 'HTML behind a JPEG marker');
    assert.equal(detectType(zip('[Content_Types].xml', 'word/document.xml').subarray(0, -22)), undefined, 'a zip without its central directory');
  });

  it('refuses names with a path or reserved characters', () => {
    for (const bad of ['../a.pdf', 'a/b.pdf', 'a\\b.pdf', 'C:a.pdf', '.htaccess', 'a\u0000.pdf', ' a.pdf', '', 'x'.repeat(201), 'a\ufffd.pdf']) {
      assert.equal(fileNameProblem(bad), true, JSON.stringify(bad));
    }
    assert.equal(fileNameProblem('Скан паспорта (1).pdf'), false);
  });

  it('requires the name to agree with the bytes, and hashes the content', () => {
    const pdf = samplePdf();
    assert.equal(checkFile('a.exe', Buffer.from('MZ'), ['pdf']), 'file_type');
    assert.equal(checkFile('a.png', samplePng(), ['pdf']), 'file_type', 'png not allowed');
    assert.equal(checkFile('a.jpg', pdf, ['pdf']), 'file_mismatch');
    assert.equal(checkFile('noext', pdf, ['pdf']), 'file_mismatch');
    const ok = checkFile('A.PDF', pdf, ['pdf']);
    assert.ok(typeof ok === 'object');
    assert.equal(ok.sha256, createHash('sha256').update(pdf).digest('hex'));
    assert.equal(ok.media, 'application/pdf');
  });
});

describe('strict decoding', () => {
  it('refuses invalid UTF-8 instead of replacing it', () => {
    assert.equal(strictUtf8(Buffer.from('Қазақ', 'utf8')), 'Қазақ');
    assert.throws(() => strictUtf8(Buffer.from([0x61, 0xff])), (e: unknown) => e instanceof IntakeError && e.problem === 'bad_encoding');
    assert.throws(() => strictUtf8(Buffer.from([0xed, 0xa0, 0x80])), IntakeError, 'an encoded surrogate');
  });

  it('measures JSON depth without parsing, ignoring brackets in strings', () => {
    assert.equal(jsonDepth('{"a":[1,{"b":"[[[["}]}'), 3);
    assert.equal(jsonDepth('"\\"[["'), 0);
    assert.equal(jsonDepth('['.repeat(100_000)), 100_000);
  });

  it('parses url-encoded bodies strictly', () => {
    assert.deepEqual({ ...parseUrlEncoded(Buffer.from('a=%D2%9A+b&c=')) }, { a: 'Қ b', c: '' });
    assert.throws(() => parseUrlEncoded(Buffer.from('a=%FF')), IntakeError);
    assert.throws(() => parseUrlEncoded(Buffer.from('a=%G1')), IntakeError);
    assert.throws(() => parseUrlEncoded(Buffer.from('a=1&a=2')), IntakeError, 'a repeated field');
    const proto = parseUrlEncoded(Buffer.from('__proto__=x'));
    assert.equal(Object.getPrototypeOf(proto), null, 'a key named __proto__ is a plain field');
    assert.deepEqual(Object.keys(proto), ['__proto__']);
  });
});

describe('page escaping', () => {
  it('escapes every user value', () => {
    assert.equal(esc(`<a href="x" onclick='y'>&`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;');
    const html = renderForm({
      lang: 'ru', system: DEFAULT_SYSTEMS[0]!, config: resolveRequestsConfig(),
      values: { subject: '"><img src=x onerror=alert(1)>', body: '</textarea><script>x</script>' },
      errors: [{ field: 'subject', message: '<b>bad</b>' }],
    });
    assert.doesNotMatch(html, /<img|<script|<b>bad/);
    assert.match(html, /&lt;\/textarea&gt;&lt;script&gt;/);
  });
});

describe('rate limiter', () => {
  it('allows max per window per client and frees up as the window slides', () => {
    const clock = new FakeClock('2026-03-20T00:00:00Z');
    const rl = new RateLimiter({ max: 3, windowMs: 60_000, clock });
    for (let i = 0; i < 3; i++) assert.equal(rl.take('a').allowed, true);
    const refused = rl.take('a');
    assert.equal(refused.allowed, false);
    assert.ok(refused.retryAfterMs >= 1000 && refused.retryAfterMs <= 60_000);
    assert.equal(rl.take('b').allowed, true);
    clock.advance(60_000); // the previous window still weighs fully at its start
    assert.equal(rl.take('a').allowed, false);
    clock.advance(30_000); // half of it has slid out: 1.5 + 0 < 3
    assert.equal(rl.take('a').allowed, true);
    clock.advance(120_000);
    for (let i = 0; i < 3; i++) assert.equal(rl.take('a').allowed, true);
  });

  it('keeps memory bounded', () => {
    const clock = new FakeClock('2026-03-20T00:00:00Z');
    const rl = new RateLimiter({ max: 1, windowMs: 60_000, clock, maxClients: 100 });
    for (let i = 0; i < 1000; i++) rl.take(`c${i}`);
    assert.ok(rl.size <= 100);
  });
});

describe('daily byte budget per address', () => {
  it('allows up to the budget per Almaty day, per address, and starts again at local midnight', () => {
    const clock = new FakeClock('2026-03-20T12:00:00Z'); // 17:00 Almaty
    const b = new ByteBudget({ perDay: 1000, clock });
    assert.equal(b.allows('a', 1000), true);
    b.charge('a', 600);
    assert.equal(b.allows('a', 400), true);
    assert.equal(b.allows('a', 401), false);
    assert.equal(b.allows('b', 1000), true, 'another address has its own budget');
    clock.advance(6 * 3_600_000); // 23:00 Almaty: the same day
    assert.equal(b.allows('a', 401), false);
    clock.advance(3_600_000); // 00:00 Almaty: a new day
    assert.equal(b.allows('a', 1000), true);
    assert.equal(b.spent('a'), 0);
  });
});
