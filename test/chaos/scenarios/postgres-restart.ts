import assert from 'node:assert/strict';
import { chaosAlert, kuzetConfig, postAlerts, sleep, statusOf, storedAlertIds, type Scenario } from '../support.ts';

// PostgreSQL stopped and started under load. Senders push alerts the whole time and a poller reads /readyz and
// /healthz. While the server is down kuzet must stay up and answer 503 (never 2xx, never 500) on alert intake and
// readiness; after the server is back the first 2xx must come within 10 s; nothing acknowledged is lost.

const SENDERS = 4;
const DOWN_MS = 8_000;

interface Sample {
  what: 'intake' | 'readyz' | 'healthz';
  start: number;
  end: number;
  status: number;
}

export const scenario: Scenario = {
  name: 'postgres-restart',
  title: 'PostgreSQL stopped and started under load: 503 (not 2xx, not 500) while down, recovery within 10 s, nothing lost',
  async run(h) {
    const port = await h.port();
    const k = await h.startKuzet({ name: 'kuzet', port, configYaml: kuzetConfig({ port, dbUrl: h.dbUrl, smtpPort: h.smtp.port, steps: ['0s'] }) });
    const samples: Sample[] = [];
    const acknowledged = new Set<string>();
    let seq = 0;
    let stop = false;
    const sender = async (n: number) => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const alerts = [chaosAlert(Math.floor(Math.random() * 50), `p${n}-${seq++}`), chaosAlert(50 + n, `p${n}-${seq++}`)];
        const start = Date.now();
        const status = await postAlerts(k.url, alerts, 15_000);
        samples.push({ what: 'intake', start, end: Date.now(), status });
        if (status >= 200 && status < 300) for (const a of alerts) acknowledged.add(a.annotations.chaos_id!);
        await sleep(20);
      }
    };
    const poller = async () => {
      for (let i = 0; !stop && i < 100_000; i++) {
        for (const what of ['readyz', 'healthz'] as const) {
          const start = Date.now();
          const status = await statusOf(`${k.url}/${what}`, 5_000);
          samples.push({ what, start, end: Date.now(), status });
        }
        await sleep(200);
      }
    };
    const load = [...Array.from({ length: SENDERS }, (_, n) => sender(n)), poller()];
    let stoppedAt = 0;
    let startingAt = 0;
    let startedAt = 0;
    let ackedBeforeStop = new Set<string>();
    try {
      await sleep(3_000);
      h.progress(`load running (${acknowledged.size} alerts acknowledged); stopping PostgreSQL`);
      ackedBeforeStop = new Set(acknowledged);
      await h.pg.stop();
      stoppedAt = Date.now();
      h.progress(`PostgreSQL stopped; down for ${DOWN_MS / 1000} s`);
      await sleep(DOWN_MS);
      startingAt = Date.now();
      await h.pg.start();
      startedAt = Date.now();
      h.progress(`PostgreSQL started (${((startedAt - startingAt) / 1000).toFixed(1)} s); waiting for kuzet to recover`);
      for (let i = 0; i < 150 && !samples.some((s) => s.what === 'intake' && s.start >= startedAt && s.status === 200); i++) await sleep(100);
      await sleep(3_000);
    } finally {
      stop = true;
      await Promise.all(load);
    }
    const alive = k.alive();
    const down = samples.filter((s) => s.start >= stoppedAt && s.end <= startingAt);
    const byStatus = (what: Sample['what']) => {
      const m = new Map<number, number>();
      for (const s of down.filter((x) => x.what === what)) m.set(s.status, (m.get(s.status) ?? 0) + 1);
      return m;
    };
    const show = (m: Map<number, number>) => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s === 0 ? 'no answer' : s}: ${n}`).join(', ') || 'none';
    const intakeDown = byStatus('intake');
    const readyDown = byStatus('readyz');
    const healthDown = byStatus('healthz');
    const firstOk = samples.filter((s) => s.what === 'intake' && s.status === 200 && s.start >= startedAt).sort((a, b) => a.end - b.end)[0];
    const readyAgain = samples.filter((s) => s.what === 'readyz' && s.status === 200 && s.start >= startedAt).sort((a, b) => a.end - b.end)[0];
    const recovery = firstOk ? (firstOk.end - startedAt) / 1000 : Infinity;
    const stored = await storedAlertIds(h);
    const lostBefore = [...ackedBeforeStop].filter((id) => !stored.has(id));
    const lost = [...acknowledged].filter((id) => !stored.has(id));
    const fiveHundreds = samples.filter((s) => s.status >= 500 && s.status !== 503);
    Object.assign(h.figures, {
      'PostgreSQL down seconds': ((startingAt - stoppedAt) / 1000).toFixed(1),
      'intake while down': show(intakeDown),
      'readyz while down': show(readyDown),
      'healthz while down': show(healthDown),
      'other 5xx (whole run)': fiveHundreds.length,
      'time to recovery (first 2xx on intake) s': Number.isFinite(recovery) ? recovery.toFixed(2) : 'never',
      'readyz 200 again after s': readyAgain ? ((readyAgain.end - startedAt) / 1000).toFixed(2) : 'never',
      'kuzet alive throughout': alive ? 'yes' : 'no',
      'alerts acknowledged': acknowledged.size,
      'acknowledged before the stop': ackedBeforeStop.size,
      lost: lost.length,
    });
    assert.ok(alive, 'kuzet exited while PostgreSQL was down');
    assert.ok(intakeDown.size > 0 && readyDown.size > 0, 'requests were made while PostgreSQL was down');
    assert.deepEqual([...intakeDown.keys()], [503], 'alert intake answers 503 (and only 503) while the store is down');
    assert.deepEqual([...readyDown.keys()], [503], '/readyz answers 503 while the store is down');
    assert.deepEqual([...healthDown.keys()], [200], '/healthz answers 200 while the store is down (the process is up)');
    assert.equal(fiveHundreds.length, 0, 'no 5xx but 503');
    assert.ok(recovery <= 10, `recovery took ${recovery} s (over 10 s)`);
    assert.deepEqual(lostBefore.slice(0, 10), [], `${lostBefore.length} alert(s) acknowledged before the stop are missing`);
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged alert(s) are missing`);
    return h.figures;
  },
};
