import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import { nullLogger } from '../../../src/log.ts';
import { WorkingCalendar } from '../../../src/requests/calendar.ts';
import { loadCalendarFile } from '../../../src/requests/calendar-file.ts';
import { resolveRequestsConfig } from '../../../src/requests/config.ts';
import { openRequestDeadlines } from '../../../src/requests/queries.ts';
import { validateIntake, type Intake, type RawIntake } from '../../../src/requests/forms.ts';
import { RequestService, TRANSITIONS, type RequestMail, type Action, type DeadlineChange } from '../../../src/requests/service.ts';
import type { RequestStatus } from '../../../src/requests/rows.ts';
import type { Store } from '../../../src/store/store.ts';
import { sig } from '../../support/signals.ts';
import { freshStore, storeKind } from '../../support/store.ts';

const FILE = fileURLToPath(new URL('../../../config/calendars/kz.yaml', import.meta.url));
const config = resolveRequestsConfig({ retention: '30d' });

const NQS: RawIntake = {
  system: 'nqs', lang: 'kk', full_name: 'Асқар Бекұлы', iin: '850115300011', login: 'askar85', phone: '8 (701) 123-45-67',
  email: 'askar@example.kz', subject: 'Кіру мүмкін емес', body: 'Кіру кезінде қате шығады, ЖСН 850115300011',
};

function intake(raw: RawIntake, channel: 'web' | 'api' | 'specialist' = 'api'): Intake {
  const v = validateIntake(raw, config.systems, channel);
  assert.ok(v.ok, JSON.stringify(!v.ok && v.errors));
  return v.value;
}

