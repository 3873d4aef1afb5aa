import type { Field, FieldError, FieldProblem, Lang } from './forms.ts';

// Every word a request's user reads, in Russian and Kazakh. Messages never echo a submitted value back.

export const FIELD_LABELS: Record<Field, Record<Lang, string>> = {
  system: { ru: 'Система', kk: 'Жүйе' },
  lang: { ru: 'Язык', kk: 'Тіл' },
  kind: { ru: 'Вид обращения', kk: 'Өтініш түрі' },
  subject: { ru: 'Тема обращения', kk: 'Өтініштің тақырыбы' },
  body: { ru: 'Текст обращения', kk: 'Өтініштің мәтіні' },
  contact: { ru: 'Контактные данные', kk: 'Байланыс деректері' },
  email: { ru: 'Адрес электронной почты', kk: 'Электрондық пошта мекенжайы' },
  phone: { ru: 'Номер телефона', kk: 'Телефон нөмірі' },
  full_name: { ru: 'Фамилия, имя, отчество', kk: 'Тегі, аты, әкесінің аты' },
  iin: { ru: 'ИИН', kk: 'ЖСН' },
  login: { ru: 'Логин', kk: 'Логин' },
  position: { ru: 'Должность', kk: 'Лауазымы' },
  access_action: { ru: 'Действие с доступом', kk: 'Қолжетімділікпен әрекет' },
  access_systems: { ru: 'Информационные системы', kk: 'Ақпараттық жүйелер' },
  access_functions: { ru: 'Функции (действия) в системе', kk: 'Жүйедегі функциялар (әрекеттер)' },
  access_basis: { ru: 'Основание заявки', kk: 'Өтінімнің негізі' },
  attachments: { ru: 'Вложение', kk: 'Тіркеме' },
};

const PROBLEMS: Record<FieldProblem, Record<Lang, string>> = {
  required: { ru: 'обязательное поле, заполните его', kk: 'міндетті өріс, оны толтырыңыз' },
  too_long: { ru: 'слишком длинный текст', kk: 'мәтін тым ұзын' },
  invalid_text: { ru: 'содержит недопустимые символы', kk: 'жарамсыз таңбалар бар' },
  unknown_system: { ru: 'такой системы нет в списке', kk: 'мұндай жүйе тізімде жоқ' },
  invalid_choice: { ru: 'выберите значение из списка', kk: 'тізімнен мән таңдаңыз' },
  iin_format: { ru: 'ИИН состоит ровно из 12 цифр', kk: 'ЖСН дәл 12 цифрдан тұрады' },
  iin_checksum: { ru: 'неверная контрольная цифра ИИН, проверьте номер', kk: 'ЖСН бақылау цифры қате, нөмірді тексеріңіз' },
  iin_date: { ru: 'ИИН не соответствует возможной дате рождения', kk: 'ЖСН мүмкін туған күнге сәйкес келмейді' },
  phone: { ru: 'нужен казахстанский номер в формате +7 7XX XXX XX XX', kk: '+7 7XX XXX XX XX форматындағы қазақстандық нөмір қажет' },
  email: { ru: 'неверный адрес электронной почты', kk: 'электрондық пошта мекенжайы қате' },
  not_allowed: { ru: 'это поле не предусмотрено формой', kk: 'бұл өріс нысанда қарастырылмаған' },
};

export function fieldMessage(e: FieldError, lang: Lang): string {
  return `${FIELD_LABELS[e.field][lang]}: ${PROBLEMS[e.problem][lang]}`;
}

/** Request-level problems (not tied to a form field). */
export type IntakeProblem =
  | 'validation' | 'too_large' | 'too_many_files' | 'file_type' | 'file_name' | 'file_mismatch' | 'rate_limited'
  | 'unsupported_media' | 'bad_encoding' | 'malformed' | 'too_deep' | 'internal' | 'attachment_budget' | 'attachment_quota';

