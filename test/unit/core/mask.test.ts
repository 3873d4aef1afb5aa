import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { looksLikeIin, maskDeep, maskMetricsText, maskPersonal, redactAckTokens } from '../../../src/mask.ts';

// 850115300120 has a valid check digit; 850115300129 (used elsewhere in the tests) does not.
const IIN = '850115300120';

describe('the one masking function', () => {
  it('recognises an IIN whole, or grouped by spaces, dashes and dots when its check digit and date are right', () => {
    assert.ok(looksLikeIin(IIN));
    assert.ok(!looksLikeIin('850115300129'), 'wrong check digit');
    assert.ok(!looksLikeIin('851315300120'), 'month 13');
    for (const spelled of ['850115300120', '850115 300120', '8501-1530-0120', '850 115 300 120', '850115-300120', '850115.300120', '850115\u00a0300120']) {
      assert.equal(maskPersonal(`ИИН ${spelled}, ok`), 'ИИН 850115*****0, ok', spelled);
    }
    assert.equal(maskPersonal('a 1 850115300120 b'), 'a 1 850115*****0 b', 'a lone digit before it is not part of it');
    assert.equal(maskPersonal('x +7 701 123 45 67 850115 300120'), 'x +7 701 *** ** 67 850115*****0');
    assert.equal(maskPersonal('850115 300129'), '850115 300129', 'grouped digits without a valid check digit are not an IIN');
    assert.equal(maskPersonal('ip 192.168.100.200 and 2026-03-02 10:00'), 'ip 192.168.100.200 and 2026-03-02 10:00');
  });

  it('masks phones of the +7 plan in the usual spellings and e-mails with Cyrillic and Kazakh domains', () => {
    for (const p of ['+7 701 234 56 78', '8 (701) 234-56-78', '87012345678', '+77012345678', '8.701.234.56.78']) {
      assert.match(maskPersonal(`тел ${p}.`), /^тел (\+7|8) 701 \*\*\* \*\* 78\.$/, p);
    }
    assert.equal(maskPersonal('город +7 7172 55 66 77'), 'город +7 717 *** ** 77', 'a city number');
    assert.equal(maskPersonal('тел. (701) 234-56-78 или 701 234 56 78'), 'тел. 701 *** ** 78 или 701 *** ** 78', 'without the prefix, written with separators');
    assert.equal(maskPersonal('order 7012345678, 700 000 tenge'), 'order 7012345678, 700 000 tenge', 'a bare ten-digit number and amounts stay');
    assert.equal(maskPersonal('почта айгерим@почта.қаз, ok'), 'почта а***@***, ok');
    assert.equal(maskPersonal('mail Aigerim.N+x@Mail.KZ'), 'mail A***@***');
  });

  it('is idempotent, and leaves the secret of no acknowledge link', () => {
    const once = maskPersonal(`ИИН ${IIN}, 8 701 234 56 78, a@b.kz`);
    assert.equal(maskPersonal(once), once);
    const link = 'https://k.kz/api/v1/ack/12.34.abcdefghijkl.1767592800000.b40Xw3uCs4x9dtfTul8sVqh36-fWotWqARmuElDzk1U';
    assert.equal(redactAckTokens(`go ${link} now`), 'go https://k.kz/api/v1/ack/… now');
    assert.equal(maskPersonal(link), 'https://k.kz/api/v1/ack/…');
  });

  it('masks every string of a JSON value at any depth; dates become their JSON text, numbers stay', () => {
    let deep: unknown = { iin: IIN };
    for (let i = 0; i < 70; i++) deep = { x: [deep] };
    assert.ok(!JSON.stringify(maskDeep(deep)).includes(IIN));
    assert.deepEqual(maskDeep({ at: new Date('2026-03-02T04:00:00Z'), n: 850115300120, s: IIN }), { at: '2026-03-02T04:00:00.000Z', n: 850115300120, s: '850115*****0' });
  });

  it('masks label values in a metrics exposition, never names, help texts or sample values', () => {
    const text = `# HELP kuzet_x about ${IIN}\n# TYPE kuzet_x gauge\nkuzet_x{system="${IIN}",who="a\\"b@c.kz"} 850115300120\nkuzet_y 1\n`;
    assert.equal(maskMetricsText(text), `# HELP kuzet_x about ${IIN}\n# TYPE kuzet_x gauge\nkuzet_x{system="850115*****0",who="a\\"b***@***"} 850115300120\nkuzet_y 1\n`);
  });
});
