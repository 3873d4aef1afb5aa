import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { escalationConfigProblems } from '../../../src/escalation/check.ts';
import { oncallNowCommand } from '../../../src/escalation/cli.ts';
import { escalationConfigSchema } from '../../../src/escalation/config.ts';
import { DURATION_RE } from '../../../src/clock.ts';
import { ladderConfig } from '../../integration/escalation/fixtures.ts';

function validator() {
  const ajv = new Ajv({ allErrors: true });
  addFormats.default(ajv);
  ajv.addFormat('duration', DURATION_RE);
  return ajv.compile(escalationConfigSchema);
}

describe('escalation config', () => {
  it('the schema accepts the example and rejects a step with two targets, a bad duration and an unknown key', () => {
    const v = validator();
    assert.equal(v(ladderConfig()), true, JSON.stringify(v.errors));
    const bad = ladderConfig();
    bad.policies![0]!.steps[0]!.notify[0] = { rotation: 'primary', person: 'alice' };
    bad.policies![0]!.steps[1]!.after = 'soon';
    (bad as unknown as Record<string, unknown>).colour = 'red';
    assert.equal(v(bad), false);
    const paths = v.errors!.map((e) => `${e.instancePath} ${e.message}`);
    assert.ok(paths.some((p) => p.startsWith('/policies/0/steps/0/notify/0 must match exactly one schema')), paths.join('\n'));
    assert.ok(paths.some((p) => p.startsWith('/policies/0/steps/1/after must match format "duration"')), paths.join('\n'));
    assert.ok(paths.some((p) => p === ' must NOT have additional properties'), paths.join('\n'));
  });

  it('outbox.check_interval and outbox.max_check_interval are durations', () => {
    const v = validator();
    assert.equal(v(ladderConfig({ outbox: { check_interval: '30s', max_check_interval: '5m' } })), true, JSON.stringify(v.errors));
    assert.equal(v(ladderConfig({ outbox: { check_interval: 'often', max_check_interval: '5m' } })), false);
    assert.deepEqual(v.errors!.map((e) => `${e.instancePath} ${e.message}`), ['/outbox/check_interval must match format "duration"']);
    const problems = (outbox: Record<string, string>) => escalationConfigProblems(ladderConfig({ outbox })).map((p) => `${p.path.join('.')}: ${p.message}`);
    assert.deepEqual(problems({ check_interval: '30s', max_check_interval: '5m' }), []);
    assert.deepEqual(problems({ check_interval: '0s' }), ['escalation.outbox.check_interval: must be at least 1s, got "0s"']);
    assert.deepEqual(problems({ check_interval: '10m', max_check_interval: '1m' }), ['escalation.outbox.max_check_interval: must not be shorter than check_interval (10m), got "1m"']);
    assert.deepEqual(problems({ max_check_interval: '10s' }), ['escalation.outbox.max_check_interval: must not be shorter than check_interval (30s), got "10s"']);
  });

  it('cross references are checked with the path of the offending node', () => {
    assert.deepEqual(escalationConfigProblems(ladderConfig()), []);
    const cfg = ladderConfig();
    cfg.policies![0]!.steps[1]!.notify = [{ rotation: 'secondary' }, { person: 'dave', via: ['pager'] }];
    cfg.rotations!.primary!.time_zone = 'Mars/Olympus';
    cfg.channels!.email!.fallback = 'sms';
    cfg.inhibit = [{ cause: { system: '~(' }, suppress: { depends_on: 'x' } }];
    assert.deepEqual(escalationConfigProblems(cfg).map((p) => `${p.path.join('.')}: ${p.message}`), [
      'escalation.policies.0.steps.1.notify.0.rotation: unknown rotation "secondary"',
      'escalation.policies.0.steps.1.notify.1.person: unknown person "dave"',
      'escalation.policies.0.steps.1.notify.1.via.0: unknown channel "pager"',
      'escalation.rotations.primary.time_zone: unknown time zone "Mars/Olympus"',
      'escalation.channels.email.fallback: unknown channel "sms"',
      'escalation.inhibit.0.cause.system: invalid regular expression "("',
    ]);
  });

  it('`kuzet oncall now` prints who is on call and until when, in Almaty time', () => {
    const cfg = ladderConfig();
    const t = Date.parse('2026-01-05T10:00:00Z');
    assert.deepEqual(oncallNowCommand(cfg, t), { text: 'primary: Alice (layer main, until 2026-01-06 09:00:00 +05:00 Asia/Almaty)', code: 0 });
    assert.equal(oncallNowCommand(cfg, t, { at: '2026-01-06T04:00:00Z' }).text, 'primary: Bob (layer main, until 2026-01-07 09:00:00 +05:00 Asia/Almaty)');
    assert.equal(oncallNowCommand(cfg, t, { rotation: 'nope' }).code, 2);
    assert.equal(oncallNowCommand(cfg, t, { at: 'tomorrow' }).code, 2);
    assert.equal(JSON.parse(oncallNowCommand(cfg, t, { json: true }).text)[0].person, 'alice');
  });
});

describe('escalation config in the loader', () => {
  it('an absent section (the loader fills in {}) is valid and pages nobody; ajv with only "duration" compiles it', () => {
    const warnings: unknown[] = [];
    const ajv = new Ajv({ strict: false, allErrors: true, logger: { log() {}, warn: (m: unknown) => warnings.push(m), error: (m: unknown) => warnings.push(m) } });
    ajv.addFormat('duration', DURATION_RE);
    const v = ajv.compile(escalationConfigSchema);
    assert.deepEqual(warnings, [], 'no unknown formats');
    assert.equal(v({}), true);
    assert.equal(v({ silences: [{ matchers: { system: 'x' }, ends_at: 'tomorrow', author: 'a', reason: 'r' }] }), false);
    assert.deepEqual(escalationConfigProblems({}), []);
  });
});