export const INTAKE_MESSAGES: Record<IntakeProblem, Record<Lang, string>> = {
  validation: { ru: 'Обращение не принято: исправьте поля формы', kk: 'Өтініш қабылданбады: нысан өрістерін түзетіңіз' },
  too_large: { ru: 'Файл слишком большой: не более {max} МБ', kk: 'Файл тым үлкен: {max} МБ-тан аспауы керек' },
  too_many_files: { ru: 'Слишком много файлов: не более {max}', kk: 'Файлдар тым көп: {max}-дан аспауы керек' },
  file_type: { ru: 'Этот тип файла не принимается; допустимы: {types}', kk: 'Бұл файл түрі қабылданбайды; рұқсат етілгені: {types}' },
  file_name: { ru: 'Имя файла не должно содержать путь или служебные символы', kk: 'Файл атауында жол немесе қызметтік таңбалар болмауы керек' },
  file_mismatch: { ru: 'Расширение файла не соответствует его содержимому', kk: 'Файл кеңейтімі оның мазмұнына сәйкес келмейді' },
  rate_limited: { ru: 'Слишком много обращений с вашего адреса; повторите через {minutes} мин.', kk: 'Сіздің мекенжайыңыздан өтініштер тым көп; {minutes} мин. кейін қайталаңыз' },
  unsupported_media: { ru: 'Неподдерживаемый формат запроса', kk: 'Сұраудың форматы қолдау көрсетілмейді' },
  bad_encoding: { ru: 'Текст должен быть в кодировке UTF-8', kk: 'Мәтін UTF-8 кодтауында болуы керек' },
  malformed: { ru: 'Запрос повреждён и не может быть прочитан', kk: 'Сұрау бүлінген және оқылмайды' },
  too_deep: { ru: 'Запрос слишком сложной структуры', kk: 'Сұраудың құрылымы тым күрделі' },
  internal: { ru: 'Не удалось сохранить обращение; повторите позже', kk: 'Өтінішті сақтау мүмкін болмады; кейінірек қайталаңыз' },
  attachment_budget: {
    ru: 'С вашего адреса сегодня уже отправлено {max} МБ вложений. Отправьте обращение без файлов или повторите завтра',
    kk: 'Сіздің мекенжайыңыздан бүгін {max} МБ тіркеме жіберілді. Өтінішті файлсыз жіберіңіз немесе ертең қайталаңыз',
  },
  attachment_quota: {
    ru: 'Хранилище вложений заполнено. Отправьте обращение без файлов; специалист запросит их при необходимости',
    kk: 'Тіркемелер қоймасы толы. Өтінішті файлсыз жіберіңіз; қажет болса маман оларды сұрайды',
  },
};

export function intakeMessage(p: IntakeProblem, lang: Lang, vars: Record<string, string | number> = {}): string {
  return INTAKE_MESSAGES[p][lang].replace(/\{(\w+)\}/g, (_m, k: string) => String(vars[k] ?? ''));
}

export const PAGE_TEXT = {
  title: { ru: 'Сообщить о проблеме', kk: 'Мәселе туралы хабарлау' },
  intro: {
    ru: 'Опишите проблему. Ответ будет направлен на указанный адрес электронной почты в установленный срок.',
    kk: 'Мәселені сипаттаңыз. Жауап белгіленген мерзімде көрсетілген электрондық пошта мекенжайына жіберіледі.',
  },
  chooseSystem: { ru: 'Выберите систему', kk: 'Жүйені таңдаңыз' },
  next: { ru: 'Далее', kk: 'Әрі қарай' },
  submit: { ru: 'Отправить', kk: 'Жіберу' },
  required: { ru: 'обязательно', kk: 'міндетті' },
  attachmentHint: { ru: 'Необязательно. До {max} МБ: {types}', kk: 'Міндетті емес. {max} МБ дейін: {types}' },
  accepted: { ru: 'Обращение принято', kk: 'Өтініш қабылданды' },
  number: { ru: 'Номер обращения', kk: 'Өтініш нөмірі' },
  due: { ru: 'Срок ответа', kk: 'Жауап беру мерзімі' },
  zone: { ru: 'время Астаны, UTC+5', kk: 'Астана уақыты, UTC+5' },
  errorsTitle: { ru: 'Обращение не принято', kk: 'Өтініш қабылданбады' },
  back: { ru: 'Вернуться к форме', kk: 'Нысанға оралу' },
  otherLang: { ru: 'Қазақша', kk: 'Русский' },
  personalData: {
    ru: 'Персональные данные используются только для ответа на обращение и защищены Законом РК «О персональных данных и их защите».',
    kk: 'Дербес деректер тек өтінішке жауап беру үшін пайдаланылады және ҚР «Дербес деректер және оларды қорғау туралы» Заңымен қорғалады.',
  },
} as const;

/** The acknowledgement e-mail the user receives (002 §17, 000 §7): the request number and the due date. */
export function acknowledgementEmail(lang: Lang, number: string, dueLocal: string, systemName: string): { subject: string; text: string } {
  if (lang === 'kk') {
    return {
      subject: `Өтініш ${number} қабылданды`,
      text: `Сәлеметсіз бе!\n\n«${systemName}» бойынша өтінішіңіз ${number} нөмірімен тіркелді.\n` +
        `Жауап беру мерзімі: ${dueLocal} (Астана уақыты).\n\nБұл хат автоматты түрде жіберілді.`,
    };
  }
  return {
    subject: `Обращение ${number} принято`,
    text: `Здравствуйте!\n\nВаше обращение по системе «${systemName}» зарегистрировано под номером ${number}.\n` +
      `Срок ответа: ${dueLocal} (время Астаны).\n\nПисьмо отправлено автоматически.`,
  };
}

