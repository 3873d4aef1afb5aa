import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { DURATION_RE } from '../../../src/clock.ts';
import { REQUESTS_CONFIG_SCHEMA, REQUESTS_DEFAULTS, resolveRequestsConfig } from '../../../src/requests/config.ts';

describe('requests config schema', () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat('duration', DURATION_RE);
  const validate = ajv.compile(REQUESTS_CONFIG_SCHEMA);

  it('accepts the defaults and a partial section', () => {
    assert.equal(validate(REQUESTS_DEFAULTS), true, JSON.stringify(validate.errors));
    assert.equal(validate({ retention: '730d', rate_limit: { max: 10, window: '1h' } }), true);
    assert.equal(resolveRequestsConfig({ attachments: { max_files: 1 } }).attachments.max_bytes, REQUESTS_DEFAULTS.attachments.max_bytes);
  });

  it('refuses unknown keys, bad durations, fractions and types', () => {
    assert.equal(validate({ retention: 'three years' }), false);
    assert.equal(validate({ warn_fractions: [1.5] }), false);
    assert.equal(validate({ attachments: { types: ['exe'] } }), false);
    assert.equal(validate({ calendar_day_mode: 'sometimes' }), false);
    assert.equal(validate({ surprise: true }), false);
    assert.equal(validate({ systems: [{ id: 'Bad Id', form: 'enbek', name_ru: 'x', name_kk: 'y' }] }), false);
  });
});
