import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { MessageData } from '../../../src/escalation/outbox.ts';
import { chooseRunbook, loadRunbooks, parseRunbook } from '../../../src/notify/runbooks.ts';
import { renderMessage, systemNamer } from '../../../src/notify/templates.ts';

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
    incident: { id: 7, system: 'enbek', check: 'https-home', source: 'probe', severity: 'critical', title: 'https-home: connection refused by enbek.kz:443', openedAt: Date.parse('2026-01-05T04:00:00Z'), labels: {} },
    step: 1,
    round: 0,
    incidentUrl: 'https://kuzet.example.kz/incidents/7',
    ackUrl: 'https://kuzet.example.kz/api/v1/ack/t',
  };
  const rb = loadRunbooks(DIR).find((r) => r.name === 'portal-unavailable')!;
  const names = systemNamer([{ id: 'enbek', name: 'Electronic Labour Exchange', name_ru: 'Электронная биржа труда', name_kk: 'Еңбек электронды биржасы' }]);

  it('renders every field in Russian, Kazakh and English', () => {
    const ru = renderMessage(data, 'ru', rb, names);
    assert.equal(ru.subject, '[КРИТИЧЕСКАЯ] Инцидент #7: Электронная биржа труда — сервер отклоняет соединение');
    assert.match(ru.text, /^Система: Электронная биржа труда$/m);
    assert.match(ru.text, /^С: 2026-01-05 09:00 \(UTC\+05:00\)$/m);
    assert.match(ru.text, /^Уровень эскалации: 2$/m);
    assert.match(ru.text, /^Подтвердить: https:\/\/kuzet\.example\.kz\/api\/v1\/ack\/t$/m);
    assert.match(ru.text, /^Инструкция: Портал недоступен$/m);
    assert.match(ru.text, /^1\. Откройте портал/m);
    const kk = renderMessage(data, 'kk', null, names);
    assert.match(kk.subject, /^\[КҮРДЕЛІ\] Инцидент #7/);
    assert.match(kk.text, /^Жүйе: Еңбек электронды биржасы$/m);
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

describe('one language per message (issue 19)', () => {
  const all = loadRunbooks(DIR);
  const portal = all.find((r) => r.name === 'portal-unavailable')!;
  const names = systemNamer([
    { id: 'enbek', name: 'Electronic Labour Exchange', name_ru: 'Электронная биржа труда', name_kk: 'Еңбек электронды биржасы' },
    { id: 'payments', name: 'Payment processing' },
  ]);
  const page = (title: string, source = 'probe', check = 'enbek-home', system = 'enbek'): MessageData => ({
    kind: 'page',
    incident: { id: 9, system, check, source, severity: 'major', title, openedAt: Date.parse('2026-01-05T04:00:00Z'), labels: {} },
    incidentUrl: 'https://kuzet.ops.kz/incidents/9',
  });
  const latin = /[A-Za-z]{4,}/;

  it('gives a Kazakh-speaking engineer the system, the reason and the runbook in Kazakh only', () => {
    const m = renderMessage(page('enbek-home: status 200–399 failed: status 502'), 'kk', portal, names);
    assert.equal(m.subject, '[ЖОҒАРЫ] Инцидент #9: Еңбек электронды биржасы — сервер 502 кодымен жауап береді');
    assert.match(m.text, /^Не болды: сервер 502 кодымен жауап береді \(enbek-home\)$/m);
    assert.match(m.text, /^Нұсқаулық: Портал қолжетімсіз$/m);
    assert.match(m.text, /^1\. Порталды министрлік желісінен/m);
    const words = m.text.split('\n').filter((l) => !/https?:\/\//.test(l)).join('\n').replaceAll('(enbek-home)', '');
    assert.doesNotMatch(words, latin, 'no English words outside links and the check id');
    assert.doesNotMatch(words, /Откройте|Портал недоступен|Проверьте/, 'no Russian runbook text');
  });

  it('words each coded reason in all three languages', () => {
    const cases: Array<[string, string, string, string]> = [
      ['request to enbek.kz failed: connection refused by enbek.kz:443', 'сервер отклоняет соединение', 'сервер қосылымды қабылдамайды', 'the server refuses the connection'],
      ['timed out after 10000 ms waiting for the headers', 'нет ответа за 10 с', '10 с ішінде жауап жоқ', 'no answer within 10 s'],
      ['response time <= 2s failed: 3412 ms', 'ответ слишком медленный: 3412 мс', 'жауап тым баяу: 3412 мс', 'the answer is too slow: 3412 ms'],
      ['DNS lookup failed for enbek.kz: no such host', 'имя не находится в DNS', 'атау DNS-те табылмайды', 'the name does not resolve in DNS'],
      ['a ping within 1d failed: no ping since start 2d ago', 'задание не отметилось вовремя', 'тапсырма уақытында белгі бермеді', 'the job did not check in on time'],
    ];
    for (const [reason, ru, kk, en] of cases) {
      const title = `enbek-home: ${reason}`;
      assert.match(renderMessage(page(title), 'ru', null, names).text, new RegExp(`^Что случилось: ${ru} \\(enbek-home\\)$`, 'm'), reason);
      assert.match(renderMessage(page(title), 'kk', null, names).text, new RegExp(`^Не болды: ${kk} \\(enbek-home\\)$`, 'm'), reason);
      assert.match(renderMessage(page(title), 'en', null, names).text, new RegExp(`^What failed: ${en} \\(enbek-home\\)$`, 'm'), reason);
    }
    // Intake: a request deadline and a log absence are worded too.
    const due = renderMessage(page('Request E-2026-000123 (enbek) missed its deadline 2026-03-05 18:00 Thu', 'user', 'request-deadline'), 'kk', null, names);
    assert.match(due.text, /^Не болды: E-2026-000123 өтінішінің мерзімі өтті \(мерзімі 2026-03-05 18:00 Thu\)/m);
    const absent = renderMessage(page('no log line matched feed-done for 7200s', 'log', 'feed-done'), 'ru', null, names);
    assert.match(absent.text, /^Что случилось: в журнале нет ожидаемых строк \(feed-done\) уже 120 мин/m);
  });

  it("marks a source's own words, keeps a person's words, and falls back to the configured name", () => {
    const soc = renderMessage(page('250 failed logins in 5 minutes', 'soc', 'brute-force'), 'kk', null, names);
    assert.match(soc.text, /^Не болды: 250 failed logins in 5 minutes \(дереккөз мәтіні\) \(brute-force\)$/m);
    const staff = renderMessage(page('Поиск вакансий пуст', 'staff', 'specialist-report'), 'en', null, names);
    assert.match(staff.text, /^What failed: Поиск вакансий пуст \(specialist-report\)$/m);
    assert.match(renderMessage(page('x: connection refused', 'probe', 'x', 'payments'), 'kk', null, names).text, /^Жүйе: Payment processing$/m);
    assert.match(renderMessage(page('x: connection refused', 'probe', 'x', 'unknown-system'), 'ru', null, names).text, /^Система: unknown-system$/m);
  });

  it('falls back visibly when a runbook has no section in the language', () => {
    const ruOnly = parseRunbook('ru-only', '---\ntitle: Только по-русски\nmatch: [{ check: x }]\n---\n# [ru] Только по-русски\n\n1. Первый шаг.\n2. Второй шаг.\n');
    const kk = renderMessage(page('x: connection refused', 'probe', 'x'), 'kk', ruOnly, names);
    assert.match(kk.text, /^Нұсқаулық: Только по-русски\n\(нұсқаулықтың қазақша нұсқасы жоқ, төменде орысша нұсқасы\)\n1\. Первый шаг\.$/m);
    const en = renderMessage(page('x: connection refused', 'probe', 'x'), 'en', ruOnly, names);
    assert.match(en.text, /\(no English version of this runbook; the Russian one follows\)/);
    assert.doesNotMatch(renderMessage(page('x: connection refused', 'probe', 'x'), 'ru', ruOnly, names).text, /инструкции на русском нет/);
  });

  it('ships every runbook with Russian, Kazakh and English headings and steps', () => {
    for (const r of all) {
      for (const l of ['ru', 'kk', 'en'] as const) {
        assert.ok(r.sections[l], `${r.name}: no ${l} section`);
        assert.ok(r.sections[l]!.firstSteps.length >= 3, `${r.name} ${l}: steps`);
      }
    }
  });
});
