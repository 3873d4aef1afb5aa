import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { createToken, type Role } from '../../../src/access/tokens.ts';
import { createApp, type App } from '../../../src/app.ts';
import { FakeClock } from '../../../src/clock.ts';
import { createLogger } from '../../../src/log.ts';
import type { Store } from '../../../src/store/store.ts';
import { mailText } from '../../support/mail.ts';
import { freshStore } from '../../support/store.ts';
import { tmpTree } from '../../support/tmp.ts';
import { httpReceiver, smtpStandIn } from '../notify/stand-ins.ts';

// The whole app as deployed for the personal-data and acknowledge-link tests: a real SMTP server for alice's
// pages, a webhook receiver that refuses bob's (so they become dead letters), the SOC webhook, the
// Alertmanager API, a tailed log file with a rule, and the JSON log written to a file.

export const SOC_SECRET = 'soc-shared-secret-0123456789';
export const ACK_SECRET = 'ack-secret-0123456789abcdef';

export interface PdApp {
  app: App;
  store: Store;
  clock: FakeClock;
  dir: string;
  appLog: string;
  token(role: Role, name?: string): Promise<string>;
  /** Deliver everything due (the worker, not the clock). */
  deliver(): Promise<void>;
  /** What left kuzet towards people: decoded subjects and texts of every mail, bodies of every webhook call. */
  sent(): Array<{ to: string; text: string }>;
  logText(): Promise<string>;
  close(): Promise<void>;
}

export async function pdApp(): Promise<PdApp> {
  const smtp = await smtpStandIn();
  const hook = await httpReceiver(400);
  const t = tmpTree({ 'probes/.keep': '', 'app.log': '', 'attachments/.keep': '' });
  const config = `server:
  listen: 127.0.0.1
  port: 0
probes_dir: probes
systems:
  - { id: enbek, name: Electronic Labour Exchange, form: enbek }
  - { id: nqs, name: NQS platform, form: nqs }
  - { id: labour-market, name: Labour market, form: ministry }
intake:
  alertmanager: { require_auth: true, default_system: enbek }
  soc:
    sources:
      - { name: soc-main, secret: "\${SOC_SECRET}", system: enbek }
requests:
  attachments: { dir: ${JSON.stringify(t.path('attachments'))} }
  rate_limit: { max: 1000, window: 10m }
logs:
  files:
    - { name: app, paths: [${JSON.stringify(t.path('app.log'))}], system: enbek, start_at: beginning, poll_interval: 100ms }
  rules:
    - { name: login-failed, pattern: "LOGIN FAILED (?P<who>.+)", severity: critical, inputs: [app], summary: "login failed: {{who}}" }
escalation:
  public_url: https://kuzet.example.kz
  ack_links: { secret: "\${ACK_SECRET}", ttl: 2h }
  people:
    alice: { name: Alice, email: alice@example.kz, lang: en, via: [email] }
    bob: { name: Bob, email: bob@example.kz, lang: ru, via: [hook] }
  channels:
    email: { type: email, host: 127.0.0.1, port: ${smtp.port}, from: kuzet@example.kz, timeout: 5s }
    hook: { type: webhook, url: "${hook.url}/", secret: "\${HOOK_SECRET}", timeout: 5s }
  policies:
    - name: everything
      steps: [{ after: 0m, notify: [{ person: alice }, { person: bob }] }]
`;
  writeFileSync(t.path('kuzet.yaml'), config);
  const appLog = t.path('kuzet.log');
  const stream = createWriteStream(appLog);
  const store = await freshStore();
  const clock = new FakeClock('2026-03-02T04:00:00Z');
  const app = await createApp({
    configFile: t.path('kuzet.yaml'),
    store,
    clock,
    log: createLogger({ stream, level: 'debug' }),
    port: 0,
    env: { SOC_SECRET, ACK_SECRET, HOOK_SECRET: 'hook-secret-0123456789' },
  });
  let closed = false;
  return {
    app,
    store,
    clock,
    dir: t.dir,
    appLog: t.path('app.log'),
    token: async (role, name = role) => (await createToken(store, clock, name, role, 'test')).token,
    async deliver() {
      for (let i = 0; i < 50; i++) {
        const n = await app.escalation.worker.runOnce();
        if (n === 0) break;
      }
    },
    sent: () => [
      ...smtp.mails.map((m) => {
        const x = mailText(m.data);
        return { to: m.to.join(','), text: `${x.subject}\n${x.text}` };
      }),
      ...hook.received.map((r) => ({ to: String((r.body as { to?: unknown }).to ?? ''), text: r.raw })),
    ],
    async logText() {
      await new Promise<void>((r) => stream.write('', () => r()));
      return readFileSync(t.path('kuzet.log'), 'utf8');
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.stop();
      await new Promise<void>((r) => stream.end(() => r()));
      await store.close();
      await smtp.close();
      await hook.close();
      t.cleanup();
    },
  };
}
