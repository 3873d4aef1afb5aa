import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { requestSystems } from '../../../src/requests/config.ts';
import { schemaPlugins } from '../../../src/sections.ts';
import { configProblems } from '../../support/config.ts';
import { tmpTree } from '../../support/tmp.ts';

// One catalogue of systems: every id named anywhere must be one of `systems:`, reported at file:line:col.

const SYSTEMS = 'systems:\n  - { id: enbek, name: Exchange, form: enbek }\n  - { id: payments-db, name: Payments DB }\n';

const problems = configProblems;

describe('one catalogue of systems', () => {
  it('accepts ids of the catalogue everywhere', () => {
    assert.deepEqual(problems({
      'kuzet.yaml': `${SYSTEMS}logs:\n  files:\n    - { name: pg, paths: [/var/log/x.log], system: payments-db }\n`,
      'probes/a.yaml': 'probes:\n  - { name: p1, kind: tcp, system: enbek, tcp: { host: 127.0.0.1, port: 1 } }\n',
    }), []);
  });

  const cases: Array<[string, Record<string, string>, string]> = [
    ['a log file', { 'kuzet.yaml': `${SYSTEMS}logs:\n  files:\n    - { name: pg, paths: [/var/log/x.log], system: pension-payments-db }\n` },
      'kuzet.yaml:6:52: logs.files[0].system: unknown system "pension-payments-db" (not in systems:; did you mean "payments-db"?)'],
    ['a dependency', { 'kuzet.yaml': 'systems:\n  - { id: enbek, name: Exchange, depends_on: [bus] }\n' },
      'kuzet.yaml:2:47: systems[0].depends_on[0]: unknown system "bus" (not in systems:)'],
    ['a policy', { 'kuzet.yaml': `${SYSTEMS}escalation:\n  policies:\n    - { name: p, match: { systems: [nqs] }, steps: [{ after: 0m, notify: [{ channel: hook }] }] }\n  channels:\n    hook: { type: webhook, url: "http://127.0.0.1:1/x", secret: "\${S}" }\n` },
      'kuzet.yaml:6:37: escalation.policies[0].match.systems[0]: unknown system "nqs" (not in systems:)'],
    ['a backup job', { 'kuzet.yaml': `${SYSTEMS}backups:\n  jobs:\n    - { name: j, system: enbek-db, kind: folder, schedule: "0 2 * * *", dir: /srv/b, folder: { path: /srv/a } }\n` },
      'kuzet.yaml:6:26: backups.jobs[0].system: unknown system "enbek-db" (not in systems:; did you mean "enbek"?)'],
    ['a SOC source', { 'kuzet.yaml': `${SYSTEMS}intake:\n  soc:\n    sources:\n      - { name: soc, system: siem, secret: "\${S}" }\n` },
      'kuzet.yaml:7:30: intake.soc.sources[0].system: unknown system "siem" (not in systems:)'],
    ['a probe', { 'kuzet.yaml': SYSTEMS, 'probes/a.yaml': 'probes:\n  - { name: p1, kind: tcp, system: labour-protection, tcp: { host: 127.0.0.1, port: 1 } }\n' },
      'probes/a.yaml:2:36: probes[0].system: unknown system "labour-protection" (not in systems:)'],
    ['a maintenance window', { 'kuzet.yaml': SYSTEMS, 'probes/m.yaml': 'maintenance:\n  - { name: w, cron: "0 2 * * 0", duration: 2h, systems: [enbek, sik-workstation] }\n' },
      'probes/m.yaml:2:66: maintenance[0].systems[1]: unknown system "sik-workstation" (not in systems:)'],
  ];
  for (const [what, files, expected] of cases) {
    it(`refuses an unknown system id in ${what}, with file:line:col`, () => {
      assert.deepEqual(problems(files, { S: 'x'.repeat(32) }), [expected]);
    });
  }

  it('refuses a critical report category that is not an RE2 pattern, before any report is filed', () => {
    const out = problems({ 'kuzet.yaml': `${SYSTEMS}requests:\n  user_reports:\n    critical_categories:\n      - { name: down, pattern: "(a" }\n` });
    assert.equal(out.length, 1, out.join('\n'));
    assert.match(out[0]!, /^kuzet\.yaml:7:\d+: requests\.user_reports\.critical_categories\[0\]\.pattern: not an RE2 pattern/);
  });

  it('refuses a person no channel can reach', () => {
    const out = problems({ 'kuzet.yaml': `${SYSTEMS}escalation:\n  people:\n    a: { name: A, slack: U1 }\n    b: { name: B, email: b@example.org, via: [mail] }\n  channels:\n    mail: { type: email, host: 127.0.0.1, from: k@example.org }\n` });
    assert.deepEqual(out, ['kuzet.yaml:6:8: escalation.people.a: no channel can reach this person: give an email, slack or telegram address that a configured channel serves']);
  });

  it('the shipped request forms offer exactly the catalogue systems that name a form', () => {
    const cfg = loadConfig('config/kuzet.yaml', schemaPlugins, {});
    const offered = requestSystems(cfg.kuzet.systems).map((s) => s.id);
    const probed = new Set(cfg.probeFiles.flatMap((f) => f.probes.map((p) => p.system as string)));
    assert.ok(offered.includes('sic-registration') && offered.includes('payments-db') && offered.includes('labour-safety'));
    for (const id of offered) assert.ok(cfg.kuzet.systems.some((s) => s.id === id));
    // Every system a user can report on is watched by at least one probe, so reports and incidents meet.
    for (const id of offered) assert.ok(probed.has(id), `no probe watches ${id}`);
    assert.ok(!offered.includes('kuzet'), 'kuzet itself is not offered to users');
  });
});

describe('derived values', () => {
  it('public_url follows the listen address and port when not set', () => {
    const t = tmpTree({ 'probes/.keep': '', 'kuzet.yaml': 'server:\n  port: "${KUZET_PORT:-8080}"\nprobes_dir: probes\n' });
    try {
      const cfg = loadConfig(t.path('kuzet.yaml'), schemaPlugins, { KUZET_PORT: '9191' });
      assert.equal(cfg.kuzet.server.public_url, 'http://127.0.0.1:9191');
      assert.equal((cfg.kuzet.escalation as { public_url?: string }).public_url, 'http://127.0.0.1:9191');
    } finally {
      t.cleanup();
    }
  });

  it('the shipped config follows KUZET_PORT and KUZET_PUBLIC_URL', () => {
    assert.equal(loadConfig('config/kuzet.yaml', schemaPlugins, { KUZET_PORT: '9292' }).kuzet.server.public_url, 'http://127.0.0.1:9292');
    assert.equal(loadConfig('config/kuzet.yaml', schemaPlugins, { KUZET_PUBLIC_URL: 'https://kuzet.example.org/' }).kuzet.server.public_url, 'https://kuzet.example.org');
  });
});
