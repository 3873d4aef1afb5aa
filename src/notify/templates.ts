import type { Lang } from '../escalation/config.ts';
import type { MessageData } from '../escalation/outbox.ts';
import { maskPersonal } from '../mask.ts';
import type { Rendered } from './channel.ts';
import type { Runbook } from './runbooks.ts';

// Message templates in Russian, Kazakh and English. Times are shown in Asia/Almaty (UTC+05:00).

interface Words {
  severity: Record<string, string>;
  page: string;
  breachAck: string;
  breachResolve: string;
  storm: (n: number, minutes: number) => string;
  resolved: string;
  system: string;
  what: string;
  since: string;
  step: string;
  link: string;
  ack: string;
  runbook: string;
  systems: string;
}

const WORDS: Record<Lang, Words> = {
  ru: {
    severity: { info: 'инфо', warning: 'предупреждение', minor: 'низкая', major: 'высокая', critical: 'критическая' },
    page: 'Инцидент',
    breachAck: 'Нарушен срок подтверждения',
    breachResolve: 'Нарушен срок устранения',
    storm: (n, m) => `Лавина инцидентов: ${n} новых за ${m} мин`,
    resolved: 'Устранено',
    system: 'Система',
    what: 'Что случилось',
    since: 'С',
    step: 'Уровень эскалации',
    link: 'Инцидент',
    ack: 'Подтвердить',
    runbook: 'Инструкция',
    systems: 'Системы',
  },
  kk: {
    severity: { info: 'ақпарат', warning: 'ескерту', minor: 'төмен', major: 'жоғары', critical: 'күрделі' },
    page: 'Инцидент',
    breachAck: 'Растау мерзімі бұзылды',
    breachResolve: 'Жою мерзімі бұзылды',
    storm: (n, m) => `Инциденттер толқыны: ${m} минутта ${n} жаңа`,
    resolved: 'Жойылды',
    system: 'Жүйе',
    what: 'Не болды',
    since: 'Басталған уақыты',
    step: 'Эскалация деңгейі',
    link: 'Инцидент',
    ack: 'Растау',
    runbook: 'Нұсқаулық',
    systems: 'Жүйелер',
  },
  en: {
    severity: { info: 'info', warning: 'warning', minor: 'minor', major: 'major', critical: 'critical' },
    page: 'Incident',
    breachAck: 'Acknowledge deadline missed',
    breachResolve: 'Resolve deadline missed',
    storm: (n, m) => `Incident storm: ${n} new incidents in ${m} min`,
    resolved: 'Resolved',
    system: 'System',
    what: 'What failed',
    since: 'Since',
    step: 'Escalation level',
    link: 'Incident',
    ack: 'Acknowledge',
    runbook: 'Runbook',
    systems: 'Systems',
  },
};

/** "2026-01-05 09:00 (UTC+05:00)": Kazakhstan's one zone since 2024-03-01. */
export function almatyTime(t: number): string {
  return new Date(t + 5 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ') + ' (UTC+05:00)';
}

/**
 * Pages go to on-call people, who are not necessarily allowed to read users' personal data: what an incident
 * carries from outside (its title, system and check, from staff, the SOC, Alertmanager or a log line) is masked
 * here with the one masking function. The incident link leads to the whole record for roles that may read it.
 * A user's own mail (kind 'mail') goes to that user and is sent as written.
 */
export function renderMessage(data: MessageData, lang: Lang, runbook?: Runbook | null): Rendered {
  const w = WORDS[lang] ?? WORDS.en;
  if (data.kind === 'mail' && data.mail) return { subject: data.mail.subject.slice(0, 250), text: data.mail.text };
  if (data.kind === 'storm' && data.storm) {
    const subject = w.storm(data.storm.count, Math.round(data.storm.windowMs / 60_000));
    return { subject, text: `${subject}\n${w.systems}: ${data.storm.systems.map(maskPersonal).join(', ')}` };
  }
  const inc = data.incident && { ...data.incident, system: maskPersonal(data.incident.system), check: maskPersonal(data.incident.check), title: maskPersonal(data.incident.title) };
  if (!inc) return { subject: 'kuzet', text: 'kuzet' };
  const sev = w.severity[inc.severity] ?? inc.severity;
  const head =
    data.kind === 'breach' ? (data.breach === 'resolve' ? w.breachResolve : w.breachAck) : data.kind === 'resolved' ? w.resolved : w.page;
  const subject = `[${sev.toUpperCase()}] ${head} #${inc.id}: ${inc.system} — ${inc.title}`.slice(0, 250);
  const lines = [
    `${w.system}: ${inc.system}`,
    `${w.what}: ${inc.title} (${inc.check})`,
    `${w.since}: ${almatyTime(inc.openedAt)}`,
  ];
  if (data.kind === 'page' && data.step !== undefined) lines.push(`${w.step}: ${data.step + 1}${data.round ? ` (×${data.round + 1})` : ''}`);
  if (data.incidentUrl) lines.push(`${w.link}: ${data.incidentUrl}`);
  if (data.ackUrl) lines.push(`${w.ack}: ${data.ackUrl}`);
  if (runbook) {
    lines.push('', `${w.runbook}: ${runbook.title}`);
    if (runbook.firstSteps.length) lines.push(...runbook.firstSteps.map((s, i) => `${i + 1}. ${s}`));
  }
  return { subject, text: lines.join('\n'), ackUrl: data.ackUrl, incidentId: inc.id };
}
