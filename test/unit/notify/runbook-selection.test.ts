import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/load.ts';
import { subjectLabels } from '../../../src/escalation/match.ts';
import { chooseRunbook, loadRunbooks } from '../../../src/notify/runbooks.ts';
import { schemaPlugins } from '../../../src/sections.ts';

// Every shipped probe, every shipped log rule and each intake source gets the runbook meant for it, through the
// labels its signals carry (the same function the delivery worker uses).

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const runbooks = loadRunbooks(root('runbooks'));
const choose = (s: { system: string; check: string; source: string; severity?: string; labels: Record<string, string> }) =>
  chooseRunbook(runbooks, subjectLabels({ severity: 'major', ...s }))?.name ?? null;

/** What each kind of probe is about, whatever its name says. */
const BY_KIND: Record<string, string[]> = {
  http: ['portal-unavailable'], flow: ['portal-unavailable'], dns: ['portal-unavailable'], tcp: ['portal-unavailable', 'database-unreachable'],
  tls: ['certificate-expiring'], heartbeat: ['backup-failed', 'data-feed-late'], host: ['disk-full'],
  sql: ['data-feed-late', 'accounts-idle', 'database-unreachable'],
};

describe('runbook selection over what kuzet ships', () => {
  const cfg = loadConfig(root('config/kuzet.yaml'), schemaPlugins, {});
  const probes = cfg.probeFiles.flatMap((f) => f.probes) as Array<{ name: string; kind: string; system: string; labels?: Record<string, string> }>;

  it('every shipped probe names its runbook, and gets it', () => {
    assert.ok(probes.length > 40);
    for (const p of probes) {
      const labels = { ...(p.labels ?? {}), probe: p.name, kind: p.kind };
      assert.ok(p.labels?.runbook, `${p.name} has no runbook label`);
      assert.ok(runbooks.some((r) => r.name === p.labels!.runbook), `${p.name}: runbook ${p.labels!.runbook} is not shipped`);
      const got = choose({ system: p.system, check: p.name, source: 'probe', labels });
      assert.equal(got, p.labels!.runbook, p.name);
      assert.ok(BY_KIND[p.kind]!.includes(got!), `${p.name} (${p.kind}) gets ${got}`);
    }
  });

  it('a web probe of a database system still gets the portal runbook', () => {
    const p = probes.find((x) => x.name === 'payments-db-web-ru')!;
    assert.equal(choose({ system: p.system, check: p.name, source: 'probe', labels: { ...p.labels!, probe: p.name, kind: p.kind } }), 'portal-unavailable');
  });

  it('every shipped log rule names its runbook, and gets it', () => {
    let n = 0;
    for (const f of ['java', 'nginx', 'postgresql', 'security']) {
      const doc = parse(readFileSync(root(`config/rules/${f}.yaml`), 'utf8')) as { rules: Array<{ name: string; labels?: Record<string, string>; inputs?: string[] }> };
      for (const r of doc.rules) {
        n++;
        assert.ok(r.labels?.runbook, `${r.name} has no runbook label`);
        const got = choose({ system: 'enbek', check: r.name, source: 'log', labels: { ...r.labels, rule: r.name, input: r.inputs?.[0] ?? 'x' } });
        assert.equal(got, r.labels.runbook, r.name);
        if (r.name.startsWith('pg-') && r.name !== 'pg-authentication-failed') assert.notEqual(got, 'portal-unavailable', r.name);
      }
    }
    assert.ok(n >= 14);
  });

  it('each intake source gets its runbook, whatever its check name says', () => {
    assert.equal(choose({ system: 'payments-db', check: 'db-bruteforce', source: 'soc', labels: {} }), 'soc-alert');
    assert.equal(choose({ system: 'enbek', check: 'backup-verify', source: 'backup', labels: { job: 'enbek-db' } }), 'backup-failed');
    assert.equal(choose({ system: 'enbek', check: 'request-deadline', source: 'user', labels: {} }), 'request-deadline');
    assert.equal(choose({ system: 'enbek', check: 'NodeFilesystemAlmostFull', source: 'alertmanager', labels: { runbook: 'disk-full', alertname: 'NodeFilesystemAlmostFull' } }), 'disk-full');
    assert.equal(choose({ system: 'enbek', check: 'https-home', source: 'alertmanager', labels: {} }), 'portal-unavailable');
  });
});
