import { createToken, type Role } from '../../src/access/tokens.ts';
import { createApp, type App } from '../../src/app.ts';
import { FakeClock } from '../../src/clock.ts';
import { nullLogger } from '../../src/log.ts';
import type { Store } from '../../src/store/store.ts';
import { freshStore } from './store.ts';
import { tmpTree } from './tmp.ts';

export const TEST_CONFIG = `server:
  listen: 127.0.0.1
  port: 0
probes_dir: probes
systems:
  - { id: enbek, name: Electronic Labour Exchange, form: enbek }
  - { id: nqs, name: NQS platform, form: nqs }
  - { id: integration-bus, name: Integration bus, form: ministry }
`;

export interface TestApp {
  app: App;
  store: Store;
  clock: FakeClock;
  configPath: string;
  dir: string;
  token(role: Role, name?: string): Promise<string>;
  close(): Promise<void>;
}

/** The whole app in-process on a fresh store, with a fake clock and a temporary config folder. */
export async function testApp(config = TEST_CONFIG, extraFiles: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  const t = tmpTree({ 'kuzet.yaml': config, 'probes/.keep': '', ...extraFiles });
  const store = await freshStore();
  const clock = new FakeClock('2026-03-02T04:00:00Z');
  const app = await createApp({ configFile: t.path('kuzet.yaml'), store, clock, log: nullLogger, port: 0, env });
  return {
    app,
    store,
    clock,
    configPath: t.path('kuzet.yaml'),
    dir: t.dir,
    token: async (role, name = role) => (await createToken(store, clock, name, role, 'test')).token,
    async close() {
      await app.stop();
      await store.close();
      t.cleanup();
    },
  };
}
