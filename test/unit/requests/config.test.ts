import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { DURATION_RE } from '../../../src/clock.ts';
import { REQUESTS_CONFIG_SCHEMA, REQUESTS_DEFAULTS, requestSystems, resolveRequestsConfig } from '../../../src/requests/config.ts';

describe('requests config schema', () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat('duration', DURATION_RE);
  const validate = ajv.compile(REQUESTS_CONFIG_SCHEMA);

  it('accepts the defaults and a partial section', () => {
    const { systems: _built, ...section } = REQUESTS_DEFAULTS;
    assert.equal(validate(section), true, JSON.stringify(validate.errors));
    assert.equal(validate({ retention: '730d', rate_limit: { max: 10, window: '1h' } }), true);
    assert.equal(resolveRequestsConfig({ attachments: { max_files: 1 } }).attachments.max_bytes, REQUESTS_DEFAULTS.attachments.max_bytes);
  });

  it('refuses unknown keys, bad durations, fractions and types', () => {
    assert.equal(validate({ retention: 'three years' }), false);
    assert.equal(validate({ warn_fractions: [1.5] }), false);
    assert.equal(validate({ attachments: { types: ['exe'] } }), false);
    assert.equal(validate({ calendar_day_mode: 'sometimes' }), false);
    assert.equal(validate({ surprise: true }), false);
    // The systems come from the one catalogue (`systems:`), never from a list of the requests section's own.
    assert.equal(validate({ systems: [{ id: 'enbek', form: 'enbek', name_ru: 'x', name_kk: 'y' }] }), false);
  });

  it('offers the catalogue systems that name a form, with names falling back to name', () => {
    const catalogue = [
      { id: 'enbek', name: 'Exchange', name_ru: 'Биржа', name_kk: 'Биржасы', form: 'enbek' as const },
      { id: 'kuzet', name: 'kuzet itself' },
      { id: 'payments-db', name: 'Payments DB', form: 'ministry' as const },
    ];
    assert.deepEqual(requestSystems(catalogue), [
      { id: 'enbek', form: 'enbek', name_ru: 'Биржа', name_kk: 'Биржасы' },
      { id: 'payments-db', form: 'ministry', name_ru: 'Payments DB', name_kk: 'Payments DB' },
    ]);
    assert.deepEqual(resolveRequestsConfig({}, catalogue).systems.map((s) => s.id), ['enbek', 'payments-db']);
  });
});
