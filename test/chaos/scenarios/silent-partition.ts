import assert from 'node:assert/strict';
import { leaderOf, liveSeenBy, openIncidents, outboxSettled, ownedBy, pageFigures, probeRuns, slotFigures, startCluster } from '../cluster.ts';
import { sleep, until, type Scenario } from '../support.ts';

// A silent partition: two kuzet instances share the store (heartbeat 2 s) and 12 probes (every 5 s); mid-escalation
// the escalation leader's proxy stops passing bytes either way: its open connections stay up and new ones hang, as
// when packets are lost on the way (and as PostgreSQL sees it until its TCP keepalive gives up, two hours by
// default). The same promises as for a partition that refuses connections (three-instances): the other instance
// takes the leader lock, the cut one fences itself within a few heartbeats, no probe runs twice in an interval,
// every step is paged once and on time.

const STEPS = ['0s', '10s', '20s', '30s', '40s'];
const INTERVAL_MS = 5_000;
const SILENT_MS = 20_000;

export const scenario: Scenario = {
  name: 'silent-partition',
  title: 'the escalation leader silently partitioned from the store (packets lost, nothing refused): takeover, fencing, pages on time',
  async run(h) {
    const f = h.figures;
    const nodes = await startCluster(h, { ids: ['kz-a', 'kz-b'], steps: STEPS, probes: 12, intervalMs: INTERVAL_MS, heartbeat: '2s' });
    const tSteady = Date.now();
    await sleep(2 * INTERVAL_MS);
    const escalations = await openIncidents(h, nodes, 'silent', 2);
    const tOpened = Date.now();
    h.progress('2 incidents opened; their ladders run 40 s');
    await sleep(12_000);
    const cut = await leaderOf(h, nodes);
    assert.ok(cut, 'one instance holds the escalation leader lock');
    const other = nodes.find((n) => n !== cut)!;
    const tCut = Date.now();
    await cut.proxy.setMode('blackhole');
    h.progress(`${cut.id} (the escalation leader) silently partitioned from the store for ${SILENT_MS / 1000} s`);
    let takeover: number | null = null;
    while (Date.now() - tCut < SILENT_MS) {
      await sleep(100);
      if (takeover === null && (await leaderOf(h, nodes)) === other) takeover = Date.now() - tCut;
    }
    const tHeal = Date.now();
    await cut.proxy.setMode('forward');
    h.progress(`${cut.id} healed; ${takeover === null ? 'nobody took the leader lock meanwhile' : `${other.id} led after ${(takeover / 1000).toFixed(1)} s`}`);
    await until(`${cut.id} sees two live instances again`, async () => (await liveSeenBy(cut)).length === 2, 30_000, 250);
    await until('the ladders are done', () => Date.now() - tOpened > 45_000, 60_000, 500);
    await outboxSettled(h);

    // Lateness of each page: received minus its step's due time (the escalation's start plus the step's delay).
    const started = new Map(
      (await h.sql<{ id: number; at: number }>(`SELECT id, (EXTRACT(EPOCH FROM started_at) * 1000)::float8 AS at FROM escalations WHERE id IN (SELECT (jsonb_array_elements_text($1::jsonb))::bigint)`, [JSON.stringify(escalations)])).map((r) => [Number(r.id), Number(r.at)]),
    );
    const late = h.smtp.mails.map((m) => {
      const [, esc, , step] = m.key.split(':');
      return m.at - (started.get(Number(esc))! + Number(step!.slice(1)) * 10_000);
    });
    const pages = pageFigures(h, escalations, STEPS.length);
    await sleep(3_000);
    const runs = await probeRuns(h);
    const cutRuns = runs.filter((r) => r.instance === cut.id && r.at > tCut && r.at < tHeal).map((r) => r.at);
    const lastRun = cutRuns.length ? Math.max(...cutRuns) - tCut : 0;
    const owned = ownedBy(runs, cut.id, tSteady, tCut);
    const moved = [...owned].filter((p) => runs.some((r) => r.probe === p && r.at > tCut && r.at < tHeal && r.instance === other.id));
    const during = slotFigures(runs, tCut, tHeal, INTERVAL_MS);

    f['partitioned leader'] = cut.id;
    f['leader takeover, seconds'] = takeover === null ? `none within ${SILENT_MS / 1000} s` : Math.round(takeover / 100) / 10;
    f['pages expected'] = pages.expected;
    f['pages sent'] = pages.sent;
    f['pages doubled'] = pages.doubled.length;
    f['pages skipped'] = pages.skipped.length;
    f['latest page, seconds after its due time'] = Math.round(Math.max(0, ...late) / 100) / 10;
    f['probes of the partitioned instance'] = owned.size;
    f['… run by the other meanwhile'] = moved.length;
    f['partitioned instance: runs while cut'] = cutRuns.length;
    f['partitioned instance: last run after the cut, seconds'] = Math.round(lastRun / 100) / 10;
    f['duplicate probe runs while cut'] = during.duplicates.length;
    f['missed probe slots while cut'] = during.missed;

    assert.deepEqual(pages.doubled, [], 'no step paged twice');
    assert.deepEqual(pages.skipped, [], 'no step skipped');
    assert.ok(takeover !== null && takeover <= 10_000, `the other instance took the leader lock within 10 s (${f['leader takeover, seconds']})`);
    assert.ok(Math.max(0, ...late) <= 12_000, `every page within 12 s of its due time (latest ${f['latest page, seconds after its due time']} s)`);
    assert.ok(lastRun <= 8_000, `the partitioned instance stopped probing within 8 s (last run ${lastRun} ms after the cut)`);
    // Its run at the moment of the cut reaches the store only after healing, so the new owner counts that slot as
    // missed and runs it: at most one extra run per moved probe.
    const extra = during.duplicates.map((d) => d.split(' ')[0]!);
    assert.ok(extra.every((p) => owned.has(p)) && new Set(extra).size === extra.length, `only probes changing hands ran twice, once each: ${during.duplicates.join('; ')}`);
    return f;
  },
};
