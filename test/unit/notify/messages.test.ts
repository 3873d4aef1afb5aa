import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { MessageData } from '../../../src/escalation/outbox.ts';
import { chooseRunbook, loadRunbooks, parseRunbook } from '../../../src/notify/runbooks.ts';
import { renderMessage } from '../../../src/notify/templates.ts';

const DIR = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const labels = (o: Record<string, string>) => ({ system: 'enbek', source: 'probe', severity: 'major', check: 'x', ...o });

describe('runbooks', () => {
  const all = loadRunbooks(DIR);

  it('ships the runbooks, each with a title and first steps', () => {
    assert.deepEqual(all.map((r) => r.name), [
      'accounts-idle', 'backup-failed', 'certificate-expiring', 'data-feed-late', 'database-unreachable', 'disk-full', 'portal-unavailable', 'request-deadline', 'slow-responses', 'soc-alert',
    ]);
    for (const r of all) assert.ok(r.firstSteps.length >= 3, r.name);
  });

  it('each is chosen by its own label, and by a typical check name', () => {
    for (const r of all) assert.equal(chooseRunbook(all, labels({ runbook: r.name }))?.name, r.name);
    assert.equal(chooseRunbook(all, labels({ check: 'https-home' }))?.name, 'portal-unavailable');
    assert.equal(chooseRunbook(all, labels({ check: 'tls-expiry' }))?.name, 'certificate-expiring');
    assert.equal(chooseRunbook(all, labels({ source: 'soc' }))?.name, 'soc-alert');
    assert.equal(chooseRunbook(all, labels({ check: 'disk-root' }))?.name, 'disk-full');
    assert.equal(chooseRunbook(all, labels({ check: 'nothing-known' })), null);
  });

  it('refuses a runbook without front matter or title', () => {
    assert.throws(() => parseRunbook('x', '# no front matter'), /missing front matter/);
    assert.throws(() => parseRunbook('x', '---\nmatch: []\n---\n'), /title is required/);
  });
});

describe('message templates', () => {
  const data: MessageData = {
    kind: 'page',
    incident: { id: 7, system: 'enbek', check: 'https-home', source: 'probe', severity: 'critical', title: 'enbek.kz does not answer', openedAt: Date.parse('2026-01-05T04:00:00Z'), labels: {} },
    step: 1,
    round: 0,
    incidentUrl: 'https://kuzet.example.kz/incidents/7',
    ackUrl: 'https://kuzet.example.kz/api/v1/ack/t',
  };
  const rb = loadRunbooks(DIR).find((r) => r.name === 'portal-unavailable')!;

  it('renders every field in Russian, Kazakh and English', () => {
    const ru = renderMessage(data, 'ru', rb);
    assert.equal(ru.subject, '[КРИТИЧЕСКАЯ] Инцидент #7: enbek — enbek.kz does not answer');
    assert.match(ru.text, /^Система: enbek$/m);
    assert.match(ru.text, /^С: 2026-01-05 09:00 \(UTC\+05:00\)$/m);
    assert.match(ru.text, /^Уровень эскалации: 2$/m);
    assert.match(ru.text, /^Подтвердить: https:\/\/kuzet\.example\.kz\/api\/v1\/ack\/t$/m);
    assert.match(ru.text, /^Инструкция: Портал недоступен/m);
    assert.match(ru.text, /^1\. Откройте портал/m);
    const kk = renderMessage(data, 'kk', null);
    assert.match(kk.subject, /^\[КҮРДЕЛІ\] Инцидент #7/);
    assert.match(kk.text, /^Жүйе: enbek$/m);
    assert.match(kk.text, /^Растау: /m);
    const en = renderMessage({ ...data, kind: 'breach', breach: 'ack' }, 'en', null);
    assert.match(en.subject, /^\[CRITICAL\] Acknowledge deadline missed #7/);
    assert.match(en.text, /^Incident: https:\/\/kuzet\.example\.kz\/incidents\/7$/m);
  });

  it('renders a grouped storm page', () => {
    const r = renderMessage({ kind: 'storm', storm: { count: 12, windowMs: 5 * 60_000, systems: ['enbek', 'hr'] } }, 'ru');
    assert.equal(r.subject, 'Лавина инцидентов: 12 новых за 5 мин');
    assert.match(r.text, /Системы: enbek, hr/);
  });
});
