import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { schemaPlugins } from '../../../src/sections.ts';
import { configProblems } from '../../support/config.ts';
import { tmpTree } from '../../support/tmp.ts';

const probeFile = (body: string) => `probes:\n${body}`;

const problems = configProblems;

describe('configuration loading', () => {
  it('accepts the shipped configuration and fills defaults', () => {
    const cfg = loadConfig('config/kuzet.yaml', schemaPlugins, {});
    assert.equal(cfg.kuzet.server.port, 8080);
    assert.equal(cfg.kuzet.store.url, '');
    assert.equal(cfg.kuzet.incidents.reopen_window, '30m');
    assert.deepEqual({ ...cfg.kuzet.cluster }, { location: 'default', heartbeat: '5s', instance_id: '' });
    assert.ok(cfg.kuzet.systems.some((s) => s.id === 'integration-bus'));
    assert.ok(Object.isFrozen(cfg.kuzet.server), 'the loaded config is frozen');
  });

  // One case per rule, with the exact message it must print.
  const cases: Array<[string, Record<string, string>, NodeJS.ProcessEnv, string[]]> = [
    ['a bad duration', { 'kuzet.yaml': 'incidents:\n  reopen_window: fast\n' }, {}, ['kuzet.yaml:2:18: incidents.reopen_window: expected a duration like "30s", got "fast"']],
    ['a wrong type', { 'kuzet.yaml': 'server:\n  port: eighty\n' }, {}, ['kuzet.yaml:2:9: server.port: expected an integer, got "eighty"']],
    ['a number out of range', { 'kuzet.yaml': 'server:\n  port: 70000\n' }, {}, ['kuzet.yaml:2:9: server.port: expected a number <= 65535, got 70000']],
    ['an unknown field', { 'kuzet.yaml': 'server:\n  prot: 80\n' }, {}, ['kuzet.yaml:2:3: server.prot: unknown field (allowed: listen, port, public_url, body_limit_bytes, trust_proxy, body_timeout)']],
    ['a value outside an enum', { 'kuzet.yaml': 'log:\n  level: loud\n' }, {}, ['kuzet.yaml:2:10: log.level: expected one of "error", "warn", "info", "debug", got "loud"']],
    ['a missing required field', { 'kuzet.yaml': 'systems:\n  - id: enbek\n' }, {}, ['kuzet.yaml:2:5: systems[0]: missing required field "name"']],
    ['a YAML syntax error', { 'kuzet.yaml': 'server:\n  port: [80\n' }, {}, ['kuzet.yaml:3:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['a duplicate key', { 'kuzet.yaml': 'log:\n  level: info\n  level: debug\n' }, {}, ['kuzet.yaml:3:3: YAML: Map keys must be unique']],
    ['a literal secret', { 'kuzet.yaml': 'auth:\n  bootstrap_token: hunter2\n' }, {}, ['kuzet.yaml:2:20: auth.bootstrap_token: secrets are never written in YAML: use "${ENV_NAME}" or bootstrap_token_file']],
    ['a missing environment variable', { 'kuzet.yaml': 'store:\n  url: "${NO_SUCH_VAR}"\n' }, {}, ['kuzet.yaml:2:8: store.url: environment variable NO_SUCH_VAR is not set']],
    ['a missing secret file', { 'kuzet.yaml': 'auth:\n  bootstrap_token_file: nope.txt\n' }, {}, ['kuzet.yaml:2:25: auth.bootstrap_token_file: cannot read secret file: ENOENT']],
    ['a top level that is not a mapping', { 'kuzet.yaml': '- 1\n- 2\n' }, {}, ['kuzet.yaml:1:1: expected a mapping at the top level, got a list']],
    ['a bad backup schedule (a cross-check)', { 'kuzet.yaml': 'backups:\n  jobs:\n    - { name: db, kind: postgres, dir: /tmp/b, schedule: "99 * * * *", postgres: { host: 127.0.0.1, database: x } }\n' }, {}, [/^kuzet\.yaml:3:\d+: backups\.jobs\[0\]\.schedule: .+/.source]],
    ['an unknown escalation channel (a cross-check)', { 'kuzet.yaml': 'escalation:\n  policies:\n    - { name: p, steps: [{ after: 0m, notify: [{ channel: pager }] }] }\n' }, {}, [/^kuzet\.yaml:3:\d+: escalation\.policies\[0\]\.steps\[0\]\.notify\[0\]\.channel: unknown channel "pager"$/.source]],
    ['a bad cluster heartbeat', { 'kuzet.yaml': 'cluster:\n  heartbeat: often\n' }, {}, ['kuzet.yaml:2:14: cluster.heartbeat: expected a duration like "30s", got "often"']],
    ['a cluster location with a space', { 'kuzet.yaml': 'cluster:\n  location: "north west"\n' }, {}, [/^kuzet\.yaml:2:13: cluster\.location: .+/.source]],
    ['zero locations to confirm a probe', { 'kuzet.yaml': 'systems:\n  - { id: enbek, name: Exchange }\n', 'probes/a.yaml': probeFile('  - { name: home, kind: tcp, system: enbek, confirm: { failures: 1, locations: 0 }, tcp: { host: 127.0.0.1, port: 80 } }\n') }, {}, [/^probes\/a\.yaml:2:\d+: probes\[0\]\.confirm\.locations: expected a number >= 1, got 0$/.source]],
    ['a missing probes folder', { 'kuzet.yaml': 'probes_dir: nowhere\n' }, {}, [/^kuzet\.yaml:1:13: probes_dir: cannot read folder ".*nowhere": ENOENT$/.source]],
  ];
  for (const [name, files, env, want] of cases) {
    it(`reports ${name} with file:line:col`, () => {
      const got = problems(files, env);
      assert.equal(got.length, want.length, got.join('\n'));
      want.forEach((w, i) => (w.startsWith('^') ? assert.match(got[i]!, new RegExp(w)) : assert.equal(got[i], w)));
    });
  }

  it('reports problems in probe files with their own file name, and duplicate probe names', () => {
    const got = problems({
      'kuzet.yaml': 'systems:\n  - { id: enbek, name: Exchange }\nprobes_dir: probes\n',
      'probes/a.yaml': probeFile('  - { name: home, kind: tcp, system: enbek, tcp: { host: 127.0.0.1, port: 80 } }\n'),
      'probes/b.yaml': probeFile('  - { name: other, kind: tcp, system: enbek, interval: fast, tcp: { host: 127.0.0.1, port: 80 } }\n'),
      'probes/c.yaml': probeFile('  - { name: third, kind: tcp, system: enbek, tcp: { host: 127.0.0.1, port: 80 } }\n  - { name: home, kind: tcp, system: enbek, tcp: { host: 127.0.0.1, port: 80 } }\n'),
    });
    assert.equal(got.length, 2, got.join('\n'));
    assert.match(got[0]!, /probes\/b\.yaml:2:\d+: probes\[0\]\.interval: expected a duration like "30s", got "fast"/);
    assert.match(got[1]!, /probes\/c\.yaml:3:\d+: probes\[1\]\.name: probe "home" is already defined in .*probes\/a\.yaml/);
  });

  it('resolves ${ENV}, ${ENV:-default} and *_file secrets', () => {
    const t = tmpTree({
      'kuzet.yaml': 'probes_dir: probes\nstore:\n  url: "${DB_URL}"\nserver:\n  public_url: "http://${HOST:-localhost}:8080"\nauth:\n  bootstrap_token_file: secret.txt\n',
      'secret.txt': 's3cret-token-of-thirty-two-characters\n',
      'probes/.keep': '',
    });
    try {
      const cfg = loadConfig(t.path('kuzet.yaml'), schemaPlugins, { DB_URL: 'postgres://u:p@127.0.0.1/k' });
      assert.equal(cfg.kuzet.store.url, 'postgres://u:p@127.0.0.1/k');
      assert.equal(cfg.kuzet.server.public_url, 'http://localhost:8080');
      assert.equal(cfg.kuzet.auth.bootstrap_token, 's3cret-token-of-thirty-two-characters');
    } finally {
      t.cleanup();
    }
  });

  it('collects every problem, not just the first', () => {
    const got = problems({ 'kuzet.yaml': 'server:\n  port: x\nlog:\n  level: y\n' });
    assert.equal(got.length, 2);
  });
});
