import assert from 'node:assert/strict';
import { chaosAlert, kuzetConfig, mailsByKey, postAlerts, sleep, storedAlertIds, until, type Scenario } from '../support.ts';

// kill -9 during a webhook storm: several senders push Alertmanager alerts (new fingerprints keep arriving, old
// ones repeat) while kuzet is killed with SIGKILL and started again, five times. Every alert answered 2xx must be in
// the ledger, no fingerprint may have two unresolved incidents, and no page may reach the SMTP server twice.

const KILLS = 5;
const SENDERS = 6;
/** Each phase (between kills) brings this many new fingerprints, so incidents open (and page) throughout. */
const NEW_PER_PHASE = 60;

export const scenario: Scenario = {
  name: 'kill9-storm',
  title: 'kill -9 five times during a webhook storm: 0 acknowledged alerts lost, 0 duplicate incidents, 0 double pages',
  async run(h) {
    const port = await h.port();
    const k = await h.startKuzet({
      name: 'kuzet',
      port,
      // A short lease: a page claimed by a killed process is taken again within seconds, so a repeat would show.
      configYaml: kuzetConfig({ port, dbUrl: h.dbUrl, smtpPort: h.smtp.port, steps: ['0s', '1h'], outbox: { lease: '5s', base_backoff: '1s', max_backoff: '5s' } }),
    });
    h.progress(`kuzet up (pid ${k.pid}); storm of ${SENDERS} senders`);
    const acknowledged = new Set<string>();
    const statuses = new Map<number, number>();
    let phase = 0;
    let seq = 0;
    let stop = false;
    const sender = async (n: number) => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const batch = 1 + ((i + n) % 5);
        const alerts = Array.from({ length: batch }, () => {
          const fp = Math.floor(Math.random() * NEW_PER_PHASE * (phase + 1));
          return chaosAlert(fp, `s${n}-${seq++}`);
        });
        const status = await postAlerts(k.url, alerts, 15_000);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 200 && status < 300) for (const a of alerts) acknowledged.add(a.annotations.chaos_id!);
        await sleep(status === 0 || status >= 500 ? 100 : 15);
      }
    };
    const senders = Array.from({ length: SENDERS }, (_, n) => sender(n));
    let kills = 0;
    try {
      for (let i = 0; i < KILLS; i++) {
        await sleep(2_000 + Math.floor(Math.random() * 2_000));
        const pid = k.pid;
        k.kill('SIGKILL');
        const code = await k.waitExit(10_000);
        kills++;
        assert.equal(code, null, `kill -9 of pid ${pid}: the process ended by the signal`);
        phase++;
        const took = await k.restart();
        h.progress(`kill ${kills}: pid ${pid} killed, restarted as pid ${k.pid} (healthz after ${(took / 1000).toFixed(1)} s); ${acknowledged.size} alerts acknowledged so far`);
      }
      await sleep(2_000);
    } finally {
      stop = true;
      await Promise.all(senders);
    }
    h.progress('storm over; waiting for the outbox to drain');
    await until('every page sent', async () => (await h.sql(`SELECT 1 FROM outbox WHERE state IN ('pending', 'sending') LIMIT 1`)).length === 0, 60_000, 500);
    // A page whose lease a killed process held is re-claimed after the lease (5 s): give a repeat the time to show.
    await sleep(6_000);

    const stored = await storedAlertIds(h);
    const lost = [...acknowledged].filter((id) => !stored.has(id));
    const dupIncidents = await h.sql<{ fingerprint: string; n: number }>(
      `SELECT fingerprint, count(*)::int AS n FROM incidents WHERE status <> 'resolved' GROUP BY fingerprint HAVING count(*) > 1`,
    );
    const incidents = Number((await h.sql<{ n: number }>(`SELECT count(*)::int AS n FROM incidents`))[0]!.n);
    const fingerprints = Number((await h.sql<{ n: number }>(`SELECT count(DISTINCT fingerprint)::int AS n FROM signals WHERE source = 'alertmanager'`))[0]!.n);
    const pages = mailsByKey(h.smtp.mails);
    const sentRows = Number((await h.sql<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE state = 'sent'`))[0]!.n);
    // Every incident's first step paged once: one outbox row and one mail for each.
    const unpaged = await h.sql<{ id: number }>(
      `SELECT i.id FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM escalations e JOIN outbox o ON o.idempotency_key LIKE 'esc:' || e.id || ':r0:s0:%'
          WHERE e.subject_kind = 'incident' AND e.subject_id = i.id AND o.state = 'sent')`,
    );
    const mailKeys = new Set(h.smtp.mails.map((m) => m.key));
    const sentNotReceived = (await h.sql<{ key: string }>(`SELECT idempotency_key AS key FROM outbox WHERE state = 'sent'`)).filter((r) => !mailKeys.has(r.key)).length;

    Object.assign(h.figures, {
      kills,
      'requests by status': [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s === 0 ? 'no answer' : s}: ${n}`).join(', '),
      'alerts acknowledged': acknowledged.size,
      'alerts sent': seq,
      lost: lost.length,
      fingerprints,
      incidents,
      'duplicate incidents': dupIncidents.length,
      'pages received': h.smtp.mails.length,
      'outbox rows sent': sentRows,
      'incidents not paged': unpaged.length,
      'pages sent but not received': sentNotReceived,
      'double pages': pages.doubled.length,
    });
    assert.ok(kills === KILLS && acknowledged.size > 0, 'the storm ran through every kill');
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged alert(s) missing from the ledger`);
    assert.deepEqual(dupIncidents, [], 'two unresolved incidents for one fingerprint');
    assert.equal(incidents, fingerprints, 'one incident per fingerprint');
    assert.deepEqual(pages.doubled.slice(0, 10), [], 'a page reached the SMTP server more than once');
    assert.deepEqual(unpaged.slice(0, 10), [], 'an incident was never paged');
    assert.equal(sentNotReceived, 0, 'an outbox row says sent but no mail arrived');
    assert.equal(h.smtp.mails.length, sentRows, 'one mail per sent outbox row');
    return h.figures;
  },
};
