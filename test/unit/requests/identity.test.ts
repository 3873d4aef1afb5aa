import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkBin, checkDigit, checkIin, maskEmail, maskIin, maskPhone, normalizeEmail, normalizeKzPhone,
} from '../../../src/requests/identity.ts';

// Check digits worked by hand: s = Σ dᵢ·i mod 11, second pass with weights 3,4,5,6,7,8,9,10,11,1,2.

describe('IIN', () => {
  it('accepts a valid IIN and reads its birth date and sex', () => {
    // 8·1+5·2+0·3+1·4+1·5+5·6+3·7+0+0+0+1·11 = 89 ≡ 1
    assert.deepEqual(checkIin('850115300011'), { ok: true, birthDate: '1985-01-15', sex: 'male' });
    // 2005, century-and-sex 5; leading zero kept: 0+10+0+4+5+30+35+0+0+0+11 = 95 ≡ 7
    assert.deepEqual(checkIin('050115500017'), { ok: true, birthDate: '2005-01-15', sex: 'male' });
  });

  it('uses the second weights when the first sum is 10', () => {
    // first pass: 8+10+0+4+5+30+21+0+0+20+0 = 98 ≡ 10; second: 24+20+0+6+7+40+27+0+0+2+0 = 126 ≡ 5
    assert.equal(checkDigit('85011530020'), 5);
    assert.equal(checkIin('850115300205').ok, true);
    assert.deepEqual(checkIin('850115300200'), { ok: false, problem: 'checksum' }, 'the first-pass 10 is never the digit');
  });

  it('refuses a number whose both passes give 10', () => {
    // 186 ≡ 10 and 142 ≡ 10
    assert.equal(checkDigit('85011530028'), undefined);
    for (let d = 0; d <= 9; d++) assert.equal(checkIin(`85011530028${d}`).ok, false);
  });

  it('refuses a wrong check digit, an impossible date, a bad century digit, zeros and non-digits', () => {
    assert.deepEqual(checkIin('850115300012'), { ok: false, problem: 'checksum' });
    assert.deepEqual(checkIin('851315300011'), { ok: false, problem: 'date' });
    assert.deepEqual(checkIin('850230300011'), { ok: false, problem: 'date' });
    assert.deepEqual(checkIin('010229500011'), { ok: false, problem: 'date' }, '2001 is not a leap year');
    assert.deepEqual(checkIin('000000000000'), { ok: false, problem: 'century' });
    assert.deepEqual(checkIin('850115700011'), { ok: false, problem: 'century' });
    for (const bad of ['85011530001', '8501153000111', '85011530001a', ' 850115300011', '８５０１１５３０００１１']) {
      assert.deepEqual(checkIin(bad), { ok: false, problem: 'format' }, bad);
    }
    assert.deepEqual(checkIin(850115300011 as unknown as string), { ok: false, problem: 'format' });
  });

  it('masks as 850115*****1', () => {
    assert.equal(maskIin('850115300011'), '850115*****1');
  });
});

describe('BIN', () => {
  it('accepts a valid BIN and refuses bad ones', () => {
    // 0+18+0+16+20+0+0+0+0+10+22 = 86 ≡ 9
    assert.deepEqual(checkBin('090440000129'), { ok: true, registered: '09-04' });
    assert.deepEqual(checkBin('090440000128'), { ok: false, problem: 'checksum' });
    assert.deepEqual(checkBin('091340000129'), { ok: false, problem: 'date' });
    assert.deepEqual(checkBin('090470000129'), { ok: false, problem: 'entity' });
    assert.deepEqual(checkBin('090410000129'), { ok: false, problem: 'entity' });
    assert.deepEqual(checkBin('0904400001'), { ok: false, problem: 'format' });
  });
});

describe('phone', () => {
  it('normalizes Kazakhstan numbers in the usual spellings', () => {
    for (const v of ['+7 701 123 45 67', '+7(701)123-45-67', '87011234567', '8 (701) 123-45-67', '77011234567', ' +77011234567 ']) {
      assert.equal(normalizeKzPhone(v), '+77011234567', v);
    }
    assert.equal(normalizeKzPhone('+7 7172 55 66 77'), '+77172556677', 'Astana landline');
  });

  it('refuses Russian, foreign, short, long and lettered numbers', () => {
    for (const v of ['+7 916 123 45 67', '89161234567', '+996 555 123 456', '+7 701 123 45 6', '+7 701 123 45 678', '7011234567',
      '+7 701 ABC 45 67', '+8 701 123 45 67', '', '1'.repeat(40)]) {
      assert.equal(normalizeKzPhone(v), undefined, v);
    }
  });

  it('masks the middle', () => {
    assert.equal(maskPhone('8 (701) 123-45-67'), '+7 701 *** ** 67');
  });
});

describe('e-mail', () => {
  it('accepts ordinary and Kazakh-domain addresses, lower-casing the domain', () => {
    assert.equal(normalizeEmail('User.Name+tag@Enbek.KZ'), 'User.Name+tag@enbek.kz');
    assert.equal(normalizeEmail('a@mail.қаз'), 'a@mail.қаз');
    assert.equal(normalizeEmail('a@xn--80ao21a.xn--80ao21a'), 'a@xn--80ao21a.xn--80ao21a');
  });

  it('refuses malformed addresses', () => {
    for (const v of ['', 'plain', '@enbek.kz', 'a@', 'a@b', 'a@@b.kz', 'a b@enbek.kz', 'a@enbek..kz', '.a@enbek.kz', 'a..b@enbek.kz',
      'a@-enbek.kz', 'a@enbek.k', 'a@enbek.123', `${'x'.repeat(65)}@enbek.kz`, `a@${'x'.repeat(250)}.kz`, '<script>@x.kz']) {
      assert.equal(normalizeEmail(v), undefined, JSON.stringify(v));
    }
    assert.equal(normalizeEmail(' a@b.kz\n'), 'a@b.kz', 'surrounding white space is trimmed');
    assert.equal(maskEmail('user@enbek.kz'), 'u***@***');
  });
});
