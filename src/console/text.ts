// Every word the console and the status pages show, in Russian, Kazakh and English.

export const LANGS = ['ru', 'kk', 'en'] as const;
export type Lang = (typeof LANGS)[number];
export const isLang = (s: unknown): s is Lang => typeof s === 'string' && (LANGS as readonly string[]).includes(s);

type Entry = Record<Lang, string>;
const e = (ru: string, kk: string, en: string): Entry => ({ ru, kk, en });

export const T = {
  console: e('Консоль kuzet', 'kuzet консолі', 'kuzet console'),
  langName: e('Русский', 'Қазақша', 'English'),
  skip: e('К содержимому', 'Мазмұнға өту', 'Skip to content'),
  liveChanged: e('Данные изменились — обновить страницу', 'Деректер өзгерді — бетті жаңарту', 'This changed — reload the page'),
  signIn: e('Вход', 'Кіру', 'Sign in'),
  signOut: e('Выйти', 'Шығу', 'Sign out'),
  token: e('API-токен', 'API токені', 'API token'),
  tokenHint: e('Токен выдаёт администратор (kuzet token create). Он не сохраняется в браузере: вход действует 12 часов.',
    'Токенді әкімші береді (kuzet token create). Ол браузерде сақталмайды: кіру 12 сағат жарамды.',
    'An administrator issues tokens (kuzet token create). It is not kept in the browser: a sign-in lasts 12 hours.'),
  badToken: e('Токен не подходит или отозван.', 'Токен жарамсыз немесе кері қайтарылған.', 'The token is not valid or was revoked.'),
  signedAs: e('Вы вошли как', 'Сіз кірдіңіз:', 'Signed in as'),
  csrf: e('Форма устарела или пришла не с этой страницы. Откройте страницу заново и повторите.',
    'Пішін ескірген немесе басқа беттен келген. Бетті қайта ашып, қайталаңыз.',
    'The form expired or did not come from this page. Open the page again and retry.'),
  forbidden: e('Вашей роли это действие недоступно', 'Сіздің рөліңізге бұл әрекет қолжетімсіз', 'Your role may not do this'),
  notFound: e('Не найдено', 'Табылмады', 'Not found'),
  error: e('Ошибка', 'Қате', 'Error'),
  back: e('Назад', 'Артқа', 'Back'),
  done: e('Готово', 'Дайын', 'Done'),
  // navigation
  incidents: e('Инциденты', 'Инциденттер', 'Incidents'),
  oncall: e('Дежурные', 'Кезекшілер', 'On call'),
  silences: e('Заглушения', 'Үнсіздіктер', 'Silences'),
  requests: e('Обращения', 'Өтініштер', 'Requests'),
  deadLetters: e('Недоставленные', 'Жеткізілмегендер', 'Dead letters'),
  backups: e('Резервные копии', 'Сақтық көшірмелер', 'Backups'),
  systems: e('Системы', 'Жүйелер', 'Systems'),
  reports: e('Отчёты', 'Есептер', 'Reports'),
  statusPage: e('Статус', 'Күй', 'Status'),
  // incident fields
  incident: e('Инцидент', 'Инцидент', 'Incident'),
  system: e('Система', 'Жүйе', 'System'),
  severity: e('Важность', 'Маңыздылық', 'Severity'),
  source: e('Источник', 'Көз', 'Source'),
  check: e('Проверка', 'Тексеру', 'Check'),
  status: e('Состояние', 'Күйі', 'Status'),
  period: e('Период', 'Кезең', 'Period'),
  opened: e('Открыт', 'Ашылды', 'Opened'),
  age: e('Возраст', 'Жасы', 'Age'),
  ackedBy: e('Подтвердил', 'Растаған', 'Acknowledged by'),
  resolvedBy: e('Закрыл', 'Жапқан', 'Resolved by'),
  nextStep: e('Следующий шаг', 'Келесі қадам', 'Next step'),
  step: e('шаг', 'қадам', 'step'),
  any: e('все', 'барлығы', 'any'),
  filter: e('Показать', 'Көрсету', 'Show'),
  more: e('Дальше', 'Әрі қарай', 'More'),
  none: e('Нет', 'Жоқ', 'None'),
  title: e('Заголовок', 'Тақырып', 'Title'),
  signals: e('Сигналов', 'Сигналдар', 'Signals'),
  labels: e('Метки', 'Белгілер', 'Labels'),
  flapping: e('мигает', 'жыпылықтайды', 'flapping'),
  reopened: e('Переоткрыт', 'Қайта ашылды', 'Reopened'),
  timeline: e('Хронология', 'Хронология', 'Timeline'),
  when: e('Когда', 'Қашан', 'When'),
  what: e('Что', 'Не', 'What'),
  who: e('Кто', 'Кім', 'Who'),
  signal: e('Сигнал', 'Сигнал', 'Signal'),
  repeats: e('повторов', 'қайталау', 'repeats'),
  notification: e('Оповещение', 'Хабарлама', 'Notification'),
  notifications: e('Оповещения', 'Хабарламалар', 'Notifications'),
  person: e('Кому', 'Кімге', 'Person'),
  channel: e('Канал', 'Арна', 'Channel'),
  attempts: e('Попыток', 'Әрекеттер', 'Attempts'),
  deadlines: e('Сроки', 'Мерзімдер', 'Deadlines'),
  policy: e('Политика', 'Саясат', 'Policy'),
  ackDue: e('Подтвердить до', 'Растау мерзімі', 'Acknowledge by'),
  resolveDue: e('Устранить до', 'Жою мерзімі', 'Resolve by'),
  left: e('осталось', 'қалды', 'left'),
  overdue: e('просрочено на', 'мерзімінен асты', 'overdue by'),
  breached: e('нарушен', 'бұзылды', 'breached'),
  userRequests: e('Обращения пользователей', 'Пайдаланушылардың өтініштері', 'User requests'),
  runbook: e('Инструкция', 'Нұсқаулық', 'Runbook'),
  noRunbook: e('Подходящей инструкции нет.', 'Сәйкес нұсқаулық жоқ.', 'No runbook matches.'),
  actions: e('Действия', 'Әрекеттер', 'Actions'),
  acknowledge: e('Подтвердить', 'Растау', 'Acknowledge'),
  resolve: e('Закрыть', 'Жабу', 'Resolve'),
  addNote: e('Добавить заметку', 'Жазба қосу', 'Add note'),
  note: e('Заметка', 'Жазба', 'Note'),
  noteOptional: e('Комментарий (необязательно)', 'Түсініктеме (міндетті емес)', 'Comment (optional)'),
  silence: e('Заглушить', 'Үнсіз ету', 'Silence'),
  silenceFor: e('Заглушить оповещения по этой проверке на', 'Осы тексеру бойынша хабарламаларды үнсіз ету мерзімі', 'Silence this check’s notifications for'),
  reason: e('Причина', 'Себебі', 'Reason'),
  publicNote: e('Публичное сообщение для страницы статуса', 'Күй беті үшін жария хабарлама', 'Public note for the status page'),
  publicNoteHint: e('Видно всем на /status. Без персональных данных и внутренних подробностей.',
    '/status бетінде барлығына көрінеді. Дербес деректерсіз және ішкі мәліметтерсіз.',
    'Everyone sees it on /status. No personal data, no internal details.'),
  publish: e('Опубликовать', 'Жариялау', 'Publish'),
  publicNotes: e('Сообщения', 'Хабарламалар', 'Notes'),
  // notification states
  st_sent: e('отправлено', 'жіберілді', 'sent'),
  st_failed: e('ошибка, повтор', 'қате, қайталау', 'failed, retrying'),
  st_dead: e('не доставлено', 'жеткізілмеді', 'dead-lettered'),
  st_failed_over: e('не доставлено, передано резервному каналу', 'жеткізілмеді, қосалқы арнаға берілді', 'failed, handed to the fallback channel'),
  st_pending: e('в очереди', 'кезекте', 'queued'),
  st_cancelled: e('отменено', 'болдырылмады', 'cancelled'),
  // severities
  sev_critical: e('критическая', 'сыни', 'critical'),
  sev_major: e('высокая', 'жоғары', 'major'),
  sev_minor: e('низкая', 'төмен', 'minor'),
  sev_warning: e('предупреждение', 'ескерту', 'warning'),
  sev_info: e('информация', 'ақпарат', 'info'),
  // incident states
  s_open: e('открыт', 'ашық', 'open'),
  s_acknowledged: e('подтверждён', 'расталды', 'acknowledged'),
  s_resolved: e('закрыт', 'жабылды', 'resolved'),
  s_unresolved: e('не закрыт', 'жабылмаған', 'unresolved'),
  // periods
  p_1d: e('сутки', 'тәулік', '24 hours'),
  p_7d: e('7 дней', '7 күн', '7 days'),
  p_30d: e('30 дней', '30 күн', '30 days'),
  p_90d: e('90 дней', '90 күн', '90 days'),
  h1: e('1 час', '1 сағат', '1 hour'),
  h4: e('4 часа', '4 сағат', '4 hours'),
  h24: e('24 часа', '24 сағат', '24 hours'),
  d7: e('7 дней', '7 күн', '7 days'),
  // on call, silences, requests, dead letters, backups
  rotation: e('Ротация', 'Ротация', 'Rotation'),
  onCallNow: e('Дежурит сейчас', 'Қазір кезекші', 'On call now'),
  until: e('До', 'Дейін', 'Until'),
  nextHandoffs: e('Следующие смены', 'Келесі ауысымдар', 'Next hand-offs'),
  layer: e('Слой', 'Қабат', 'Layer'),
  matchers: e('Условия', 'Шарттар', 'Matchers'),
  starts: e('С', 'Бастап', 'Starts'),
  ends: e('По', 'Дейін', 'Ends'),
  author: e('Автор', 'Авторы', 'Author'),
  expire: e('Снять', 'Алып тастау', 'Expire'),
  newSilence: e('Новое заглушение', 'Жаңа үнсіздік', 'New silence'),
  create: e('Создать', 'Құру', 'Create'),
  number: e('Номер', 'Нөмірі', 'Number'),
  kind: e('Вид', 'Түрі', 'Kind'),
  due: e('Срок', 'Мерзім', 'Due'),
  answer: e('Ответ', 'Жауап', 'Answer'),
  decision: e('Решение', 'Шешім', 'Decision'),
  granted: e('доступ предоставлен', 'қолжетімділік берілді', 'granted'),
  refused: e('отказано', 'бас тартылды', 'refused'),
  extend: e('Продлить', 'Ұзарту', 'Extend'),
  extendReason: e('Основание продления', 'Ұзарту негізі', 'Extension ground'),
  r_defect_fix: e('исправление дефекта', 'ақауды түзету', 'defect fix'),
  r_platform_functioning: e('работа платформы', 'платформаның жұмысы', 'platform functioning'),
  sendAnswer: e('Отправить ответ', 'Жауап жіберу', 'Send answer'),
  workingLeft: e('рабочего времени осталось', 'жұмыс уақыты қалды', 'of working time left'),
  retry: e('Повторить', 'Қайталау', 'Retry'),
  lastError: e('Последняя ошибка', 'Соңғы қате', 'Last error'),
  job: e('Задание', 'Тапсырма', 'Job'),
  lastRun: e('Последний запуск', 'Соңғы іске қосу', 'Last run'),
  state: e('Состояние', 'Күйі', 'State'),
  availability: e('Доступность за 90 дней', '90 күндегі қолжетімділік', '90-day availability'),
  openIncidents: e('Открытых инцидентов', 'Ашық инциденттер', 'Open incidents'),
  download: e('Скачать', 'Жүктеу', 'Download'),
  // status page
  statusTitle: e('Состояние информационных систем', 'Ақпараттық жүйелердің күйі', 'Status of the information systems'),
  operational: e('Работает', 'Жұмыс істейді', 'Operational'),
  degraded: e('Работает с перебоями', 'Іркілістермен жұмыс істейді', 'Degraded'),
  down: e('Не работает', 'Жұмыс істемейді', 'Down'),
  maintenance: e('Плановые работы', 'Жоспарлы жұмыстар', 'Maintenance'),
  maintenanceNow: e('идут сейчас', 'қазір жүріп жатыр', 'in progress'),
  noMaintenance: e('Плановых работ не запланировано.', 'Жоспарлы жұмыстар жоқ.', 'No maintenance is planned.'),
  history: e('История за 90 дней', '90 күндік тарих', '90-day history'),
  daysAgo90: e('90 дней назад', '90 күн бұрын', '90 days ago'),
  today: e('сегодня', 'бүгін', 'today'),
  updated: e('Обновлено', 'Жаңартылды', 'Updated'),
  zone: e('время Астаны', 'Астана уақыты', 'Astana time'),
  reportProblem: e('Сообщить о проблеме', 'Мәселе туралы хабарлау', 'Report a problem'),
  // acknowledge link
  ackTitle: e('Подтверждение инцидента', 'Инцидентті растау', 'Acknowledge the incident'),
  ackConfirm: e('Подтвердить: я занимаюсь этим', 'Растау: мен айналысамын', 'Acknowledge: I am on it'),
  ackDone: e('Инцидент подтверждён. Эскалация остановлена.', 'Инцидент расталды. Эскалация тоқтатылды.', 'The incident is acknowledged. Escalation stopped.'),
  ackAs: e('Подтверждение от имени', 'Растаушы', 'Acknowledging as'),
  link_malformed: e('Ссылка повреждена.', 'Сілтеме бүлінген.', 'The link is malformed.'),
  link_forged: e('Ссылка недействительна.', 'Сілтеме жарамсыз.', 'The link is not valid.'),
  link_expired: e('Срок действия ссылки истёк.', 'Сілтеменің мерзімі өтті.', 'The link has expired.'),
  link_used: e('Ссылка уже использована.', 'Сілтеме қолданылған.', 'The link was already used.'),
  link_disabled: e('Ссылки подтверждения отключены.', 'Растау сілтемелері өшірілген.', 'Acknowledge links are not enabled.'),
  openIncident: e('Открыть страницу инцидента', 'Инцидент бетін ашу', 'Open the incident page'),
  // request status
  requestStatus: e('Статус обращения', 'Өтініштің күйі', 'Request status'),
  requestNumber: e('Номер обращения', 'Өтініш нөмірі', 'Request number'),
  email: e('Электронная почта, указанная в обращении', 'Өтініште көрсетілген электрондық пошта', 'E-mail given in the request'),
  find: e('Найти', 'Табу', 'Find'),
  requestNotFound: e('Обращение с таким номером и почтой не найдено.', 'Мұндай нөмір мен поштасы бар өтініш табылмады.', 'No request with this number and e-mail.'),
  received: e('Получено', 'Алынды', 'Received'),
  rule: e('Правило срока', 'Мерзім ережесі', 'Deadline rule'),
  noAnswerYet: e('Ответа пока нет.', 'Әзірге жауап жоқ.', 'No answer yet.'),
  rq_received: e('получено', 'алынды', 'received'),
  rq_acknowledged: e('принято в работу', 'жұмысқа қабылданды', 'acknowledged'),
  rq_in_progress: e('в работе', 'жұмыс үстінде', 'in progress'),
  rq_answered: e('дан ответ', 'жауап берілді', 'answered'),
  rq_closed: e('закрыто', 'жабылды', 'closed'),
  extended: e('продлён', 'ұзартылды', 'extended'),
  invalidField: e('Поле заполнено неверно', 'Өріс қате толтырылған', 'The field is not valid'),
} as const satisfies Record<string, Entry>;

