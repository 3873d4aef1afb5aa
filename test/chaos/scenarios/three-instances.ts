import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { counterSum, probesYaml, startProbeTarget, startTcpProxy, type TcpProxy } from '../net.ts';
import { chaosAlert, kuzetConfig, mailsByKey, postAlerts, sleep, storedAlertIds, until, type Kuzet, type Scenario } from '../support.ts';

// Three kuzet instances on one PostgreSQL (one location, heartbeat 2 s), each reaching the store through its own
// TCP proxy, sharing 12 probes (every 5 s) and paging 4 incidents up a 5-step ladder (0, 10, 20, 30, 40 s).
// Mid-escalation the escalation leader (the session holding the leader's advisory lock, found in pg_locks and
// mapped to its proxy) is killed with SIGKILL; once another instance holds the lock, one of the two survivors is
// cut from the store (its proxy cuts every connection and refuses new ones) for 16 s, then healed. Alerts keep
// arriving at all three meanwhile.
// Invariants: every step paged exactly once; leadership taken over; the cut instance stops probing (fences itself)
// and probes again after healing; no probe run twice in one interval (from probe_results); no alert answered 2xx lost.

const STEPS = ['0s', '10s', '20s', '30s', '40s'];
const INCIDENTS = 4;
const PROBES = 12;
const INTERVAL_MS = 5_000;
const LEADER_LOCK_KEY = 7_305_030; // src/escalation/sweeper.ts
const CUT_MS = 16_000;

interface Node {
  id: string;
  proxy: TcpProxy;
  k: Kuzet;
}

interface Run {
  probe: string;
  instance: string;
  at: number;
}

/** Runs of the same probe closer than half an interval (twice in one slot), and slots nobody ran, in [from, to). */
function slotFigures(runs: Run[], from: number, to: number): { duplicates: string[]; missed: number } {
  const byProbe = new Map<string, Run[]>();
  for (const r of runs) if (r.at >= from && r.at < to) byProbe.set(r.probe, [...(byProbe.get(r.probe) ?? []), r]);
  const duplicates: string[] = [];
  let missed = 0;
  for (const [probe, list] of byProbe) {
    list.sort((a, b) => a.at - b.at);
    for (let i = 1; i < list.length; i++) {
      const gap = list[i]!.at - list[i - 1]!.at;
      if (gap < INTERVAL_MS / 2) duplicates.push(`${probe} by ${list[i - 1]!.instance} and ${list[i]!.instance} ${gap} ms apart at ${new Date(list[i]!.at).toISOString()}`);
      else if (gap > INTERVAL_MS * 1.5) missed += Math.round(gap / INTERVAL_MS) - 1;
    }
  }
  return { duplicates, missed };
}

