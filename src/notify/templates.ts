import type { Lang } from '../escalation/config.ts';
import type { MessageData } from '../escalation/outbox.ts';
import { maskPersonal } from '../mask.ts';
import type { Rendered } from './channel.ts';
import { reasonOf, reasonText, SOURCE_WORDS } from './reasons.ts';
import { runbookIn, type Runbook } from './runbooks.ts';

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
  /** Says the runbook is shown in another language (named in this one) because its own section is missing. */
  runbookFallback: (shown: Lang) => string;
}

const LANG_NAMES: Record<Lang, Record<Lang, string>> = {
  ru: { ru: 'русском', kk: 'казахском', en: 'английском' },
  kk: { ru: 'орысша', kk: 'қазақша', en: 'ағылшынша' },
  en: { ru: 'Russian', kk: 'Kazakh', en: 'English' },
};

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
    runbookFallback: (l) => `(инструкции на русском нет, ниже версия на ${LANG_NAMES.ru[l]})`,
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
    runbookFallback: (l) => `(нұсқаулықтың қазақша нұсқасы жоқ, төменде ${LANG_NAMES.kk[l]} нұсқасы)`,
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
    runbookFallback: (l) => `(no English version of this runbook; the ${LANG_NAMES.en[l]} one follows)`,
  },
};

/** "2026-01-05 09:00 (UTC+05:00)": Kazakhstan's one zone since 2024-03-01. */
export function almatyTime(t: number): string {
  return new Date(t + 5 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ') + ' (UTC+05:00)';
}

/** A system's name in a language: `name_ru` / `name_kk` from the config, else its `name`, else its id. */
export type SystemNamer = (id: string, lang: Lang) => string;

export function systemNamer(systems: ReadonlyArray<{ id: string; name: string; name_ru?: string; name_kk?: string }>): SystemNamer {
  const byId = new Map(systems.map((x) => [x.id, x]));
  return (id, lang) => {
    const x = byId.get(id);
    if (!x) return id;
    return (lang === 'ru' ? x.name_ru : lang === 'kk' ? x.name_kk : undefined) ?? x.name;
  };
}

/** What failed, in the receiver's language: a coded reason in words, or the source's own text marked as such. */
export function whatFailed(inc: { title: string; check: string; source: string }, lang: Lang): string {
  if (inc.source === 'staff') return inc.title; // a person's own words
  const prefix = `${inc.check}: `;
  const text = inc.title.startsWith(prefix) ? inc.title.slice(prefix.length) : inc.title;
  const r = reasonOf(text);
  if (r) return reasonText(r, lang);
  return lang === 'en' ? inc.title : `${inc.title} (${SOURCE_WORDS[lang]})`;
}

/**
 * Pages go to on-call people, who are not necessarily allowed to read users' personal data: what an incident
 * carries from outside (its title, system and check, from staff, the SOC, Alertmanager or a log line) is masked
 * here with the one masking function. The incident link leads to the whole record for roles that may read it.
 * A user's own mail (kind 'mail') goes to that user and is sent as written.
 */
export function renderMessage(data: MessageData, lang: Lang, runbook?: Runbook | null, systemName: SystemNamer = (id) => id): Rendered {
  const w = WORDS[lang] ?? WORDS.en;
  if (data.kind === 'mail' && data.mail) return { subject: data.mail.subject.slice(0, 250), text: data.mail.text };
  if (data.kind === 'storm' && data.storm) {
    const subject = w.storm(data.storm.count, Math.round(data.storm.windowMs / 60_000));
    return { subject, text: `${subject}\n${w.systems}: ${data.storm.systems.map((x) => maskPersonal(systemName(x, lang))).join(', ')}` };
  }
  const inc = data.incident && { ...data.incident, system: maskPersonal(data.incident.system), check: maskPersonal(data.incident.check), title: maskPersonal(data.incident.title) };
  if (!inc) return { subject: 'kuzet', text: 'kuzet' };
  const sev = w.severity[inc.severity] ?? inc.severity;
  const head =
    data.kind === 'breach' ? (data.breach === 'resolve' ? w.breachResolve : w.breachAck) : data.kind === 'resolved' ? w.resolved : w.page;
  const system = systemName(inc.system, lang);
  const what = whatFailed(inc, lang);
  const subject = `[${sev.toUpperCase()}] ${head} #${inc.id}: ${system} — ${what}`.slice(0, 250);
  const lines = [
    `${w.system}: ${system}`,
    `${w.what}: ${what} (${inc.check})`,
    `${w.since}: ${almatyTime(inc.openedAt)}`,
  ];
  if (data.kind === 'page' && data.step !== undefined) lines.push(`${w.step}: ${data.step + 1}${data.round ? ` (×${data.round + 1})` : ''}`);
  if (data.incidentUrl) lines.push(`${w.link}: ${data.incidentUrl}`);
  if (data.ackUrl) lines.push(`${w.ack}: ${data.ackUrl}`);
  if (runbook) {
    const rb = runbookIn(runbook, lang);
    lines.push('', `${w.runbook}: ${rb.title}`);
    if (rb.fallback) lines.push(w.runbookFallback(rb.lang));
    if (rb.firstSteps.length) lines.push(...rb.firstSteps.map((s, i) => `${i + 1}. ${s}`));
  }
  return { subject, text: lines.join('\n'), ackUrl: data.ackUrl, incidentId: inc.id };
}
