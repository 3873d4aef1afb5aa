import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probesYaml, startProbeTarget, startTcpProxy, type TcpProxy } from './net.ts';
import { chaosAlert, kuzetConfig, postAlerts, sleep, until, type Harness, type Kuzet } from './support.ts';

// Several kuzet instances on the harness's PostgreSQL, one location, each reaching the store through its own TCP
// proxy (so one can be partitioned, and its sessions told apart in pg_stat_activity), sharing probes against one
// local HTTP target and paging one ladder.

export const LEADER_LOCK_KEY = 7_305_030; // src/escalation/sweeper.ts

export interface Node {
  id: string;
  proxy: TcpProxy;
  k: Kuzet;
}

export interface Run {
  probe: string;
  instance: string;
  at: number;
}

export interface ClusterOptions {
  ids: string[];
  steps: string[];
  probes: number;
  intervalMs: number;
  heartbeat: string;
}

export async function startCluster(h: Harness, o: ClusterOptions): Promise<Node[]> {
  const target = await startProbeTarget();
  h.defer(() => target.close());
  const pgPort = Number(new URL(h.dbUrl).port);
  const nodes: Node[] = [];
  for (const id of o.ids) {
    const proxy = await startTcpProxy(pgPort, await h.port());
    h.defer(() => proxy.close());
    const port = await h.port();
    mkdirSync(join(h.dir, id, 'probes'), { recursive: true });
    writeFileSync(join(h.dir, id, 'probes', 'shared.yaml'), probesYaml('shared', o.probes, 'nqs', target.url, `${o.intervalMs / 1000}s`));
    const configYaml = kuzetConfig({
      port,
      dbUrl: h.dbUrl.replace(`:${pgPort}/`, `:${proxy.port}/`),
      smtpPort: h.smtp.port,
      steps: o.steps,
      outbox: { lease: '5s', base_backoff: '1s', max_backoff: '5s' },
      extra: `cluster:\n  location: almaty\n  heartbeat: ${o.heartbeat}\n  instance_id: ${id}\n`,
    });
    const k = await h.startKuzet({ name: id, port, configYaml });
    nodes.push({ id, proxy, k });
    h.progress(`${id} up (pid ${k.pid}), its store behind a proxy on port ${proxy.port}`);
  }
  for (const n of nodes) await until(`${n.id} sees ${nodes.length} live instances`, async () => (await liveSeenBy(n)).length === nodes.length, 15_000, 250);
  return nodes;
}

/** The ids of the instances `n` reports live (empty when it cannot say). */
export async function liveSeenBy(n: Node): Promise<string[]> {
  const r = await n.k.api('/api/v1/instances', { timeoutMs: 3_000 }).catch(() => ({ status: 0, body: null }));
  if (r.status !== 200) return [];
  return (r.body as { instances: Array<{ id: string; status: string }> }).instances.filter((i) => i.status === 'live').map((i) => i.id).sort();
}

/** The instance whose session holds the escalation leader's advisory lock (by its proxy's upstream ports), or null. */
export async function leaderOf(h: Harness, nodes: Node[]): Promise<Node | null> {
  const rows = await h.sql<{ port: number }>(
    `SELECT a.client_port AS port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1`,
    [LEADER_LOCK_KEY],
  );
  const port = rows[0]?.port;
  return port === undefined ? null : (nodes.find((n) => n.proxy.upstreamPorts().has(Number(port))) ?? null);
}

/** Open `count` critical incidents through `via` (round robin); returns their escalation ids. */
export async function openIncidents(h: Harness, via: Node[], prefix: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const n = via[i % via.length]!;
    const r = await n.k.api('/api/v1/incidents', { method: 'POST', body: { system: 'enbek', title: `${prefix} ${i}`, severity: 'critical', fingerprint: `${prefix}-${i}` } });
    assert.equal(r.status, 201, `opening incident ${prefix}-${i} on ${n.id}: ${JSON.stringify(r.body)}`);
    const e = await h.sql<{ id: number }>(`SELECT id FROM escalations WHERE subject_kind = 'incident' AND subject_id = $1`, [Number((r.body as { id: number }).id)]);
    assert.equal(e.length, 1, `incident ${prefix}-${i} has one escalation`);
    out.push(Number(e[0]!.id));
  }
  return out;
}

