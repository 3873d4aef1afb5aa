import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signKuzet, signStandard, verifySignature } from '../../../src/sources/webhooks/signature.ts';

const now = Date.parse('2026-03-02T04:00:00Z');
const ts = now / 1000;
const body = Buffer.from('{"id":"1"}');

describe('webhook signatures', () => {
  it('verifies the kuzet scheme and refuses tampering, staleness and the future', () => {
    assert.deepEqual(verifySignature(signKuzet('s3cret', body, ts), body, 's3cret', now, 300_000), { ok: true, scheme: 'kuzet', deliveryId: null });
    assert.equal(verifySignature(signKuzet('s3cret', body, ts), Buffer.from('{"id":"2"}'), 's3cret', now, 300_000).ok, false);
    assert.match((verifySignature(signKuzet('s3cret', body, ts - 301), body, 's3cret', now, 300_000) as { reason: string }).reason, /301 s old/);
    assert.match((verifySignature(signKuzet('s3cret', body, ts + 301), body, 's3cret', now, 300_000) as { reason: string }).reason, /future/);
    assert.match((verifySignature({ 'x-kuzet-signature': 'md5=abc', 'x-kuzet-timestamp': String(ts) }, body, 's3cret', now, 300_000) as { reason: string }).reason, /expected "sha256=/);
  });

  it('verifies Standard Webhooks with a whsec_ secret, any one of several signatures', () => {
    const secret = 'whsec_' + Buffer.from('0123456789abcdef0123').toString('base64');
    const h = signStandard(secret, 'msg_1', body, ts);
    assert.deepEqual(verifySignature(h, body, secret, now, 300_000), { ok: true, scheme: 'standard', deliveryId: 'msg_1' });
    const several = { ...h, 'webhook-signature': `v1,AAAA ${h['webhook-signature']} v2,zzz` };
    assert.equal(verifySignature(several, body, secret, now, 300_000).ok, true);
    assert.equal(verifySignature({ ...h, 'webhook-id': 'msg_2' }, body, secret, now, 300_000).ok, false, 'the id is signed');
    assert.equal(verifySignature(h, body, 'whsec_' + Buffer.from('other').toString('base64'), now, 300_000).ok, false);
  });
});