describe(`request service on ${storeKind}`, () => {
  let store: Store;
  let clock: FakeClock;
  let svc: RequestService;
  let calendar: WorkingCalendar;
  const mails: RequestMail[] = [];
  const removed: string[] = [];
  const deadlines: DeadlineChange[] = [];

  before(async () => {
    store = await freshStore();
    clock = new FakeClock('2026-03-20T12:59:00Z'); // Fri 20 Mar 2026 17:59 Almaty
    calendar = loadCalendarFile(FILE).calendar;
    svc = new RequestService({
      store, clock, calendar: () => calendar, config: () => config, logger: nullLogger,
      onMail: async (q, mail) => {
        const r = await q.query<{ status: string }>('SELECT status FROM requests WHERE id = $1', [mail.requestId]);
        assert.equal(r.rows[0]!.status, mail.kind === 'receipt' ? 'received' : 'answered', 'the hook runs inside the deciding transaction');
        mails.push(mail);
      },
      statusUrl: (n) => `http://127.0.0.1:8080/requests/${n}/status`,
      removeAttachment: async (name) => void removed.push(name),
      onDeadline: async (_q, change) => void deadlines.push(change),
    });
  });
  after(async () => {
    await store.close();
  });

  it('stores an NQS report with its deadline and warning times', async () => {
    const r = await svc.intake(intake(NQS));
    assert.match(r.number, /^R-2026-\d{6}$/);
    assert.equal(r.status, 'received');
    assert.equal(r.d0, '2026-03-20');
    assert.equal(r.dueRule, '3 working days');
    assert.equal(r.dueAt, '2026-03-30T13:00:00.000Z');
    const span = Date.parse('2026-03-30T13:00:00Z') - Date.parse('2026-03-20T12:59:00Z');
    assert.deepEqual(r.warnAt, [
      { fraction: 0.5, at: new Date(Date.parse('2026-03-20T12:59:00Z') + span / 2).toISOString() },
      { fraction: 0.75, at: new Date(Date.parse('2026-03-20T12:59:00Z') + span * 0.75).toISOString() },
    ]);
    assert.equal(r.iin, '850115300011');
    assert.equal(r.phone, '+77011234567');
  });

  it('gives a ministry report 3 calendar days and links it to the open incident of its system', async () => {
    const engine = new IncidentEngine({ store, clock, policy: () => ({ reopenWindowMs: 1_800_000, flapFlips: 4, flapWindowMs: 3_600_000 }) });
    const [out] = await engine.processBatch([sig({ system: 'e-sobes', fingerprint: 'esobes-down', observedAt: clock.now() })]);
    const raw = { system: 'e-sobes', contact: 'Бухгалтерия', email: 'b@example.kz', subject: 'Не открывается', body: 'Ошибка 502' };
    const a = await svc.intake(intake(raw, 'web'));
    const b = await svc.intake(intake(raw, 'web'));
    // D0 Fri 20 Mar + 3 = Mon 23 Mar (Nauryz) -> next working day Thu 26 Mar, 18:00.
    assert.equal(a.dueAt, '2026-03-26T13:00:00.000Z');
    assert.equal(a.incidentId, out!.incidentId);
    const counts = await svc.requestCountsByIncident([out!.incidentId!]);
    assert.equal(counts.get(out!.incidentId!), 2);
    assert.ok(b.incidentId);
    const other = await svc.intake(intake({ ...raw, system: 'qandas' }, 'web'));
    assert.equal(other.incidentId, null, 'no incident is open for qandas');
  });

  it('walks the lifecycle and refuses every transition the table does not allow', async () => {
    const statuses: RequestStatus[] = ['received', 'acknowledged', 'in_progress', 'answered', 'closed'];
    const path: Record<RequestStatus, Action[]> = {
      received: [], acknowledged: ['acknowledge'], in_progress: ['acknowledge', 'start'],
      answered: ['acknowledge', 'start', 'answer'], closed: ['acknowledge', 'start', 'answer', 'close'],
    };
    for (const status of statuses) {
      for (const action of Object.keys(TRANSITIONS) as Action[]) {
        const r = await svc.intake(intake(NQS));
        for (const step of path[status]) await svc.transition(r.id, step, 'op', { answer: 'Исправлено' });
        const allowed = TRANSITIONS[action].from.includes(status);
        if (allowed) {
          const done = await svc.transition(r.id, action, 'op', { answer: 'Исправлено' });
          assert.equal(done.status, TRANSITIONS[action].to, `${status} --${action}->`);
        } else {
          await assert.rejects(svc.transition(r.id, action, 'op', { answer: 'x' }), { code: 'KZ_ERR_CONFLICT', statusCode: 409 }, `${status} --${action}-> must be refused`);
          assert.equal((await svc.get(r.id, 'admin')).status, status, 'a refused transition changes nothing');
        }
      }
    }
  });

  it('receipt sends the user an e-mail in their language with the number, due date, weekday and rule; the answer follows', async () => {
    mails.length = 0;
    const r = await svc.intake(intake(NQS));
    assert.equal(mails.length, 1, 'the acknowledgement leaves at receipt, not when a specialist acknowledges');
    assert.equal(mails[0]!.kind, 'receipt');
    assert.equal(mails[0]!.to, 'askar@example.kz');
    assert.equal(mails[0]!.lang, 'kk');
    assert.equal(mails[0]!.subject, `Өтініш ${r.number} қабылданды`);
    // Friday 17:59 in Almaty: D0 is the next working day, Monday 23 March; 3 working days end Monday 30 March.
    assert.match(mails[0]!.text, /Жауап беру мерзімі: 2026-03-30 18:00, дүйсенбі/);
    assert.match(mails[0]!.text, /3 жұмыс күні \(004 §16\)/);
    assert.match(mails[0]!.text, new RegExp(`http://127.0.0.1:8080/requests/${r.number}/status`));
    assert.match(mails[0]!.text, /ҰБЖ цифрлық платформасы/);
    await svc.transition(r.id, 'acknowledge', 'op');
    assert.equal(mails.length, 1, 'acknowledging sends nothing more');
    await svc.transition(r.id, 'answer', 'op', { answer: 'Кіру қалпына келтірілді' });
    assert.equal(mails.length, 2);
    assert.equal(mails[1]!.kind, 'answer');
    assert.equal(mails[1]!.subject, `${r.number} өтінішіне жауап`);
    assert.match(mails[1]!.text, /Кіру қалпына келтірілді/);
  });

  it('answering needs a text, and an access request needs a decision', async () => {
    const acc = await svc.intake(intake({
      kind: 'access', system: 'labour-market', full_name: 'Иванов Иван', iin: '850115300011', position: 'специалист',
      phone: '+77172556677', email: 'ivanov@gov.kz',
      access: { action: 'grant', systems: ['labour-market', 'e-sobes'], functions: 'просмотр', basis: 'приказ № 12 от 10.03.2026' },
    }));
    assert.equal(acc.form, 'access');
    assert.equal(acc.dueAt, '2026-03-30T13:00:00.000Z', '3 working days (002 §17)');
    assert.equal(acc.incidentId, null);
    await svc.transition(acc.id, 'acknowledge', 'op');
    await assert.rejects(svc.transition(acc.id, 'answer', 'op', {}), { code: 'KZ_ERR_VALIDATION' });
    await assert.rejects(svc.transition(acc.id, 'answer', 'op', { answer: 'ok' }), /decision/);
    mails.length = 0;
    const done = await svc.transition(acc.id, 'answer', 'op', { answer: 'Логин выдан', decision: 'granted' });
    assert.equal(done.decision, 'granted');
    // The decision goes to the requester's corporate address given on the form (002 §17).
    assert.deepEqual(mails.map((m) => [m.kind, m.to]), [['answer', 'ivanov@gov.kz']]);
    assert.match(mails[0]!.text, /Решение: доступ предоставлен\.\n\nЛогин выдан/);
  });

  it('extends an NQS deadline from the original D0 with a reason, and refuses what the rules do not allow', async () => {
    const r = await svc.intake(intake(NQS));
    await assert.rejects(svc.extend(r.id, 'op', 'defect_fix', '  '), /note/);
    const e10 = await svc.extend(r.id, 'op', 'defect_fix', 'нужна доработка');
    assert.equal(e10.dueAt, '2026-04-08T13:00:00.000Z');
    assert.equal(e10.extendedTo, 10);
    const e20 = await svc.extend(r.id, 'op', 'platform_functioning', 'сбой платформы');
    assert.equal(e20.dueAt, '2026-04-22T13:00:00.000Z');
    await assert.rejects(svc.extend(r.id, 'op', 'defect_fix', 'снова'), { statusCode: 409 });
    const mine = () => deadlines.filter((d) => d.requestId === r.id).map((d) => [d.version, d.dueAt && new Date(d.dueAt).toISOString(), d.warnAt.length]);
    assert.deepEqual(mine(), [
      [1, '2026-03-30T13:00:00.000Z', 2], [2, '2026-04-08T13:00:00.000Z', 2], [3, '2026-04-22T13:00:00.000Z', 2],
    ], 'every deadline change reaches the escalation hook, versioned');
    await svc.transition(r.id, 'acknowledge', 'op');
    await svc.transition(r.id, 'answer', 'op', { answer: 'Исправлено' });
    assert.deepEqual(mine().at(-1), [3, null, 0], 'answering stops the clock');
    const full = await svc.get(r.id, 'admin');
    assert.equal(full.extensions.length, 2);
    assert.deepEqual(full.events.map((e) => (e as { kind: string }).kind), ['received', 'extended', 'extended', 'acknowledge', 'answer']);
    const enbek = await svc.intake(intake({ system: 'enbek', contact: 'тел. 87011234567', email: 'a@b.kz', subject: 's', body: 'b' }));
    await assert.rejects(svc.extend(enbek.id, 'op', 'defect_fix', 'x'), /no extension for the enbek form/);
  });

  it('lists open deadlines for the escalation engine, earliest first', async () => {
    const all = await openRequestDeadlines(store);
    assert.ok(all.length > 0);
    assert.ok(all.every((d, i) => i === 0 || all[i - 1]!.dueAt <= d.dueAt));
    assert.ok(all.every((d) => ['received', 'acknowledged', 'in_progress'].includes(d.status)));
    const soon = await openRequestDeadlines(store, { dueBefore: Date.parse('2026-03-27T00:00:00Z') });
    assert.ok(soon.length > 0 && soon.every((d) => d.dueAt < '2026-03-27T00:00:00.000Z'));
    assert.ok(soon.length < all.length);
  });

  it('masks personal data for roles that should not see it', async () => {
    const r = await svc.intake(intake(NQS));
    const v = await svc.get(r.id, 'viewer');
    assert.equal(v.iin, '850115*****1');
    assert.equal(v.phone, '+7 701 *** ** 67');
    assert.equal(v.email, 'a***@***');
    assert.equal(v.fullName, 'А*** Б***');
    assert.equal(v.login, 'a***');
    assert.equal(v.body, 'Кіру кезінде қате шығады, ЖСН 850115*****1');
    assert.equal(v.personalData, 'masked');
    const list = await svc.list({ status: 'open', system: 'nqs' }, 'oncall');
    assert.ok(list.items.length > 0);
    assert.ok(list.items.every((i) => i.iin === '850115*****1' && !JSON.stringify(i).includes('850115300011')));
    const admin = await svc.get(r.id, 'admin');
    assert.equal(admin.iin, '850115300011');
    assert.equal(admin.personalData, 'whole');
  });

  it('recomputes open deadlines when the calendar changes', async () => {
    const r = await svc.intake(intake(NQS));
    const old = calendar;
    // A calendar that lost Nauryz 2026: Mon 23, Tue 24, Wed 25 become working days.
    calendar = new WorkingCalendar({ ...old.data, entries: old.data.entries.filter((e) => !e.date.startsWith('2026-03-2')) });
    try {
      const changed = await svc.recomputeDeadlines();
      assert.ok(changed >= 1);
      assert.equal((await svc.get(r.id, 'admin')).dueAt, '2026-03-25T13:00:00.000Z');
    } finally {
      calendar = old;
      await svc.recomputeDeadlines();
    }
    assert.equal((await svc.get(r.id, 'admin')).dueAt, '2026-03-30T13:00:00.000Z');
  });

  it('erases personal data after the retention period and keeps the request anonymised', async () => {
    const r = await svc.intake(intake(NQS), {
      attachments: [{ storedName: 'a'.repeat(32) + '.pdf', originalName: 'скан паспорта.pdf', mediaType: 'application/pdf', size: 10, sha256: 'f'.repeat(64) }],
    });
    for (const a of ['acknowledge', 'answer', 'close'] as const) await svc.transition(r.id, a, 'op', { answer: 'Готово, ЖСН 850115300011' });
    assert.equal((await svc.eraseExpired()).erased, 0, 'not yet');
    clock.advance(31 * 86_400_000);
    const res = await svc.eraseExpired();
    assert.ok(res.erased >= 1);
    assert.deepEqual(removed, ['a'.repeat(32) + '.pdf']);
    const v = await svc.get(r.id, 'admin');
    assert.equal(v.personalData, 'erased');
    assert.deepEqual([v.iin, v.phone, v.email, v.fullName, v.login, v.body, v.subject, v.answer], [null, null, null, null, null, null, null, null]);
    assert.equal(v.status, 'closed');
    assert.equal(v.system, 'nqs');
    assert.equal((v.attachments[0] as { name: string | null }).name, null);
    const raw = await store.query('SELECT * FROM requests WHERE id = $1', [r.id]);
    assert.ok(!JSON.stringify(raw.rows).includes('850115300011'));
    assert.equal((await svc.eraseExpired()).erased, 0, 'erasing is done once');
  });
});