/** Every probe result in the store. */
export async function probeRuns(h: Harness): Promise<Run[]> {
  const rows = await h.sql<{ probe: string; instance: string; at: number }>(`SELECT probe, instance, (EXTRACT(EPOCH FROM started_at) * 1000)::float8 AS at FROM probe_results`);
  return rows.map((r) => ({ probe: r.probe, instance: r.instance, at: Number(r.at) }));
}

/** Runs of the same probe closer than half an interval (twice in one slot), and slots nobody ran, in [from, to). */
export function slotFigures(runs: Run[], from: number, to: number, intervalMs: number): { duplicates: string[]; missed: number } {
  const byProbe = new Map<string, Run[]>();
  for (const r of runs) if (r.at >= from && r.at < to) byProbe.set(r.probe, [...(byProbe.get(r.probe) ?? []), r]);
  const duplicates: string[] = [];
  let missed = 0;
  for (const [probe, list] of byProbe) {
    list.sort((a, b) => a.at - b.at);
    for (let i = 1; i < list.length; i++) {
      const gap = list[i]!.at - list[i - 1]!.at;
      if (gap < intervalMs / 2) duplicates.push(`${probe} by ${list[i - 1]!.instance} and ${list[i]!.instance} ${gap} ms apart at ${new Date(list[i]!.at).toISOString()}`);
      else if (gap > intervalMs * 1.5) missed += Math.round(gap / intervalMs) - 1;
    }
  }
  return { duplicates, missed };
}

/** The probes `who` ran in [from, to). */
export function ownedBy(runs: Run[], who: string, from: number, to: number): Set<string> {
  return new Set(runs.filter((r) => r.at >= from && r.at < to && r.instance === who).map((r) => r.probe));
}

/**
 * Alertmanager alerts (severity warning: recorded, never paged) posted to the live instances in turn until stopped.
 * `acknowledged` holds the ids of alerts answered 2xx.
 */
export function alertSender(h: Harness, nodes: Node[]): { acknowledged: Set<string>; refused: () => number; stop: () => Promise<void> } {
  const acknowledged = new Set<string>();
  let refused = 0;
  let sending = true;
  let seq = 0;
  const done = (async () => {
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
  const stop = async () => {
    sending = false;
    await done;
  };
  h.defer(stop);
  return { acknowledged, refused: () => refused, stop };
}

/** Wait until no page is pending, then a lease's length more (5 s), so that a page sent twice would show. */
export async function outboxSettled(h: Harness): Promise<void> {
  await until('every page sent', async () => (await h.sql(`SELECT 1 FROM outbox WHERE state IN ('pending', 'sending') LIMIT 1`)).length === 0, 60_000, 500);
  await sleep(6_000);
}

/** Pages by ladder step: expected keys, those doubled, skipped, and any beyond the ladders. */
export function pageFigures(h: Harness, escalations: number[], steps: number): { expected: number; sent: number; doubled: string[]; skipped: string[]; unexpected: string[] } {
  const expected = escalations.flatMap((e) => Array.from({ length: steps }, (_x, i) => `esc:${e}:r0:s${i}:`));
  const byKey = new Map<string, number>();
  for (const m of h.smtp.mails) byKey.set(m.key, (byKey.get(m.key) ?? 0) + 1);
  return {
    expected: expected.length,
    sent: h.smtp.mails.length,
    doubled: [...byKey].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`),
    skipped: expected.filter((p) => !h.smtp.mails.some((m) => m.key.startsWith(p))),
    unexpected: h.smtp.mails.filter((m) => !expected.some((p) => m.key.startsWith(p))).map((m) => m.key),
  };
}
