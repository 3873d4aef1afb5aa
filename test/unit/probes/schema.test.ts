import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { loadProbeDir } from '../../../src/sources/probes/files.ts';
import { probeSetProblems, resolveProbe, schemaProblems } from '../../../src/sources/probes/validate.ts';
import type { ProbeDefinition, ProbeFile } from '../../../src/sources/probes/types.ts';

// The probe file schema and the checks past it: one case per rule, with the exact path and message.

const http = (over: Record<string, unknown> = {}) => ({ name: 'enbek-home-ru', kind: 'http', system: 'enbek', http: { url: 'https://www.enbek.kz/ru' }, ...over });
const problems = (data: unknown) => schemaProblems('t.yaml', data).map((p) => `${p.path}: ${p.message}`);

describe('probe file schema', () => {
  test('a minimal probe of every kind validates', () => {
    const file = {
      probes: [
        http(),
        { name: 'f', kind: 'flow', system: 's', flow: { steps: [{ name: 'a', url: 'https://x.kz/' }, { name: 'b', url: '{{next}}' }] } },
        { name: 't', kind: 'tcp', system: 's', tcp: { host: 'h', port: 5432 } },
        { name: 'd', kind: 'dns', system: 's', dns: { name: 'enbek.kz', type: 'A', expect: ['1.2.3.4'] } },
        { name: 'c', kind: 'tls', system: 's', tls: { host: 'enbek.kz', warn_days: 21, critical_days: 7 } },
        { name: 'p', kind: 'postgres', system: 's', postgres: { url: 'postgres://u@h/db', password: 'x' } },
        { name: 'q', kind: 'sql', system: 's', sql: { url: 'postgres://u@h/db', query: 'SELECT 1 AS n', expect: [{ column: 'n', op: '==', value: 1 }] } },
        { name: 'h', kind: 'host', system: 's', host: { cpu_percent: 90, for: '5m' } },
        { name: 'b', kind: 'heartbeat', system: 's', heartbeat: { period: '1h', grace: '10m', token: 'a-long-enough-token' } },
      ],
      maintenance: [
        { name: 'once', start: '2026-02-01T22:00:00+05:00', end: '2026-02-02T01:00:00+05:00' },
        { name: 'weekly', cron: '0 2 * * 0', timezone: 'Asia/Almaty', duration: '2h', systems: ['s'] },
      ],
    };
    assert.deepEqual(problems(file), []);
  });

  const cases: [string, unknown, string][] = [
    ['unknown top-level key', { probe: [] }, '/: unknown field "probe"'],
    ['unknown probe field', { probes: [http({ intervall: '30s' })] }, '/probes/0: unknown field "intervall"'],
    ['bad duration', { probes: [http({ interval: 'thirty seconds' })] }, '/probes/0/interval: must match format "duration"'],
    ['bad kind', { probes: [http({ kind: 'ping' })] }, '/probes/0/kind: must be one of http, flow, tcp, dns, tls, postgres, sql, host, heartbeat'],
    ['kind block missing', { probes: [{ name: 'x', kind: 'tcp', system: 's' }] }, "/probes/0: must have required property 'tcp'"],
    ['block of another kind', { probes: [http({ tcp: { host: 'h', port: 1 } })] }, '/probes/0: has a block for another kind, or fields that exclude each other'],
    ['bad url scheme', { probes: [http({ http: { url: 'ftp://x' } })] }, '/probes/0/http/url: must match pattern "^https?://"'],
    ['bad status', { probes: [http({ http: { url: 'https://x', expect_status: [999] } })] }, '/probes/0/http/expect_status/0: must be <= 599'],
    ['bad name', { probes: [http({ name: 'Enbek Home' })] }, '/probes/0/name: must match pattern "^[a-z0-9][a-z0-9._-]{0,126}$"'],
    ['window with cron and end', { maintenance: [{ name: 'w', cron: '0 2 * * 0', duration: '1h', end: '2026-01-01T00:00:00Z' }] }, "/maintenance/0: must have required property 'start'"],
  ];
  for (const [what, data, expected] of cases) {
    test(`rejects: ${what}`, () => assert.ok(problems(data).includes(expected), `${expected}\n  not in\n${problems(data).join('\n')}`));
  }
});

