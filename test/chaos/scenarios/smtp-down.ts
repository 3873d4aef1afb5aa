import assert from 'node:assert/strict';
import { chaosAlert, kuzetConfig, mailsByKey, postAlerts, sleep, statusOf, until, type Scenario } from '../support.ts';

// SMTP down for longer than the retry budget. The relay refuses connections while ten incidents page: each page is
// retried until `escalation.outbox.max_age` (12 s here) and then given up as a dead letter (reason expired), visible
// in the API, the metrics and the incident's timeline, and not retried after that. Then the relay answers but refuses
// every recipient (550): three more pages are dead at once (reason permanent); kuzet's check of the channel passes
// (EHLO works) but the dead page it sends as proof is refused, so the pages stay dead and keep their one re-drive.
// One incident is acknowledged meanwhile.
// When the relay works again nothing new is paged: kuzet's own check of the channel (nodemailer's verify, every
// `escalation.outbox.check_interval`, 1 s here, doubling up to 2 s while it is still down) finds it back, and the dead
// pages of the incidents still open are re-driven once each and delivered once; the acknowledged incident's page
// stays dead. kuzet never stops.

const MAX_AGE_S = 12;
const CHECK = { check_interval: '1s', max_check_interval: '2s' };
const REFUSED = 10;
const REJECTED = 3;

