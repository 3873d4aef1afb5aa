import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { checkFile, detectType, fileNameProblem } from '../../../src/requests/attachments.ts';
import { IntakeError, jsonDepth, parseUrlEncoded, strictUtf8 } from '../../../src/requests/intake-http.ts';
import { esc, renderForm } from '../../../src/requests/page.ts';
import { DEFAULT_SYSTEMS, resolveRequestsConfig } from '../../../src/requests/config.ts';
import { RateLimiter } from '../../../src/requests/rate-limit.ts';

const zip = (...names: string[]) => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(26), ...names.map((n) => Buffer.from(n))]);

describe('attachments by magic bytes', () => {
  it('knows the allowed types and nothing else', () => {
    assert.equal(detectType(Buffer.from('%PDF-1.7\n')), 'pdf');
    assert.equal(detectType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'png');
    assert.equal(detectType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'jpeg');
    assert.equal(detectType(Buffer.from('GIF89a')), 'gif');
    assert.equal(detectType(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'webp');
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

  it('refuses names with a path or reserved characters', () => {
    for (const bad of ['../a.pdf', 'a/b.pdf', 'a\\b.pdf', 'C:a.pdf', '.htaccess', 'a\u0000.pdf', ' a.pdf', '', 'x'.repeat(201), 'a\ufffd.pdf']) {
      assert.equal(fileNameProblem(bad), true, JSON.stringify(bad));
    }
    assert.equal(fileNameProblem('Скан паспорта (1).pdf'), false);
  });

  it('requires the name to agree with the bytes, and hashes the content', () => {
    const pdf = Buffer.from('%PDF-1.4 x');
    assert.equal(checkFile('a.exe', Buffer.from('MZ'), ['pdf']), 'file_type');
    assert.equal(checkFile('a.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ['pdf']), 'file_type', 'png not allowed');
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
