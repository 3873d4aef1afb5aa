import type { Lang } from '../escalation/config.ts';

// Coded reasons: what a probe or an intake source says went wrong, as a code with parameters, worded in the
// receiver's language at delivery time. Sources describe failures in English for logs and the API; a page reads
// that text back into a code here, so a Kazakh-speaking engineer does not get an English probe reason.
// Text that matches no code (a SOC rule's own summary, a Prometheus annotation) is shown as it came, marked as
// the source's own words.

export type ReasonCode =
  | 'connection_refused'
  | 'connection_reset'
  | 'timeout'
  | 'dns'
  | 'unreachable'
  | 'tls_expired'
  | 'tls_invalid'
  | 'http_status'
  | 'slow'
  | 'content'
  | 'too_large'
  | 'redirects'
  | 'host_resources'
  | 'heartbeat_missed'
  | 'heartbeat_failed'
  | 'log_absent'
  | 'request_missed'
  | 'request_due'
  | 'recovered'
  | 'check_failed';

export interface Reason {
  code: ReasonCode;
  params: Record<string, string>;
}

// Most specific first: "status in [200] failed: status 502" is an HTTP status, not a generic failed check.
const RULES: Array<[RegExp, ReasonCode, (m: RegExpExecArray) => Record<string, string>]> = [
  [/recovered/i, 'recovered', () => ({})],
  [/^Request (\S+) \(.*\) missed its deadline (.+)$/, 'request_missed', (m) => ({ request: m[1]!, due: m[2]! })],
  [/^Request (\S+) \(.*\) is due (.+): (\d+)% of the time used$/, 'request_due', (m) => ({ request: m[1]!, due: m[2]!, percent: m[3]! })],
  [/^no log line matched (\S+) for (\d+)s$/, 'log_absent', (m) => ({ rule: m[1]!, minutes: String(Math.max(1, Math.round(Number(m[2]) / 60))) })],
  [/connection refused/i, 'connection_refused', () => ({})],
  [/connection (reset|closed)|closed unexpectedly/i, 'connection_reset', () => ({})],
  [/timed out after (\d+) ms/i, 'timeout', (m) => ({ seconds: String(Math.round(Number(m[1]) / 100) / 10) })],
  [/timed out/i, 'timeout', () => ({ seconds: '?' })],
  [/DNS|no such host/, 'dns', () => ({})],
  [/unreachable/i, 'unreachable', () => ({})],
  [/certificate .*(has expired|expires)/i, 'tls_expired', () => ({})],
  [/TLS|certificate/i, 'tls_invalid', () => ({})],
  [/response time <= \S+ failed: (\d+) ms/, 'slow', (m) => ({ ms: m[1]! })],
  [/failed: status (\d{3})/, 'http_status', (m) => ({ status: m[1]! })],
  [/body (contains|does not contain|matches)|json|header /i, 'content', () => ({})],
  [/body larger than/i, 'too_large', () => ({})],
  [/too many redirects/i, 'redirects', () => ({})],
  [/^(cpu|memory|disk|load)[^:]* failed: (.+)$/i, 'host_resources', (m) => ({ actual: m[2]! })],
  [/a ping within .* failed/, 'heartbeat_missed', () => ({})],
  [/last ping reports success failed/, 'heartbeat_failed', () => ({})],
  [/ failed: /, 'check_failed', () => ({})],
];

/** Read a source's English reason back into a code; null when it is free text kuzet did not write. */
export function reasonOf(text: string): Reason | null {
  for (const [re, code, params] of RULES) {
    const m = re.exec(text);
    if (m) return { code, params: params(m) };
  }
  return null;
}

type Words = Record<ReasonCode, (p: Record<string, string>) => string>;

