import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compare, jsonPath } from '../../../src/sources/probes/assertions.ts';
import { CookieJar } from '../../../src/sources/probes/cookies.ts';
import { substituteStep } from '../../../src/sources/probes/kinds/http.ts';

test('jsonPath walks keys, indexes, quoted keys, negative indexes and length', () => {
  const doc = { data: { items: [{ id: 'a' }, { id: 'b' }], 'odd key': 1, total: 5 } };
  assert.deepEqual(jsonPath(doc, '$.data.items[1].id'), { found: true, value: 'b' });
  assert.deepEqual(jsonPath(doc, '$.data.items[-1].id'), { found: true, value: 'b' });
  assert.deepEqual(jsonPath(doc, "$.data['odd key']"), { found: true, value: 1 });
  assert.deepEqual(jsonPath(doc, '$.data.items.length'), { found: true, value: 2 });
  assert.deepEqual(jsonPath(doc, '$.data.items[5]'), { found: false, error: '$.data.items has 2 elements, no [5]' });
  assert.deepEqual(jsonPath(doc, '$.data.total.x'), { found: false, error: '$.data.total has no "x"' });
  assert.deepEqual(jsonPath(doc, '$.data..x'), { found: false, error: 'cannot parse path at "..x"' });
});

test('jsonPath on a deeply nested document does not recurse', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 10_000; i++) deep = { a: deep };
  assert.deepEqual(jsonPath(deep, '$.a.a.a.b'), { found: false, error: '$.a.a.a has no "b"' });
});

test('compare: numbers numerically, strings as strings, null and booleans by identity', () => {
  assert.equal(compare('10', '>', 9), true);
  assert.equal(compare('abc', '>', 9), false);
  assert.equal(compare('abc', '!=', 9), true);
  assert.equal(compare(35, '<=', 35), true);
  assert.equal(compare('b', '>', 'a'), true);
  assert.equal(compare(null, '==', null), true);
  assert.equal(compare(true, '==', true), true);
  assert.equal(compare(false, '!=', true), true);
  assert.equal(compare(new Date('2026-01-01T00:00:00Z'), '==', '2026-01-01T00:00:00.000Z'), true);
});

test('cookie jar: host-only, domain, path, secure and expiry', () => {
  let now = 1_000_000;
  const jar = new CookieJar(() => now);
  jar.store(new URL('https://career.enbek.kz/auth/login'), [
    'session=s1; Path=/; Secure; HttpOnly',
    'lang=kk; Domain=enbek.kz; Path=/',
    'step=2',
    'short=x; Max-Age=10',
    'evil=1; Domain=example.com',
  ]);
  assert.equal(jar.header(new URL('https://career.enbek.kz/auth/next')), 'session=s1; lang=kk; step=2; short=x');
  assert.equal(jar.header(new URL('https://career.enbek.kz/other')), 'session=s1; lang=kk'); // step, short: default path /auth
  assert.equal(jar.header(new URL('http://career.enbek.kz/auth/x')), 'lang=kk; step=2; short=x'); // not the Secure one
  assert.equal(jar.header(new URL('https://www.enbek.kz/')), 'lang=kk');
  assert.equal(jar.header(new URL('https://example.com/')), undefined);
  now += 11_000;
  assert.equal(jar.header(new URL('http://career.enbek.kz/auth/x')), 'lang=kk; step=2');
  jar.store(new URL('https://career.enbek.kz/'), 'lang=; Domain=enbek.kz; Path=/; Max-Age=0');
  assert.equal(jar.header(new URL('http://career.enbek.kz/')), undefined);
});

test('flow substitution: encoded in URLs, raw in bodies, whole-URL variables kept, unknown ones reported', () => {
  const vars = new Map([['q', 'бухгалтер & co'], ['next', 'https://x.kz/a?b=1'], ['pw', 'p&ss']]);
  const s = substituteStep({ name: 's', url: 'https://x.kz/search?q={{q}}', form: { password: '{{pw}}' }, json: { a: ['{{ q }}'] } }, vars);
  assert.ok(!('missing' in s));
  if ('missing' in s) return;
  assert.equal(s.url, `https://x.kz/search?q=${encodeURIComponent('бухгалтер & co')}`);
  assert.deepEqual(s.form, { password: 'p&ss' });
  assert.deepEqual(s.json, { a: ['бухгалтер & co'] });
  const whole = substituteStep({ name: 's', url: '{{next}}&c=2' }, vars);
  assert.deepEqual('url' in whole && whole.url, 'https://x.kz/a?b=1&c=2');
  assert.deepEqual(substituteStep({ name: 's', url: 'https://x.kz/{{nope}}' }, vars), { missing: 'nope' });
});
