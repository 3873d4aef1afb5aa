import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, maskPersonal } from '../../../src/log.ts';

describe('personal data masking in logs', () => {
  it('masks e-mail addresses, Kazakhstan phone numbers and IINs', () => {
    assert.equal(maskPersonal('user aigerim.n@mail.kz filed it'), 'user a***@*** filed it');
    assert.equal(maskPersonal('IIN 850115300129 rejected'), 'IIN 850115*****9 rejected');
    assert.equal(maskPersonal('call +7 701 234 56 78 now'), 'call +7 701 *** ** 78 now');
    assert.equal(maskPersonal('call 87012345678'), 'call 8 701 *** ** 78');
    assert.equal(maskPersonal('incident 1234 at 09:00, 3 users'), 'incident 1234 at 09:00, 3 users', 'ordinary numbers stay');
  });

  it('masks every string of a JSON log line, metadata included', () => {
    let out = '';
    const stream = new Writable({ write(chunk, _enc, cb) { out += chunk.toString(); cb(); } });
    const log = createLogger({ stream });
    log.info('request from aigerim@mail.kz', { iin: '850115300129', nested: { phone: '+77012345678', list: ['x@y.kz'] } });
    const line = JSON.parse(out.trim()) as Record<string, unknown>;
    assert.equal(line.message, 'request from a***@***');
    assert.equal(line.iin, '850115*****9');
    assert.deepEqual(line.nested, { phone: '+7 701 *** ** 78', list: ['x***@***'] });
    assert.ok(!out.includes('850115300129') && !out.includes('aigerim@') && !out.includes('2345678'));
  });
});
