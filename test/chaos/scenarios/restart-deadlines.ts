import assert from 'node:assert/strict';
import { chaosAlert, kuzetConfig, postAlerts, sleep, until, type Kuzet, type Scenario } from '../support.ts';

// Restarts with 200 open deadlines. 200 incidents start a ladder each: a page at once, one 25 s later, one 50 s
// later, and an acknowledge deadline at 75 s (durable timers in the store). kuzet is restarted four times, twice
// with SIGTERM and twice with kill -9, and twice it stays down while a step falls due. Afterwards: every due time is
// what it was when the ladder started, every step that fell due paged exactly once, and the steps that fell due
// while kuzet was down were sent within 30 s of its start.

const INCIDENTS = 200;
const STEPS = ['0s', '25s', '50s'];
const ACK_MS = 75_000;

interface Restart {
  signal: NodeJS.Signals;
  /** Seconds after the ladders started. */
  at: number;
  /** Seconds kuzet stays down. */
  down: number;
}

/** Step 1 (25 s) falls due during the first long gap, step 2 (50 s) during the second. */
const PLAN: Restart[] = [
  { signal: 'SIGTERM', at: 5, down: 0 },
  { signal: 'SIGKILL', at: 13, down: 17 },
  { signal: 'SIGKILL', at: 37, down: 0 },
  { signal: 'SIGTERM', at: 43, down: 13 },
];

