import type { EscalationConfig } from '../../../src/escalation/config.ts';
import type { Channel, SendRequest, SendResult } from '../../../src/notify/channel.ts';
import type { Store } from '../../../src/store/store.ts';
import { freshStore } from '../../support/store.ts';

/** A channel that records what it was asked to send; `fail` decides the outcome per call. */
export class RecordingChannel implements Channel {
  readonly type = 'test' as const;
  readonly sent: SendRequest[] = [];
  calls = 0;
  constructor(
    public fail: (req: SendRequest, n: number) => SendResult | null | 'hang' = () => null,
    /** A log shared by several channels, in delivery order: "<name>:<address>". */
    readonly log: string[] = [],
    readonly name = 'test',
  ) {}
  async send(req: SendRequest): Promise<SendResult> {
    this.calls++;
    const f = this.fail(req, this.calls);
    if (f === 'hang') return new Promise<SendResult>(() => {});
    if (f) return f;
    this.sent.push(req);
    this.log.push(`${this.name}:${req.address ?? ''}`);
    return { ok: true, providerId: `p${this.calls}` };
  }
}

export const MIN = 60_000;

/** alice and bob rotate daily at 09:00 Almaty (alice from 2026-01-01); carol is head of operations. */
export function ladderConfig(over: Partial<EscalationConfig> = {}): EscalationConfig {
  return {
    default_lang: 'ru',
    public_url: 'https://kuzet.example.kz',
    ack_links: { secret: 'test-secret-0123456789', ttl: '2h' },
    people: {
      alice: { name: 'Alice', email: 'alice@example.kz', slack: 'UALICE', lang: 'ru', via: ['email', 'slack'] },
      bob: { name: 'Bob', email: 'bob@example.kz', slack: 'UBOB', lang: 'kk', via: ['slack'] },
      carol: { name: 'Carol', email: 'carol@example.kz', lang: 'en' },
    },
    rotations: {
      primary: { time_zone: 'Asia/Almaty', layers: [{ name: 'main', members: ['alice', 'bob'], hand_off: 'daily', hand_off_time: '09:00', start: '2026-01-01' }] },
    },
    channels: {
      email: { type: 'email', host: '127.0.0.1', from: 'kuzet@example.kz', timeout: '10s', fallback: 'slack', fallback_after: 2, max_attempts: 4 },
      slack: { type: 'slack', token: 'xoxb-test', timeout: '10s' },
      ops: { type: 'slack', token: 'xoxb-test', slack_channel: 'C0PS' },
    },
    policies: [
      {
        name: 'portals',
        match: { severities: ['major', 'critical'] },
        ack_deadline: '30m',
        resolve_deadline: '4h',
        steps: [
          { after: '0m', notify: [{ rotation: 'primary' }] },
          { after: '15m', notify: [{ person: 'bob' }] },
          { after: '1h', notify: [{ person: 'carol', via: ['email'] }] },
        ],
        repeat: { every: '30m', times: 1 },
        on_breach: { notify: [{ channel: 'ops' }] },
      },
    ],
    outbox: { base_backoff: '10s', max_backoff: '5m' },
    ...over,
  };
}

let shared: Promise<Store> | null = null;

/**
 * One migrated store per test file (opening PGlite costs seconds), emptied before each use so every
 * test starts from nothing. The caller's `after` closes it with `closeSharedStore`.
 */
export async function cleanStore(): Promise<Store> {
  shared ??= freshStore();
  const store = await shared;
  await store.exec(`TRUNCATE incidents, incident_events, signals, escalations, timers, outbox, silences, ack_link_uses, audit_log CASCADE`);
  return store;
}

export async function closeSharedStore(): Promise<void> {
  if (shared) await (await shared).close();
  shared = null;
}