describe('checks past the schema', () => {
  const check = (files: ProbeFile[]) => probeSetProblems(files.map((data, i) => ({ file: `f${i}.yaml`, data }))).map((p) => `${p.file}${p.path}: ${p.message}`);
  const def = (over: Partial<ProbeDefinition> = {}) => ({ ...http(), ...over }) as ProbeDefinition;

  test('duplicate names across files', () => {
    assert.deepEqual(check([{ probes: [def()] }, { probes: [def()] }]), ['f1.yaml/probes/0/name: probe "enbek-home-ru" is already defined in f0.yaml']);
  });
  test('timeout longer than the interval; interval under 1s; of < failures', () => {
    assert.deepEqual(check([{ probes: [def({ interval: '10s', timeout: '30s' })] }]), ['f0.yaml/probes/0/timeout: timeout 30s is longer than the interval 10s']);
    assert.deepEqual(check([{ probes: [def({ interval: '500ms', timeout: '100ms' })] }]), ['f0.yaml/probes/0/interval: must be at least 1s']);
    assert.deepEqual(check([{ probes: [def({ interval: '30s', timeout: '10s', retries: 3 })] }]), ['f0.yaml/probes/0/retries: 4 attempts of up to 10s do not fit in the interval 30s']);
    assert.deepEqual(check([{ probes: [def({ confirm: { failures: 3, of: 2 } })] }]), ['f0.yaml/probes/0/confirm/of: must be at least failures (3)']);
  });
  test('an invalid regular expression, and one RE2 does not support', () => {
    const out = check([{ probes: [def({ kind: 'http', http: { url: 'https://x', assertions: [{ regex: '(unclosed' }, { regex: '(?=lookahead)' }] } } as Partial<ProbeDefinition>)] }]);
    assert.equal(out.length, 2);
    assert.match(out[0]!, /^f0\.yaml\/probes\/0\/http\/assertions\/0\/regex: invalid regular expression/);
    assert.match(out[1]!, /^f0\.yaml\/probes\/0\/http\/assertions\/1\/regex: invalid regular expression/);
  });
  test('an enabled heartbeat needs a token of 16 characters or more; a disabled one may wait', () => {
    const hb = (enabled: boolean) => ({ name: 'b', kind: 'heartbeat', system: 's', enabled, heartbeat: { period: '1h', token: '' } }) as ProbeDefinition;
    assert.deepEqual(check([{ probes: [hb(true)] }]), ['f0.yaml/probes/0/heartbeat/token: must be at least 16 characters (set it from the environment)']);
    assert.deepEqual(check([{ probes: [hb(false)] }]), []);
  });
  test('a password in a database URL', () => {
    const out = check([{ probes: [{ name: 'p', kind: 'postgres', system: 's', postgres: { url: 'postgres://u:hunter2@h/db' } }] }]);
    assert.deepEqual(out, ['f0.yaml/probes/0/postgres/url: put the password in the `password` field (from the environment), not in the URL']);
  });
  test('maintenance: bad cron, unknown zone, end before start', () => {
    const out = check([{ maintenance: [
      { name: 'a', cron: '61 * * * *', duration: '1h' },
      { name: 'b', cron: '0 2 * * 0', duration: '1h', timezone: 'Asia/Nowhere' },
      { name: 'c', start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' },
    ] }]);
    assert.equal(out.length, 3);
    assert.match(out[0]!, /^f0\.yaml\/maintenance\/0\/cron: invalid cron expression/);
    assert.equal(out[1], 'f0.yaml/maintenance/1/timezone: unknown time zone "Asia/Nowhere"');
    assert.equal(out[2], 'f0.yaml/maintenance/2/end: must be after start');
  });
  test('problems carry their path as segments for the loader', () => {
    const [p] = probeSetProblems([{ file: 'f.yaml', data: { probes: [def({ interval: '10s', timeout: '30s' })] } }]);
    assert.deepEqual(p!.segments, ['probes', 0, 'timeout']);
    const [s] = schemaProblems('f.yaml', { maintenance: [{ name: 'w', start: '2026-01-01 00:00', end: '2026-01-02T00:00:00Z' }] });
    assert.deepEqual(s!.segments, ['maintenance', 0, 'start']);
    assert.match(s!.message, /^must match pattern/);
  });
  test('resolveProbe applies defaults and freezes', () => {
    const r = resolveProbe(def({ confirm: { failures: 2, of: 5 } }));
    assert.equal(r.intervalMs, 60_000);
    assert.equal(r.timeoutMs, 10_000);
    assert.deepEqual(r.confirm, { failures: 2, of: 5, locations: 1 });
    assert.equal(r.recoverSuccesses, 2);
    assert.equal(r.severity, 'major');
    assert.ok(Object.isFrozen(r) && Object.isFrozen(r.def));
    assert.deepEqual(resolveProbe(def({ confirm: { failures: 3 } })).confirm, { failures: 3, of: 3, locations: 1 });
  });
});

test('the shipped definitions in probes/ validate and cover the required systems', () => {
  const dir = fileURLToPath(new URL('../../../probes/', import.meta.url));
  const { files, problems: found } = loadProbeDir(dir);
  assert.deepEqual(found, []);
  const all = files.flatMap((f) => f.data.probes ?? []);
  const names = new Set(all.map((p) => p.name));
  for (const n of ['enbek-home-ru', 'enbek-home-kk', 'enbek-vacancy-search-ru', 'enbek-vacancy-search-kk', 'nqs-web-ru', 'nqs-web-kk', 'nqs-mobile-api']) assert.ok(names.has(n), n);
  const systems = new Set(all.map((p) => p.system));
  for (const s of ['e-sobes', 'qandas', 'social-assistance', 'payments', 'labour-market', 'foreign-labour', 'integration-bus', 'social-services', 'disability-portal'])
    assert.ok(systems.has(s), s);
  // Placeholders never point at a real host.
  for (const p of all) if (p.kind === 'http' && p.http.url.includes('change-me')) assert.equal(p.enabled, false, p.name);
});
