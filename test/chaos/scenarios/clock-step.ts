import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { counterSum, probesYaml, startProbeTarget } from '../net.ts';
import { kuzetConfig, mailsByKey, sleep, until, type Scenario } from '../support.ts';

// The wall clock of the kuzet process stepped forward by an hour, then back by an hour, with Debian's libfaketime
// (LD_PRELOAD; the offset is re-read from a file on every call, and the monotonic clocks stay real, so Node's timers
// are untouched, as with an NTP step on a real host). Only kuzet's clock moves: PostgreSQL, the SMTP server and this
// runner keep the real time.
//
// The ladder pages alice at 0 s, 20 s, 40 s, 30 min, 59 min and 90 min.
// - A: 3 incidents opened on the real clock; after their 20 s step, +1 h: their 40 s, 30 min and 59 min steps fell
//   due in the skipped hour and must each arrive once, at once; the 90 min step must not.
// - B: 2 incidents opened while the clock is an hour ahead; the SMTP server goes down before their 20 s step, so it
//   is retried with back-off (timed on the clock an hour ahead); then −1 h, and the SMTP server is back: the retry
//   must leave within the back-off (5 s at most), not an hour later.
// - C: 2 incidents opened after the step back: their 0 s, 20 s and 40 s steps come on time.
// The e-mail channel is rate-limited (600 a minute): a step back must not leave its bucket an hour in debt.
// After the step back nothing may be sent again, and B's 40 s step waits for its instant on the wall clock (an hour
// ahead), as README "The wall clock stepped" promises. Probes must keep their rate; /healthz must answer throughout.

const STEPS = ['0s', '20s', '40s', '30m', '59m', '90m'];
const HOUR = 3_600_000;
const PROBES = 3;
const PROBE_INTERVAL_S = 2;

function faketimeLibrary(): string {
  for (const arch of readdirSync('/usr/lib', { withFileTypes: true })) {
    const p = join('/usr/lib', arch.name, 'faketime', 'libfaketime.so.1');
    if (arch.isDirectory() && existsSync(p)) return p;
  }
  throw new Error("libfaketime.so.1 not found: install Debian's faketime package (apt-get install faketime)");
}

interface Opened {
  batch: string;
  incident: number;
  escalation: number;
  /** Step indexes that must arrive (each exactly once) by the end. */
  expect: number[];
}

