import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SYSTEMS } from '../../../src/requests/config.ts';
import { validateIntake, type RawIntake } from '../../../src/requests/forms.ts';
import { fieldMessage } from '../../../src/requests/messages.ts';

const errs = (raw: RawIntake, channel: 'web' | 'api' | 'specialist' = 'web') => {
  const v = validateIntake(raw, DEFAULT_SYSTEMS, channel);
  return v.ok ? [] : v.errors.map((e) => `${e.field}:${e.problem}`);
};

const NQS = { system: 'nqs', full_name: 'Асқар Бекұлы', iin: '850115300011', login: 'askar85', phone: '+77011234567', email: 'a@b.kz', subject: 's', body: 'b' };

describe('intake validation per form', () => {
  it('requires what each form requires', () => {
    assert.deepEqual(errs({ system: 'enbek' }), ['contact:required', 'email:required', 'subject:required', 'body:required']);
    assert.deepEqual(errs({ system: 'e-sobes' }), ['contact:required', 'email:required', 'subject:required', 'body:required']);
    assert.deepEqual(errs({ system: 'nqs' }), ['full_name:required', 'iin:required', 'login:required', 'phone:required', 'email:required', 'subject:required', 'body:required']);
    assert.deepEqual(errs({ system: 'e-sobes', contact: 'c', email: 'a@b.kz', subject: 's', body: 'b' }, 'specialist'),
      ['full_name:required', 'position:required', 'login:required', 'phone:required'], '002 §9 when filed by a specialist');
    assert.deepEqual(errs({ kind: 'access', system: 'e-sobes' }), ['full_name:required', 'iin:required', 'position:required', 'phone:required',
      'email:required', 'access_action:required', 'access_systems:required', 'access_functions:required', 'access_basis:required']);
    assert.deepEqual(errs({}), ['system:required']);
    assert.deepEqual(errs(NQS), []);
  });

  it('takes an access request system from its list of systems', () => {
    const v = validateIntake({
      kind: 'access', full_name: 'Иванов Иван', iin: '850115300011', position: 'специалист', phone: '+77172556677', email: 'i@gov.kz',
      access: { action: 'grant', systems: 'labour-market, e-sobes', functions: 'просмотр', basis: 'приказ № 12' },
    }, DEFAULT_SYSTEMS, 'api');
    assert.ok(v.ok, JSON.stringify(!v.ok && v.errors));
    assert.equal(v.value.system, 'labour-market');
    assert.deepEqual(v.value.access, { action: 'grant', systems: ['labour-market', 'e-sobes'], functions: 'просмотр', basis: 'приказ № 12' });
    assert.equal(v.value.subject, 'grant: labour-market, e-sobes');
    assert.deepEqual(errs({ kind: 'access', access: { action: 'delete', systems: ['nope'] } }, 'api').slice(0, 3),
      ['system:unknown_system', 'access_action:invalid_choice', 'access_systems:unknown_system']);
  });

  it('names the IIN problem precisely', () => {
    assert.deepEqual(errs({ ...NQS, iin: '850115300012' }), ['iin:iin_checksum']);
    assert.deepEqual(errs({ ...NQS, iin: '851315300011' }), ['iin:iin_date']);
    assert.deepEqual(errs({ ...NQS, iin: '85011530001' }), ['iin:iin_format']);
    assert.deepEqual(errs({ ...NQS, iin: 850115300011 }), ['iin:iin_format'], 'a number is never coerced');
  });

  it('refuses unknown systems, bad choices, control characters, long texts and fields the form does not ask for', () => {
    assert.deepEqual(errs({ ...NQS, system: 'nope' }), ['system:unknown_system']);
    assert.deepEqual(errs({ ...NQS, lang: 'en' }), ['lang:invalid_choice']);
    assert.deepEqual(errs({ ...NQS, kind: 'complaint' }), ['kind:invalid_choice']);
    assert.deepEqual(errs({ ...NQS, subject: 'a\u0000b' }), ['subject:invalid_text']);
    assert.deepEqual(errs({ ...NQS, subject: 'line\nbreak' }), ['subject:invalid_text']);
    assert.deepEqual(errs({ ...NQS, body: 'x'.repeat(5001) }), ['body:too_long']);
    assert.deepEqual(errs({ ...NQS, body: { html: 1 } }), ['body:invalid_text']);
    assert.deepEqual(errs({ ...NQS, phone: '+7 916 123 45 67' }), ['phone:phone']);
    assert.deepEqual(errs({ ...NQS, email: 'nope' }), ['email:email']);
    assert.deepEqual(errs({ system: 'enbek', contact: 'c', email: 'a@b.kz', subject: 's', body: 'b', iin: '850115300011' }), ['iin:not_allowed']);
    assert.deepEqual(errs({ ...NQS, access: { action: 'grant' } }), ['access_action:not_allowed']);
  });

  it('keeps HTML as text and normalizes line ends', () => {
    const v = validateIntake({ ...NQS, body: '<script>alert(1)</script>\r\nok' }, DEFAULT_SYSTEMS, 'web');
    assert.ok(v.ok);
    assert.equal(v.value.body, '<script>alert(1)</script>\nok');
  });

  it('words errors in the user language', () => {
    assert.equal(fieldMessage({ field: 'iin', problem: 'iin_checksum' }, 'ru'), 'ИИН: неверная контрольная цифра ИИН, проверьте номер');
    assert.equal(fieldMessage({ field: 'iin', problem: 'iin_checksum' }, 'kk'), 'ЖСН: ЖСН бақылау цифры қате, нөмірді тексеріңіз');
    const v = validateIntake({ system: 'nqs', lang: 'kk' }, DEFAULT_SYSTEMS, 'web');
    assert.ok(!v.ok && v.lang === 'kk');
  });
});