export const scenario: Scenario = {
  name: 'restart-deadlines',
  title: 'restarts (SIGTERM, kill -9) with 200 open deadlines: due times unchanged, no step skipped or doubled, overdue steps within 30 s of start',
  async run(h) {
    const port = await h.port();
    const k: Kuzet = await h.startKuzet({
      name: 'kuzet',
      port,
      configYaml: kuzetConfig({ port, dbUrl: h.dbUrl, smtpPort: h.smtp.port, steps: STEPS, ackDeadline: `${ACK_MS / 1000}s`, resolveDeadline: '1h', outbox: { lease: '5s', base_backoff: '1s', max_backoff: '5s' } }),
    });
    for (let i = 0; i < INCIDENTS; i += 50) {
      const status = await postAlerts(k.url, Array.from({ length: 50 }, (_, j) => chaosAlert(i + j, `d${i + j}`)));
      assert.equal(status, 200, 'the alerts that open the incidents are accepted');
    }
    await until(`${INCIDENTS} escalations with their timers`, async () => Number((await h.sql<{ n: number }>(`SELECT count(*)::int AS n FROM timers WHERE kind = 'ack_deadline'`))[0]!.n) === INCIDENTS, 30_000);
    const started = await h.sql<{ t: Date }>(`SELECT min(started_at) AS t FROM escalations`);
    const t0 = new Date(started[0]!.t).getTime();
    // Every deadline as the ladder set it: steps, acknowledge and resolve deadlines (timers), and the escalation's own columns.
    const before = new Map<string, number>();
    const snapshot = async () => {
      const rows = await h.sql<{ key: string; due: Date }>(
        `SELECT dedup_key AS key, due_at AS due FROM timers WHERE kind IN ('step', 'ack_deadline', 'resolve_deadline')
         UNION ALL SELECT 'esc:' || id || ':ack_due_at', ack_due_at FROM escalations
         UNION ALL SELECT 'esc:' || id || ':resolve_due_at', resolve_due_at FROM escalations`,
      );
      return new Map(rows.map((r) => [r.key, new Date(r.due).getTime()]));
    };
    for (const [key, due] of await snapshot()) before.set(key, due);
    const openDeadlines = await h.sql<{ n: number }>(`SELECT count(*)::int AS n FROM timers WHERE state = 'pending'`);
    h.figures.deadlines = `${INCIDENTS} incidents, ${openDeadlines[0]!.n} pending timers`;
    h.progress(`${INCIDENTS} ladders started; ${openDeadlines[0]!.n} pending timers`);

    // Restarts, at fixed points of the ladders' time; a step due in a gap (signal to next start) is overdue at the start.
    const gaps: Array<{ from: number; to: number }> = [];
    for (const r of PLAN) {
      const wait = t0 + r.at * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      const pid = k.pid;
      const killedAt = Date.now();
      k.kill(r.signal);
      const code = await k.waitExit(35_000);
      if (r.signal === 'SIGTERM') assert.equal(code, 0, `SIGTERM: pid ${pid} stops cleanly with 0`);
      if (r.down) await sleep(r.down * 1000);
      const spawnAt = Date.now();
      const took = await k.restart();
      gaps.push({ from: killedAt, to: spawnAt });
      h.progress(`${r.signal} to pid ${pid} at ${r.at} s, down ${r.down} s, restarted as pid ${k.pid} (healthz after ${(took / 1000).toFixed(1)} s)`);
    }

    // Every step has fallen due by 50 s and the acknowledge deadline by 75 s: wait for the pages and the breaches.
    const wanted = INCIDENTS * STEPS.length;
    await until(`${wanted} pages`, () => h.smtp.mails.length >= wanted, 60_000, 500);
    await until('every acknowledge deadline fired', async () => Number((await h.sql<{ n: number }>(`SELECT count(*)::int AS n FROM escalations WHERE ack_breached_at IS NOT NULL`))[0]!.n) === INCIDENTS, Math.max(5_000, t0 + ACK_MS + 30_000 - Date.now()), 500);
    await sleep(6_000); // a lease's length more: a repeat of a page would show

    const after = await snapshot();
    const changed = [...before.entries()].filter(([key, due]) => after.get(key) !== due);
    const extraTimers = [...after.keys()].filter((key) => !before.has(key));
    // Pages by escalation and step, from the mail's idempotency key.
    const received = new Map<string, number[]>();
    for (const m of h.smtp.mails) {
      const key = /^esc:(\d+):r0:s(\d+):/.exec(m.key);
      if (!key) continue;
      const id = `${key[1]}:${key[2]}`;
      received.set(id, [...(received.get(id) ?? []), m.at]);
    }
    const escalations = await h.sql<{ id: string; started: Date }>(`SELECT id::text AS id, started_at AS started FROM escalations`);
    const afterMs = STEPS.map((x) => Number.parseInt(x, 10) * 1000);
    // Step timers are scheduled one at a time (the next when one fires): each must be due when the ladder said.
    const misplaced = escalations.filter((e) => afterMs.slice(1).some((ms, i) => after.get(`esc:${e.id}:r0:s${i + 1}`) !== new Date(e.started).getTime() + ms));
    let skipped = 0;
    let doubled = 0;
    let maxOverdue = 0;
    let maxLate = 0;
    let overdueSteps = 0;
    for (const e of escalations) {
      for (let s = 0; s < STEPS.length; s++) {
        const due = new Date(e.started).getTime() + afterMs[s]!;
        const got = received.get(`${e.id}:${s}`) ?? [];
        if (got.length === 0) skipped++;
        if (got.length > 1) doubled++;
        if (got.length === 0) continue;
        // Was kuzet down (from the signal to the next start) when this step fell due? Then it counts from that start.
        const gap = gaps.find((g) => g.from <= due && due <= g.to);
        if (gap) {
          overdueSteps++;
          maxOverdue = Math.max(maxOverdue, (got[0]! - gap.to) / 1000);
        } else {
          maxLate = Math.max(maxLate, (got[0]! - due) / 1000);
        }
      }
    }
    // The acknowledge deadline (75 s, while kuzet was up): marked once (the column is set only when empty), never early.
    const breaches = await h.sql<{ n: number; early: number; late: number | null }>(
      `SELECT count(*) FILTER (WHERE ack_breached_at IS NOT NULL)::int AS n, count(*) FILTER (WHERE ack_breached_at < ack_due_at)::int AS early,
              max(extract(epoch FROM ack_breached_at - ack_due_at))::float8 AS late FROM escalations`,
    );
    Object.assign(h.figures, {
      restarts: `${PLAN.length} (${PLAN.map((r) => (r.signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM') + (r.down ? ` + ${r.down} s down` : '')).join(', ')})`,
      'due times changed': changed.length,
      'step timers scheduled later': `${extraTimers.length} (${misplaced.length} not at the ladder's due time)`,
      'pages received': `${h.smtp.mails.length} of ${wanted}`,
      'steps skipped': skipped,
      'steps doubled': doubled,
      'steps due while down': overdueSteps,
      'max overdue-to-sent seconds': maxOverdue.toFixed(1),
      'max due-to-sent seconds (while up)': maxLate.toFixed(1),
      'acknowledge deadlines marked': `${breaches[0]!.n} of ${INCIDENTS} (max ${Number(breaches[0]!.late ?? 0).toFixed(1)} s after due, ${breaches[0]!.early} early)`,
    });
    assert.deepEqual(changed.slice(0, 5), [], `${changed.length} due time(s) changed`);
    assert.deepEqual(misplaced.map((e) => e.id).slice(0, 5), [], `${misplaced.length} ladder(s) with a step timer off its due time`);
    assert.equal(skipped, 0, 'a step that fell due was never paged');
    assert.equal(doubled, 0, 'a step was paged twice');
    assert.ok(overdueSteps >= 2 * INCIDENTS, `steps 1 and 2 of every ladder fell due while kuzet was down (${overdueSteps})`);
    assert.ok(maxOverdue <= 30, `an overdue step was sent ${maxOverdue.toFixed(1)} s after the start (over 30 s)`);
    assert.equal(breaches[0]!.early, 0, 'an acknowledge deadline was marked before it was due');
    assert.equal(h.smtp.mails.length, wanted, 'exactly one mail per step');
    return h.figures;
  },
};