/** kuzet_notification_channel_checks_total for the e-mail channel, by result. */
async function checkCounts(url: string): Promise<{ up: number; down: number }> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const of = (result: string) => Number(new RegExp(`^kuzet_notification_channel_checks_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { up: of('up'), down: of('down') };
}

export const scenario: Scenario = {
  name: 'smtp-down',
  title: `SMTP down for longer than the retry budget (max_age ${MAX_AGE_S} s): dead letters, visible, re-driven once when mail works again`,
  async run(h) {
    const port = await h.port();
    const k = await h.startKuzet({
      name: 'kuzet',
      port,
      configYaml: kuzetConfig({ port, dbUrl: h.dbUrl, smtpPort: h.smtp.port, steps: ['0s', '1h'], smtpTimeout: '2s', outbox: { max_age: `${MAX_AGE_S}s`, base_backoff: '1s', max_backoff: '2s', lease: '5s', ...CHECK } }),
    });
    const count = async (sql: string, params: unknown[] = []) => Number((await h.sql<{ n: number }>(sql, params))[0]!.n);
    const incidentOf = async (fp: number) => Number((await h.sql<{ id: number }>(`SELECT id FROM incidents WHERE labels->>'instance' = $1`, [`host-${fp}.chaos:443`]))[0]!.id);

    // 1. The relay is gone: connections are refused for longer than max_age.
    await h.smtp.setMode('down');
    const downAt = Date.now();
    assert.equal(await postAlerts(k.url, Array.from({ length: REFUSED }, (_, i) => chaosAlert(i, `m${i}`))), 200);
    h.progress(`SMTP refuses connections; ${REFUSED} incidents paging`);
    await until(`${REFUSED} dead letters`, async () => (await count(`SELECT count(*)::int AS n FROM outbox WHERE state = 'dead'`)) === REFUSED, (MAX_AGE_S + 20) * 1000, 500);
    const deadAfter = (Date.now() - downAt) / 1000;
    const attempts = await count(`SELECT coalesce(sum(attempts), 0)::int AS n FROM outbox`);
    h.progress(`all ${REFUSED} pages dead after ${deadAfter.toFixed(1)} s, ${attempts} attempts; checking they are not retried`);
    await sleep(5_000);
    const attemptsLater = await count(`SELECT coalesce(sum(attempts), 0)::int AS n FROM outbox`);
    const expired = await count(`SELECT count(*)::int AS n FROM incident_events WHERE kind = 'notification_dead' AND detail->>'reason' = 'expired'`);

    // 2. The relay answers again but refuses every recipient: a permanent refusal, dead at once.
    await h.smtp.setMode('reject');
    const refusedFor = (Date.now() - downAt) / 1000;
    assert.equal(await postAlerts(k.url, Array.from({ length: REJECTED }, (_, i) => chaosAlert(100 + i, `r${i}`))), 200);
    await until(`${REFUSED + REJECTED} dead letters`, async () => (await count(`SELECT count(*)::int AS n FROM outbox WHERE state = 'dead'`)) === REFUSED + REJECTED, 15_000, 250);
    const permanent = await count(`SELECT count(*)::int AS n FROM incident_events WHERE kind = 'notification_dead' AND detail->>'reason' = 'permanent'`);
    // The relay now answers EHLO, so the channel check passes, but the dead page it sends as proof is refused: the
    // pages stay dead and keep their one re-drive. Held for longer than max_check_interval, so a check happens.
    const proofsBefore = await count(`SELECT coalesce(sum(attempts), 0)::int AS n FROM outbox`);
    await sleep(4_000);
    const proofsRefused = (await count(`SELECT coalesce(sum(attempts), 0)::int AS n FROM outbox`)) - proofsBefore;
    const redrivenWhileRefused = await count(`SELECT count(*)::int AS n FROM incident_events WHERE kind = 'notification_redriven'`);

    // 3. The dead letters are visible: the API, the metric, every incident's timeline. kuzet is up and ready.
    const listed = await k.api('/api/v1/notifications/dead-letters?limit=100');
    assert.equal(listed.status, 200);
    const listedIds = ((listed.body as { items: Array<{ id: number }> }).items ?? []).map((x) => x.id);
    const metrics = await (await fetch(`${k.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const gauge = Number(/^kuzet_notification_dead_letters (\d+)/m.exec(metrics)?.[1] ?? NaN);
    const onTimeline = await count(`SELECT count(DISTINCT incident_id)::int AS n FROM incident_events WHERE kind = 'notification_dead'`);
    const ready = await statusOf(`${k.url}/readyz`);
    // One incident is acknowledged before mail works again: its page must not be re-driven.
    const acked = await incidentOf(0);
    assert.equal((await k.api(`/api/v1/incidents/${acked}/ack`, { method: 'POST', body: { note: 'seen on the console' } })).status, 200);

    // 4. The relay works again and nothing new is paged: the channel check finds it back, and the dead letters of
    // incidents still open are re-driven.
    const checksBefore = await checkCounts(k.url);
    await h.smtp.setMode('up');
    const upAt = Date.now();
    const wanted = REFUSED + REJECTED - 1; // every dead page but the acknowledged incident's
    h.progress(`SMTP accepts mail again, no new page; waiting (bounded) for the channel check to deliver ${wanted} pages`);
    let waited = '';
    try {
      await until(`${wanted} pages delivered`, () => h.smtp.mails.length >= wanted, 30_000, 250);
    } catch (err) {
      waited = (err as Error).message;
    }
    const deliveredIn = (Date.now() - upAt) / 1000;
    await sleep(6_000); // a lease's length more: a repeat would show
    const checksAfter = await checkCounts(k.url);
    const incidentsOpened = await count(`SELECT count(*)::int AS n FROM incidents`);
    const backLines = k.output().split('\n').filter((l) => l.includes('channel mail is back; re-driving'));
    const redriven = await count(`SELECT count(*)::int AS n FROM incident_events WHERE kind = 'notification_redriven'`);
    const redrivenTwice = await count(`SELECT count(*)::int AS n FROM (SELECT detail->>'outbox_id' FROM incident_events WHERE kind = 'notification_redriven' GROUP BY 1 HAVING count(*) > 1) x`);
    const stillDead = await h.sql<{ subject_id: string }>(`SELECT subject_id::text FROM outbox WHERE state = 'dead'`);
    const pages = mailsByKey(h.smtp.mails);
    Object.assign(h.figures, {
      'SMTP refusing connections seconds': refusedFor.toFixed(1),
      'SMTP refusing recipients (550) seconds': ((upAt - downAt) / 1000 - refusedFor).toFixed(1),
      'dead pages sent as proof and refused (550) / re-drives spent': `${proofsRefused} / ${redrivenWhileRefused}`,
      'pages attempted': `${REFUSED + REJECTED} pages, ${attemptsLater + REJECTED} attempts`,
      'dead letters': `${REFUSED + REJECTED} (expired ${expired} after ${deadAfter.toFixed(1)} s, permanent ${permanent})`,
      'attempts after dead (5 s later)': attemptsLater - attempts,
      'visible: API / metric / timelines': `${listedIds.length} / ${gauge} / ${onTimeline}`,
      'readyz while mail is down': ready,
      're-driven': redriven,
      're-driven twice': redrivenTwice,
      'channel checks while mail was down / refused (down)': checksBefore.down,
      'channel checks that found mail back (up)': checksAfter.up,
      'log: channel mail is back': backLines.length ? `${backLines.length} line (re-driving ${/re-driving (\d+)/.exec(backLines[0]!)?.[1] ?? '?'} dead pages)` : 'none',
      'delivered after recovery, no new page': `${h.smtp.mails.length} in ${deliveredIn.toFixed(1)} s`,
      'still dead (acknowledged incident)': stillDead.length,
      duplicates: pages.doubled.length,
      'kuzet alive': k.alive() ? 'yes' : 'no',
    });
    assert.ok(k.alive(), 'kuzet stopped while mail was down');
    assert.equal(ready, 200, 'kuzet is ready while mail is down');
    assert.equal(expired, REFUSED, 'every page refused for longer than max_age died with reason expired');
    assert.ok(deadAfter < MAX_AGE_S + 10, `the pages died ${deadAfter} s after they were made (max_age ${MAX_AGE_S} s)`);
    assert.equal(attemptsLater, attempts, 'a dead letter is not retried');
    assert.equal(permanent, REJECTED, 'a 550 is a dead letter at once');
    assert.ok(proofsRefused >= 1, 'a check passed while the relay refused recipients, and its proof was refused');
    assert.equal(redrivenWhileRefused, 0, 'a refused proof spends no re-drive');
    assert.equal(listedIds.length, REFUSED + REJECTED, 'every dead letter is listed by the API');
    assert.equal(gauge, REFUSED + REJECTED, 'kuzet_notification_dead_letters counts them');
    assert.equal(onTimeline, REFUSED + REJECTED, 'every incident shows its dead page');
    assert.equal(waited, '', waited);
    assert.equal(redriven, REFUSED + REJECTED - 1, 'every dead page of an incident still open is re-driven');
    assert.equal(redrivenTwice, 0, 'a dead letter is re-driven at most once');
    assert.deepEqual(stillDead.map((r) => Number(r.subject_id)), [acked], 'only the acknowledged incident keeps its dead page');
    assert.deepEqual(pages.doubled, [], 'no page delivered twice');
    assert.equal(h.smtp.mails.length, wanted, 'one mail per page of an open incident');
    assert.equal(incidentsOpened, REFUSED + REJECTED, 'no new incident was needed to re-drive');
    assert.equal(checksAfter.up, 1, 'the channel was seen back once');
    assert.equal(backLines.length, 1, 'one log line when mail is seen back');
    assert.ok(deliveredIn < 10, `delivered ${deliveredIn} s after the relay was back (check every 1-2 s)`);
    return h.figures;
  },
};