export const scenario: Scenario = {
  name: 'clock-step',
  title: "kuzet's wall clock stepped +1 h, then −1 h: each due step paged once, nothing re-sent, probes and /healthz keep going",
  async run(h) {
    const lib = faketimeLibrary();
    const offsetFile = join(h.dir, 'faketime-offset');
    const setOffset = (text: string) => writeFileSync(offsetFile, `${text}\n`);
    setOffset('+0');
    const target = await startProbeTarget();
    h.defer(() => target.close());
    const port = await h.port();
    mkdirSync(join(h.dir, 'kuzet', 'probes'), { recursive: true });
    writeFileSync(join(h.dir, 'kuzet', 'probes', 'clock.yaml'), probesYaml('clock', PROBES, 'nqs', target.url, `${PROBE_INTERVAL_S}s`));
    const configYaml = kuzetConfig({ port, dbUrl: h.dbUrl, smtpPort: h.smtp.port, steps: STEPS, outbox: { lease: '10s', base_backoff: '1s', max_backoff: '5s' } });
    const limited = configYaml.replace(/(mail: \{ type: email, [^}]*timeout: [0-9a-z]+) \}/, '$1, rate_per_minute: 600 }');
    assert.notEqual(limited, configYaml, 'the e-mail channel got its rate limit');
    const k = await h.startKuzet({
      name: 'kuzet',
      port,
      configYaml: limited,
      env: { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    });
    h.progress(`kuzet up (pid ${k.pid}) under libfaketime`);

    // kuzet's own idea of the time, from its HTTP Date header (seconds), minus the real time.
    const skew = async (): Promise<number> => {
      const r = await fetch(`${k.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await r.arrayBuffer();
      return Date.parse(r.headers.get('date') ?? '') - Date.now();
    };
    const expectSkew = async (want: number, what: string) => {
      await until(`kuzet's clock ${what}`, async () => Math.abs((await skew()) - want) < 5_000, 10_000, 200);
    };
    await expectSkew(0, 'on the real time at start');

    // /healthz throughout.
    let health = 0;
    let unhealthy = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const r = await fetch(`${k.url}/healthz`, { signal: AbortSignal.timeout(3_000) });
          await r.arrayBuffer();
          if (r.status !== 200) unhealthy++;
        } catch {
          unhealthy++;
        }
        health++;
        await sleep(250);
      }
    })();
    h.defer(async () => {
      polling = false;
      await poller;
    });

    const probeRuns = async () => counterSum(await (await fetch(`${k.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text(), 'kuzet_probe_results_total', { system: 'nqs' });
    /** Probe runs per minute over the next `ms` of real time. */
    const rate = async (ms: number) => {
      const a = await probeRuns();
      await sleep(ms);
      return Math.round((((await probeRuns()) - a) * 60_000) / ms);
    };
    const nominal = (PROBES * 60) / PROBE_INTERVAL_S;

    const opened: Opened[] = [];
    const open = async (batch: string, n: number, expect: number[]) => {
      for (let i = 0; i < n; i++) {
        const r = await k.api('/api/v1/incidents', { method: 'POST', body: { system: 'enbek', title: `clock step ${batch}${i}`, severity: 'critical', fingerprint: `clock-${batch}-${i}` } });
        assert.equal(r.status, 201, `opening incident ${batch}${i}: ${JSON.stringify(r.body)}`);
        const incident = Number((r.body as { id: number }).id);
        const e = await h.sql<{ id: number }>(`SELECT id FROM escalations WHERE subject_kind = 'incident' AND subject_id = $1`, [incident]);
        assert.equal(e.length, 1, `incident ${incident} has one escalation`);
        opened.push({ batch, incident, escalation: Number(e[0]!.id), expect });
      }
    };
    const keyOf = (o: Opened, step: number) => `esc:${o.escalation}:r0:s${step}:`;
    const received = (o: Opened, step: number) => h.smtp.mails.filter((m) => m.key.startsWith(keyOf(o, step))).length;
    const allReceived = (batch: string, steps: number[]) => opened.filter((o) => o.batch === batch).every((o) => steps.every((s) => received(o, s) >= 1));
    const pagesNow = () => h.smtp.mails.length;

    const f = h.figures;
    f['probe runs/min, nominal'] = nominal;
    f['probe runs/min, before the steps'] = await rate(10_000);

    // ---- A on the real clock, up to its 20 s step.
    await open('A', 3, [0, 1, 2, 3, 4]);
    h.progress('3 incidents (A) opened; waiting for their 0 s and 20 s steps');
    await until('A: the 0 s and 20 s steps', () => allReceived('A', [0, 1]), 40_000, 250);

    // ---- +1 h
    const pagesBefore = pagesNow();
    setOffset('+1h');
    const tForward = Date.now();
    await expectSkew(HOUR, 'an hour ahead');
    h.progress('clock stepped +1 h');
    await until('A: the 40 s, 30 min and 59 min steps that fell due in the skipped hour', () => allReceived('A', [2, 3, 4]), 20_000, 100);
    f['forward: seconds until the steps due in the hour were sent'] = Math.round((Date.now() - tForward) / 100) / 10;
    f['forward: pages for the skipped hour (3 incidents × 3 steps)'] = pagesNow() - pagesBefore;
    f['probe runs/min, after +1 h'] = await rate(10_000);

    // ---- B while an hour ahead: the 0 s step arrives, the 20 s step meets a relay that is down and is retried.
    await open('B', 2, [0, 1]);
    h.progress('2 incidents (B) opened an hour ahead; waiting for their 0 s step, then the SMTP server goes down');
    await until('B: the 0 s step', () => allReceived('B', [0]), 20_000, 250);
    await h.smtp.setMode('down');
    const bEsc = opened.filter((o) => o.batch === 'B').map((o) => String(o.escalation));
    await until(
      "B: the 20 s step failed and waits for its retry",
      async () =>
        (await h.sql(`SELECT 1 FROM outbox o WHERE o.state = 'pending' AND o.attempts >= 1 AND split_part(o.idempotency_key, ':', 2) IN (SELECT jsonb_array_elements_text($1::jsonb)) AND split_part(o.idempotency_key, ':', 4) = 's1'`, [
          JSON.stringify(bEsc),
        ])).length === 2,
      40_000,
      250,
    );
    const bDue = await h.sql<{ due: number }>(
      `SELECT (EXTRACT(EPOCH FROM due_at) * 1000)::float8 AS due FROM timers WHERE kind = 'step' AND state = 'pending' AND payload->>'escalation' = $1`,
      [String(opened.find((o) => o.batch === 'B')!.escalation)],
    );

    // ---- −1 h
    const sentBeforeBack = pagesNow();
    setOffset('+0');
    const tBack = Date.now();
    await expectSkew(0, 'back on the real time');
    h.progress('clock stepped −1 h; the SMTP server is back');
    await h.smtp.setMode('up');
    await until("B: the 20 s step's retry after the step back", () => allReceived('B', [0, 1]), 30_000, 100);
    f["backward: seconds until B's retried page left"] = Math.round((Date.now() - tBack) / 100) / 10;
    await open('C', 2, [0, 1, 2]);
    h.progress('2 incidents (C) opened after the step back; waiting for their 0 s, 20 s and 40 s steps');
    const rateAfterBack = rate(15_000);
    await until('C: the 0 s, 20 s and 40 s steps after the step back', () => allReceived('C', [0, 1, 2]), 60_000, 250);
    f['probe runs/min, after −1 h'] = await rateAfterBack;
    f['backward: seconds from the step back to C\'s 40 s step'] = Math.round((Date.now() - tBack) / 100) / 10;
    await sleep(3_000); // a repeat or a late extra would show here

    // ---- figures and invariants
    const bDueAfter = await h.sql<{ due: number }>(
      `SELECT (EXTRACT(EPOCH FROM due_at) * 1000)::float8 AS due FROM timers WHERE kind = 'step' AND state = 'pending' AND payload->>'escalation' = $1`,
      [String(opened.find((o) => o.batch === 'B')!.escalation)],
    );
    const expected = opened.flatMap((o) => o.expect.map((s) => keyOf(o, s)));
    const { doubled } = mailsByKey(h.smtp.mails);
    const skipped = opened.flatMap((o) => o.expect.filter((s) => received(o, s) === 0).map((s) => keyOf(o, s)));
    const unexpected = h.smtp.mails.filter((m) => !expected.some((p) => m.key.startsWith(p)));
    f['steps expected'] = expected.length;
    f['steps sent'] = new Set(h.smtp.mails.map((m) => m.key)).size;
    f['duplicates'] = doubled.length;
    f['skipped'] = skipped.length;
    f['sent though not yet due'] = unexpected.length;
    const before = new Set(h.smtp.mails.slice(0, sentBeforeBack).map((m) => m.key));
    f['re-sent after the step back'] = h.smtp.mails.slice(sentBeforeBack).filter((m) => before.has(m.key)).length;
    f['healthz answered, failed'] = `${health}, ${unhealthy}`;

    assert.equal(k.alive(), true, 'kuzet is running');
    assert.deepEqual(doubled, [], 'no step paged twice');
    assert.deepEqual(skipped, [], 'no step skipped');
    assert.deepEqual(unexpected.map((m) => m.key), [], 'nothing paged before it was due (A at 90 min, B at 40 s after the step back, C at 30 min)');
    assert.equal(f['re-sent after the step back'], 0);
    assert.equal(unhealthy, 0, '/healthz answered 200 throughout');
    assert.deepEqual(bDueAfter.map((r) => r.due), bDue.map((r) => r.due), "B's pending step keeps its instant");
    for (const key of ['probe runs/min, before the steps', 'probe runs/min, after +1 h', 'probe runs/min, after −1 h']) {
      assert.ok(Number(f[key]) >= nominal * 0.5, `${key}: ${f[key]} runs a minute, nominal ${nominal}`);
    }
    return f;
  },
};
