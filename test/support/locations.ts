import { createServer, type Server } from 'node:net';
import { createToken, type Role } from '../../src/access/tokens.ts';
import { createApp, type App } from '../../src/app.ts';
import { FakeClock } from '../../src/clock.ts';
import { nullLogger } from '../../src/log.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { TEST_CONFIG } from './app.ts';
import { freshStore, testDatabaseUrl } from './store.ts';
import { tmpTree } from './tmp.ts';

// Two kuzet instances in two locations (almaty, astana) on one store, each running the probe `web` (tcp,
// confirm.locations: 2) against its own port, so the locations can disagree. Nothing listens on either port at
// first (connection refused); `listenAt` opens one.

const listen = (port = 0) =>
  new Promise<Server>((ok, fail) => {
    const s = createServer((sock) => sock.end());
    s.once('error', fail);
    s.listen(port, '127.0.0.1', () => ok(s));
  });
const close = (s: Server) => new Promise<void>((ok) => s.close(() => ok()));

export interface TwoLocations {
  store: Store;
  clock: FakeClock;
  almaty: App;
  astana: App;
  /** Each app's base URL (http://127.0.0.1:port). */
  urls: { almaty: string; astana: string };
  /** Move the clock a second at a time, letting heartbeats finish, so both locations stay live. */
  step(seconds: number): Promise<void>;
  /** Start answering at this location's target. */
  listenAt(location: 'almaty' | 'astana'): Promise<void>;
  token(role: Role, name?: string): Promise<string>;
  close(): Promise<void>;
}

/** `extraConfig` is added to kuzet.yaml, `extraProbes` to the probe file (e.g. a `maintenance:` list). */
export async function twoLocations(extraConfig = '', extraProbes = ''): Promise<TwoLocations> {
  const closers: Array<() => Promise<void>> = [];
  const base = await freshStore();
  closers.push(() => base.close());
  const schema = testDatabaseUrl ? (await base.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s : '';
  const ports: Record<string, number> = {};
  for (const loc of ['almaty', 'astana']) {
    const s = await listen();
    ports[loc] = (s.address() as { port: number }).port;
    await close(s);
  }
  const clock = new FakeClock('2026-03-02T04:00:00Z');
  const apps: Record<string, App> = {};
  const urls: Record<string, string> = {};
  for (const location of ['almaty', 'astana']) {
    const t = tmpTree({
      'kuzet.yaml': `${TEST_CONFIG}cluster:\n  location: ${location}\n  instance_id: ${location}-1\n${extraConfig}`,
      'probes/web.yaml': `probes:\n  - { name: web, kind: tcp, system: enbek, interval: 30s, timeout: 2s, retries: 0, confirm: { failures: 1, locations: 2 }, recover: { successes: 1 }, severity: critical, tcp: { host: 127.0.0.1, port: ${ports[location]} } }\n${extraProbes}`,
    });
    let store: Store = base;
    if (testDatabaseUrl) {
      store = await openStore({ url: testDatabaseUrl, schema, poolSize: 4 });
      closers.push(() => store.close());
    }
    const app = await createApp({ configFile: t.path('kuzet.yaml'), store, clock, log: nullLogger, port: 0 });
    closers.push(async () => {
      await app.stop();
      t.cleanup();
    });
    urls[location] = (await app.start()).url;
    apps[location] = app;
  }
  const { almaty, astana } = apps as { almaty: App; astana: App };
  return {
    store: base,
    clock,
    almaty,
    astana,
    urls: urls as TwoLocations['urls'],
    async step(seconds) {
      for (let i = 0; i < seconds; i++) {
        clock.advance(1000);
        for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
        await Promise.all([almaty.membership.settled(), astana.membership.settled(), almaty.probes.settled(), astana.probes.settled()]);
      }
    },
    async listenAt(location) {
      const s = await listen(ports[location]);
      closers.push(() => close(s));
    },
    token: async (role, name = role) => (await createToken(base, clock, name, role, 'test')).token,
    async close() {
      for (const c of closers.reverse()) await c().catch(() => {});
    },
  };
}