const WEEKDAYS: Record<Lang, string[]> = {
  ru: ['воскресенье', 'понедельник', 'вторник', 'среда', 'четверг', 'пятница', 'суббота'],
  kk: ['жексенбі', 'дүйсенбі', 'сейсенбі', 'сәрсенбі', 'бейсенбі', 'жұма', 'сенбі'],
};

/** "3 working days" in the user's words, with the clause of the rules that sets it. */
export function dueRuleWords(rule: string, form: string, lang: Lang): string {
  const m = /^(\d+) (working|calendar) days?$/.exec(rule);
  const clause = ({ enbek: '000 §7', ministry: '002 §11', nqs: '004 §16', access: '002 §17' } as Record<string, string>)[form];
  if (!m) return rule;
  const n = m[1];
  const words = lang === 'kk'
    ? `${n} ${m[2] === 'working' ? 'жұмыс күні' : 'күнтізбелік күн'}`
    : `${n} ${m[2] === 'working' ? 'рабочих дня' : 'календарных дня'}`;
  return clause ? `${words} (${clause})` : words;
}

export interface ReceiptMailInput {
  lang: Lang;
  number: string;
  systemName: string;
  /** Local date and time of the deadline, "2026-03-05 18:00", and its weekday (0 = Sunday). */
  dueLocal: string;
  dueWeekday: number;
  rule: string;
  form: string;
  statusUrl?: string;
}

/** Sent at receipt: the number, the deadline with its weekday and the rule that set it, where to follow it. */
export function receiptEmail(i: ReceiptMailInput): { subject: string; text: string } {
  const day = WEEKDAYS[i.lang][i.dueWeekday]!;
  const rule = dueRuleWords(i.rule, i.form, i.lang);
  if (i.lang === 'kk') {
    return {
      subject: `Өтініш ${i.number} қабылданды`,
      text: `Сәлеметсіз бе!\n\n«${i.systemName}» бойынша өтінішіңіз ${i.number} нөмірімен тіркелді.\n` +
        `Жауап беру мерзімі: ${i.dueLocal}, ${day} (Астана уақыты); мерзім: ${rule}.\n` +
        (i.statusUrl ? `Өтініштің күйі: ${i.statusUrl}\n` : '') +
        `Жауап осы мекенжайға жіберіледі.\n\nБұл хат автоматты түрде жіберілді.`,
    };
  }
  return {
    subject: `Обращение ${i.number} принято`,
    text: `Здравствуйте!\n\nВаше обращение по системе «${i.systemName}» зарегистрировано под номером ${i.number}.\n` +
      `Срок ответа: ${i.dueLocal}, ${day} (время Астаны); срок: ${rule}.\n` +
      (i.statusUrl ? `Статус обращения: ${i.statusUrl}\n` : '') +
      `Ответ придёт на этот адрес.\n\nПисьмо отправлено автоматически.`,
  };
}

/** The answer, in the language the user wrote in; an access request's decision is said first. */
export function answerEmail(i: { lang: Lang; number: string; systemName: string; answer: string; decision?: 'granted' | 'refused' | null; statusUrl?: string }): { subject: string; text: string } {
  const kk = i.lang === 'kk';
  const decision = i.decision
    ? kk
      ? `Шешім: ${i.decision === 'granted' ? 'қолжетімділік берілді' : 'бас тартылды'}.\n\n`
      : `Решение: ${i.decision === 'granted' ? 'доступ предоставлен' : 'в доступе отказано'}.\n\n`
    : '';
  return kk
    ? {
        subject: `${i.number} өтінішіне жауап`,
        text: `Сәлеметсіз бе!\n\n«${i.systemName}» бойынша ${i.number} өтінішіңізге жауап:\n\n${decision}${i.answer}\n\n` +
          (i.statusUrl ? `Өтініштің күйі: ${i.statusUrl}\n\n` : '') + `Бұл хат автоматты түрде жіберілді.`,
      }
    : {
        subject: `Ответ на обращение ${i.number}`,
        text: `Здравствуйте!\n\nОтвет на ваше обращение ${i.number} по системе «${i.systemName}»:\n\n${decision}${i.answer}\n\n` +
          (i.statusUrl ? `Статус обращения: ${i.statusUrl}\n\n` : '') + `Письмо отправлено автоматически.`,
      };
}