export const scenario: Scenario = {
  name: 'three-instances',
  title: 'three instances: the escalation leader killed mid-escalation, another cut from the store and healed: pages once, probes fenced and shared',
  async run(h) {
    const f = h.figures;
    const target = await startProbeTarget();
    h.defer(() => target.close());
    const pgPort = Number(new URL(h.dbUrl).port);
    const nodes: Node[] = [];
    for (const id of ['kz-a', 'kz-b', 'kz-c']) {
      const proxy = await startTcpProxy(pgPort, await h.port());
      h.defer(() => proxy.close());
      const port = await h.port();
      mkdirSync(join(h.dir, id, 'probes'), { recursive: true });
      writeFileSync(join(h.dir, id, 'probes', 'shared.yaml'), probesYaml('shared', PROBES, 'nqs', target.url, `${INTERVAL_MS / 1000}s`));
      const dbUrl = h.dbUrl.replace(`:${pgPort}/`, `:${proxy.port}/`);
      const configYaml = kuzetConfig({
        port,
        dbUrl,
        smtpPort: h.smtp.port,
        steps: STEPS,
        outbox: { lease: '5s', base_backoff: '1s', max_backoff: '5s' },
        extra: `cluster:\n  location: almaty\n  heartbeat: 2s\n  instance_id: ${id}\n`,
      });
      const k = await h.startKuzet({ name: id, port, configYaml });
      nodes.push({ id, proxy, k });
      h.progress(`${id} up (pid ${k.pid}), its store behind a proxy on port ${proxy.port}`);
    }
    const liveSeenBy = async (n: Node): Promise<string[]> => {
      const r = await n.k.api('/api/v1/instances', { timeoutMs: 3_000 }).catch(() => ({ status: 0, body: null }));
      if (r.status !== 200) return [];
      return (r.body as { instances: Array<{ id: string; status: string }> }).instances.filter((i) => i.status === 'live').map((i) => i.id).sort();
    };
    for (const n of nodes) await until(`${n.id} sees three live instances`, async () => (await liveSeenBy(n)).length === 3, 15_000, 250);

    // Alerts at all three throughout (severity warning: recorded, never paged).
    const acknowledged = new Set<string>();
    let refused = 0;
    let sending = true;
    let seq = 0;
    const sender = (async () => {
      for (let i = 0; sending && i < 100_000; i++) {
        const n = nodes[i % nodes.length]!;
        if (!n.k.alive()) continue;
        const alerts = [chaosAlert(i % 40, `a-${seq++}`, 'warning'), chaosAlert((i + 7) % 40, `a-${seq++}`, 'warning')];
        const status = await postAlerts(n.k.url, alerts, 5_000);
        if (status >= 200 && status < 300) for (const a of alerts) acknowledged.add(a.annotations.chaos_id!);
        else refused++;
        await sleep(100);
      }
    })();
    h.defer(async () => {
      sending = false;
      await sender;
    });

    // Steady state first: every probe once per interval.
    const tSteady = Date.now();
    await sleep(3 * INTERVAL_MS);

    // The ladder: 4 incidents, opened through different instances.
    const escalations: number[] = [];
    for (let i = 0; i < INCIDENTS; i++) {
      const n = nodes[i % nodes.length]!;
      const r = await n.k.api('/api/v1/incidents', { method: 'POST', body: { system: 'enbek', title: `three instances ${i}`, severity: 'critical', fingerprint: `three-${i}` } });
      assert.equal(r.status, 201, `opening incident ${i} on ${n.id}: ${JSON.stringify(r.body)}`);
      const e = await h.sql<{ id: number }>(`SELECT id FROM escalations WHERE subject_kind = 'incident' AND subject_id = $1`, [Number((r.body as { id: number }).id)]);
      escalations.push(Number(e[0]!.id));
    }
    const tOpened = Date.now();
    h.progress(`${INCIDENTS} incidents opened; their ladders run 40 s`);

    /** The instance whose session holds the escalation leader's lock, or null. */
    const leader = async (): Promise<Node | null> => {
      const rows = await h.sql<{ port: number }>(
        `SELECT a.client_port AS port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1`,
        [LEADER_LOCK_KEY],
      );
      const port = rows[0]?.port;
      return port === undefined ? null : (nodes.find((n) => n.proxy.upstreamPorts().has(Number(port))) ?? null);
    };
    await sleep(12_000); // the 0 s and 10 s steps are out; 20, 30 and 40 s are ahead
    const killed = await leader();
    assert.ok(killed, 'one instance holds the escalation leader lock');
    const tKill = Date.now();
    killed.k.kill('SIGKILL');
    await killed.k.waitExit(10_000);
    h.progress(`escalation leader ${killed.id} killed (kill -9) ${((tKill - tOpened) / 1000).toFixed(1)} s into the ladders`);
    let next: Node | null = null;
    await until('another instance takes the escalation leader lock', async () => {
      next = await leader();
      return next !== null && next !== killed;
    }, 20_000, 50);
    const newLeader = next as unknown as Node;
    const takeover = Date.now() - tKill;
    f['escalation leader killed'] = killed.id;
    f['leader takeover, seconds'] = Math.round(takeover / 100) / 10;
    f['new leader'] = newLeader.id;
    h.progress(`${newLeader.id} leads after ${(takeover / 1000).toFixed(1)} s`);

    // Cut the other survivor from the store.
    const cut = nodes.find((n) => n !== killed && n !== newLeader)!;
    // While cut, the instance's probe runs are counted by its own metrics (its results wait in its buffer).
    const metricsOf = async (n: Node) => {
      const r = await fetch(`${n.k.url}/metrics`, { signal: AbortSignal.timeout(3_000) });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
      return counterSum(text, 'kuzet_probe_results_total', { system: 'nqs' });
    };
    const tCut = Date.now();
    await cut.proxy.setMode('refuse');
    h.progress(`${cut.id} cut from the store for ${CUT_MS / 1000} s`);
    let lastCount = await metricsOf(cut).catch(() => -1);
    let lastRunAt = tCut;
    let metricsOk = 0;
    let metricsFailed = 0;
    let metricsSlow = 0;
    while (Date.now() - tCut < CUT_MS) {
      await sleep(250);
      const t0 = Date.now();
      const c = await metricsOf(cut).catch(() => null);
      if (Date.now() - t0 > 1_000) metricsSlow++;
      if (c === null) {
        metricsFailed++;
        continue;
      }
      metricsOk++;
      if (c !== lastCount) {
        lastCount = c;
        lastRunAt = Date.now();
      }
    }
    const tHeal = Date.now();
    await cut.proxy.setMode('forward');
    h.progress(`${cut.id} healed; by its metrics its last probe run while cut was ${((lastRunAt - tCut) / 1000).toFixed(1)} s after the cut`);
    f['cut instance: /metrics answered, failed, slower than 1 s while cut'] = `${metricsOk}, ${metricsFailed}, ${metricsSlow}`;
    const firstRunAfterHeal = async () =>
      Number((await h.sql<{ at: number | null }>(`SELECT (EXTRACT(EPOCH FROM min(started_at)) * 1000)::float8 AS at FROM probe_results WHERE instance = $1 AND started_at > to_timestamp($2::float8 / 1000)`, [cut.id, tHeal]))[0]?.at ?? 0);
    await until(`${cut.id} probes again (a result of its own after healing)`, async () => (await firstRunAfterHeal()) > 0, 30_000, 250);
    const resumed = (await firstRunAfterHeal()) - tHeal;
    await until(`${cut.id} sees two live instances`, async () => (await liveSeenBy(cut)).length === 2, 20_000, 250);
    h.progress(`${cut.id} probes again ${(resumed / 1000).toFixed(1)} s after healing`);
    await sleep(3 * INTERVAL_MS); // steady state again, shared by two
    const tEnd = Date.now();

    // Pages: the ladders ended 40 s after opening; wait for the outbox, then for a lease's length (5 s) for a repeat.
    await until('the ladders are done', () => Date.now() - tOpened > 45_000, 60_000, 500);
    await until('every page sent', async () => (await h.sql(`SELECT 1 FROM outbox WHERE state IN ('pending', 'sending') LIMIT 1`)).length === 0, 30_000, 500);
    await sleep(6_000);
    sending = false;
    await sender;

    const expected = escalations.flatMap((e) => STEPS.map((_s, i) => `esc:${e}:r0:s${i}:`));
    const { doubled } = mailsByKey(h.smtp.mails);
    const skipped = expected.filter((p) => !h.smtp.mails.some((m) => m.key.startsWith(p)));
    const unexpected = h.smtp.mails.filter((m) => !expected.some((p) => m.key.startsWith(p)));
    f['pages expected'] = expected.length;
    f['pages sent'] = h.smtp.mails.length;
    f['pages doubled'] = doubled.length;
    f['pages skipped'] = skipped.length;

    // Probes, from probe_results (every instance's buffered results are written by now).
    await sleep(3_000);
    const runs = (await h.sql<{ probe: string; instance: string; at: number }>(`SELECT probe, instance, (EXTRACT(EPOCH FROM started_at) * 1000)::float8 AS at FROM probe_results`)).map((r) => ({
      probe: r.probe,
      instance: r.instance,
      at: Number(r.at),
    }));
    const owners = (from: number, to: number, who: string) => new Set(runs.filter((r) => r.at >= from && r.at < to && r.instance === who).map((r) => r.probe));
    const killedOwned = owners(tSteady, tKill, killed.id);
    const movedFromKilled = [...killedOwned].filter((p) => runs.some((r) => r.probe === p && r.at > tKill && r.instance !== killed.id));
    // The cut instance's own results (written from its buffer after healing): when did it stop probing?
    const cutRuns = runs.filter((r) => r.instance === cut.id && r.at > tCut && r.at < tHeal).map((r) => r.at);
    const fencedAfter = cutRuns.length ? Math.max(...cutRuns) - tCut : 0;
    const cutOwned = owners(tSteady, tCut, cut.id);
    const movedFromCut = [...cutOwned].filter((p) => runs.some((r) => r.probe === p && r.at > tCut + fencedAfter && r.at < tHeal && r.instance !== cut.id));
    const takenOver = (p: string, after: number) => Math.min(...runs.filter((r) => r.probe === p && r.at > after && r.instance !== killed.id).map((r) => r.at)) - after;
    const steady = slotFigures(runs, tSteady + INTERVAL_MS, tOpened);
    const chaos = slotFigures(runs, tKill - INTERVAL_MS, tEnd);
    f['probes of the killed instance'] = killedOwned.size;
    f['… moved to the others'] = movedFromKilled.length;
    f['… first run elsewhere after the kill, seconds (max)'] = movedFromKilled.length ? Math.round(Math.max(...movedFromKilled.map((p) => takenOver(p, tKill))) / 100) / 10 : '-';
    f['probes of the cut instance'] = cutOwned.size;
    f['… moved to the others while it was cut'] = movedFromCut.length;
    f['cut instance: last probe run after the cut, seconds'] = Math.round(fencedAfter / 100) / 10;
    f['cut instance: probing again after healing, seconds'] = Math.round(resumed / 100) / 10;
    f['probe runs (all)'] = runs.length;
    f['duplicate probe runs, steady state'] = steady.duplicates.length;
    f['duplicate probe runs, kill to end'] = chaos.duplicates.length;
    f['missed probe slots, kill to end'] = chaos.missed;
    f['alerts acknowledged'] = acknowledged.size;
    f['alert requests refused (503 or no answer)'] = refused;
    const stored = await storedAlertIds(h);
    const lost = [...acknowledged].filter((id) => !stored.has(id));
    f['acknowledged alerts lost'] = lost.length;

    assert.deepEqual(doubled, [], 'no step paged twice');
    assert.deepEqual(skipped, [], 'no step skipped');
    assert.deepEqual(unexpected.map((m) => m.key), [], 'no page beyond the ladders');
    assert.notEqual(newLeader, killed);
    assert.equal(movedFromKilled.length, killedOwned.size, "every probe of the killed instance moved");
    assert.ok(killedOwned.size > 0 && cutOwned.size > 0, 'each instance owned probes in steady state');
    assert.equal(movedFromCut.length, cutOwned.size, 'every probe of the cut instance moved while it was cut');
    // Fenced after two missed heartbeats (4 s), checked at its next heartbeat (2 s), and a run already started.
    assert.ok(fencedAfter <= 8_000, `the cut instance stopped probing within 8 s (last run ${fencedAfter} ms after the cut, cut for ${CUT_MS} ms)`);
    assert.deepEqual(steady.duplicates, [], 'no probe ran twice in an interval in steady state');
    assert.deepEqual(chaos.duplicates, [], 'no probe ran twice in an interval while the others took over');
    assert.deepEqual(lost, [], 'no alert answered 2xx is lost');
    return f;
  },
};
