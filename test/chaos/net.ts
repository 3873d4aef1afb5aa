import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, Socket, type Server as NetServer } from 'node:net';
import { sleep } from './support.ts';

// Network parts of the chaos scenarios that need more than the harness: a TCP proxy that can partition one kuzet
// from PostgreSQL, and a probe target. Loopback only.

export type ProxyMode = 'forward' | 'refuse' | 'blackhole';

/**
 * A TCP proxy on a loopback port in front of `targetPort`. `refuse`: every open connection is cut and new ones are
 * refused (the listening socket is closed), as when the store's host is unreachable and says so. `blackhole`: open
 * connections stay up but nothing passes either way, and new connections are accepted and then hang (packets lost
 * on the way, nobody answers). `forward` heals.
 */
export interface TcpProxy {
  port: number;
  mode(): ProxyMode;
  setMode(m: ProxyMode): Promise<void>;
  /** Connections accepted so far. */
  connections(): number;
  /** Local ports of the open upstream connections: what PostgreSQL shows as `client_port` of this proxy's sessions. */
  upstreamPorts(): Set<number>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, port: number): Promise<TcpProxy> {
  let mode: ProxyMode = 'forward';
  let accepted = 0;
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let server: NetServer | null = null;
  const drop = (p: { client: Socket; upstream: Socket }) => {
    p.client.destroy();
    p.upstream.destroy();
    pairs.delete(p);
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createNetServer((client) => {
        accepted++;
        const upstream = new Socket();
        const p = { client, upstream };
        pairs.add(p);
        client.on('error', () => drop(p)).on('close', () => drop(p));
        upstream.on('error', () => drop(p)).on('close', () => drop(p));
        // Data moves only while forwarding; a black hole swallows it (and never connects upstream).
        client.on('data', (b: Buffer) => {
          if (mode === 'forward' && upstream.writable) upstream.write(b);
        });
        upstream.on('data', (b: Buffer) => {
          if (mode === 'forward' && client.writable) client.write(b);
        });
        if (mode === 'forward') upstream.connect(targetPort, '127.0.0.1');
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve();
      });
    });
  const closeListener = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = null;
      if (!s) return resolve();
      s.close(() => resolve());
    });
  await listen();
  return {
    port,
    mode: () => mode,
    connections: () => accepted,
    upstreamPorts: () => new Set([...pairs].map((p) => p.upstream.localPort).filter((x): x is number => x !== undefined)),
    async setMode(m) {
      if (m === mode) return;
      const was = mode;
      mode = m;
      if (m === 'refuse') {
        for (const p of [...pairs]) drop(p);
        await closeListener();
      } else if (m === 'blackhole') {
        // Connections accepted from now on never reach the server; the open ones simply stop passing bytes.
      } else {
        // Healing: connections that sat in the black hole are cut (their protocol state is lost anyway), and the
        // listener is back for new ones.
        if (was === 'blackhole') for (const p of [...pairs]) drop(p);
        for (let i = 0; !server; i++) {
          try {
            await listen();
          } catch (err) {
            if (i >= 50) throw err;
            await sleep(100);
          }
        }
      }
    },
    async close() {
      for (const p of [...pairs]) drop(p);
      await closeListener();
    },
  };
}

/** An HTTP server that answers 200 "ok" to everything (what the scenarios' probes check), counting requests. */
export async function startProbeTarget(): Promise<{ url: string; requests(): number; close(): Promise<void> }> {
  let n = 0;
  const s = createHttpServer((_req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
  });
  s.keepAliveTimeout = 1000;
  const port = await new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
  return {
    url: `http://127.0.0.1:${port}/`,
    requests: () => n,
    close: () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

/** A probes file: `count` http probes named `<prefix>-<i>` on `system`, every `interval`, against `url`. */
export function probesYaml(prefix: string, count: number, system: string, url: string, interval: string): string {
  const lines = ['probes:'];
  for (let i = 0; i < count; i++) {
    lines.push(
      `  - name: ${prefix}-${i}`,
      '    kind: http',
      `    system: ${system}`,
      `    interval: ${interval}`,
      '    timeout: 1s',
      '    severity: warning',
      `    http: { url: "${url}?p=${i}" }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The sum of a counter's samples in Prometheus text whose labels include every `labels` pair. */
export function counterSum(metrics: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}