export type Key = keyof typeof T;
export const t = (lang: Lang, key: Key): string => T[key][lang];

const WEEKDAYS: Record<Lang, string[]> = {
  ru: ['воскресенье', 'понедельник', 'вторник', 'среда', 'четверг', 'пятница', 'суббота'],
  kk: ['жексенбі', 'дүйсенбі', 'сейсенбі', 'сәрсенбі', 'бейсенбі', 'жұма', 'сенбі'],
  en: ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'],
};
export const weekday = (lang: Lang, d: number) => WEEKDAYS[lang][d]!;

/** "2 h 5 min" in the page's language; the sign is the caller's. */
export function duration(lang: Lang, ms: number): string {
  const m = Math.max(0, Math.round(Math.abs(ms) / 60_000));
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const min = m % 60;
  const u = { ru: ['д', 'ч', 'мин'], kk: ['күн', 'сағ', 'мин'], en: ['d', 'h', 'min'] }[lang];
  const parts: string[] = [];
  if (d) parts.push(`${d} ${u[0]}`);
  if (h) parts.push(`${h} ${u[1]}`);
  if (!d && (min || !h)) parts.push(`${min} ${u[2]}`);
  return parts.join(' ');
}

/** A severity in the page's language; an unknown one as it is. */
export const severityWord = (lang: Lang, sev: string): string => (`sev_${sev}` in T ? T[`sev_${sev}` as Key][lang] : sev);