export const REASON_WORDS: Record<Lang, Words> = {
  ru: {
    connection_refused: () => 'сервер отклоняет соединение',
    connection_reset: () => 'соединение обрывается',
    timeout: (p) => `нет ответа за ${p.seconds} с`,
    dns: () => 'имя не находится в DNS',
    unreachable: () => 'узел недоступен по сети',
    tls_expired: () => 'срок сертификата TLS истёк',
    tls_invalid: () => 'сертификат TLS не проходит проверку',
    http_status: (p) => `сервер отвечает кодом ${p.status}`,
    slow: (p) => `ответ слишком медленный: ${p.ms} мс`,
    content: () => 'в ответе нет ожидаемого содержимого',
    too_large: () => 'ответ слишком большой',
    redirects: () => 'слишком много перенаправлений',
    host_resources: (p) => `ресурсы сервера на пределе (${p.actual})`,
    heartbeat_missed: () => 'задание не отметилось вовремя',
    heartbeat_failed: () => 'задание сообщило об ошибке',
    log_absent: (p) => `в журнале нет ожидаемых строк (${p.rule}) уже ${p.minutes} мин`,
    request_missed: (p) => `обращение ${p.request} просрочено (срок ${p.due})`,
    request_due: (p) => `срок обращения ${p.request}: ${p.due}, прошло ${p.percent}% времени`,
    recovered: () => 'работает снова',
    check_failed: () => 'проверка не пройдена',
  },
  kk: {
    connection_refused: () => 'сервер қосылымды қабылдамайды',
    connection_reset: () => 'қосылым үзіледі',
    timeout: (p) => `${p.seconds} с ішінде жауап жоқ`,
    dns: () => 'атау DNS-те табылмайды',
    unreachable: () => 'түйін желі арқылы қолжетімсіз',
    tls_expired: () => 'TLS сертификатының мерзімі өтті',
    tls_invalid: () => 'TLS сертификаты тексеруден өтпейді',
    http_status: (p) => `сервер ${p.status} кодымен жауап береді`,
    slow: (p) => `жауап тым баяу: ${p.ms} мс`,
    content: () => 'жауапта күтілген мазмұн жоқ',
    too_large: () => 'жауап тым үлкен',
    redirects: () => 'қайта бағыттау тым көп',
    host_resources: (p) => `сервер ресурстары шегінде (${p.actual})`,
    heartbeat_missed: () => 'тапсырма уақытында белгі бермеді',
    heartbeat_failed: () => 'тапсырма қате туралы хабарлады',
    log_absent: (p) => `журналда күтілген жолдар (${p.rule}) ${p.minutes} минут бойы жоқ`,
    request_missed: (p) => `${p.request} өтінішінің мерзімі өтті (мерзімі ${p.due})`,
    request_due: (p) => `${p.request} өтінішінің мерзімі: ${p.due}, уақыттың ${p.percent}% өтті`,
    recovered: () => 'қайта жұмыс істейді',
    check_failed: () => 'тексеру өтпеді',
  },
  en: {
    connection_refused: () => 'the server refuses the connection',
    connection_reset: () => 'the connection is cut',
    timeout: (p) => `no answer within ${p.seconds} s`,
    dns: () => 'the name does not resolve in DNS',
    unreachable: () => 'the host is unreachable',
    tls_expired: () => 'the TLS certificate has expired',
    tls_invalid: () => 'the TLS certificate fails verification',
    http_status: (p) => `the server answers with status ${p.status}`,
    slow: (p) => `the answer is too slow: ${p.ms} ms`,
    content: () => 'the answer lacks the expected content',
    too_large: () => 'the answer is too large',
    redirects: () => 'too many redirects',
    host_resources: (p) => `server resources at their limit (${p.actual})`,
    heartbeat_missed: () => 'the job did not check in on time',
    heartbeat_failed: () => 'the job reported a failure',
    log_absent: (p) => `no expected log line (${p.rule}) for ${p.minutes} min`,
    request_missed: (p) => `request ${p.request} missed its deadline (${p.due})`,
    request_due: (p) => `request ${p.request} is due ${p.due}: ${p.percent}% of the time used`,
    recovered: () => 'works again',
    check_failed: () => 'the check failed',
  },
};

/** Marks text shown as its source wrote it (no code matched). */
export const SOURCE_WORDS: Record<Lang, string> = {
  ru: 'текст источника',
  kk: 'дереккөз мәтіні',
  en: 'as the source says',
};

export function reasonText(r: Reason, lang: Lang): string {
  return (REASON_WORDS[lang] ?? REASON_WORDS.en)[r.code](r.params);
}
