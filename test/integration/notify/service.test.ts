import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../src/clock.ts';
import { IncidentEngine } from '../../../src/incidents/engine.ts';
import { createEscalationService } from '../../../src/notify/service.ts';
import type { Store } from '../../../src/store/store.ts';
import { sig } from '../../support/signals.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { ladderConfig, MIN } from '../escalation/fixtures.ts';
import { smtpStandIn } from './stand-ins.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** Wait (bounded) for a real socket to deliver; the fake clock is not involved. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

describe(`escalation service wiring on ${storeKind}`, () => {
  it('signal -> engine hook -> outbox -> nudge -> SMTP, with the runbook in the message; stop is idempotent', async () => {
    const smtp = await smtpStandIn();
    closers.push(smtp.close);
    const store: Store = await freshStore();
    closers.push(() => store.close());
    const clock = new FakeClock('2026-01-05T04:00:00Z');
    const cfg = ladderConfig();
    cfg.channels = { email: { type: 'email', host: '127.0.0.1', port: smtp.port, from: 'kuzet@example.kz', timeout: '5s' } };
    cfg.people!.alice!.via = ['email'];
    cfg.people!.alice!.lang = 'en';
    const registry = new Registry();
    const engine = new IncidentEngine({ store, clock, policy: () => ({ reopenWindowMs: 0, flapFlips: 0, flapWindowMs: MIN }) });
    const svc = createEscalationService({ store, clock, config: () => cfg, engine, registry, runbooksDir: fileURLToPath(new URL('../../../runbooks/', import.meta.url)), instanceId: 'i1' });
    await svc.start();
    await svc.start();
    assert.match(await registry.metrics(), /kuzet_escalation_leader 1/);
    await engine.processBatch([sig({ severity: 'critical', check: 'https-home', observedAt: clock.now() })]);
    clock.advance(10); // the first nudge
    await until(() => smtp.mails.length === 1, 'the page to reach SMTP');
    const raw = smtp.mails[0]!.data;
    const [head, body] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)];
    // An all-English page goes quoted-printable; one with Cyrillic base64.
    const text = /Content-Transfer-Encoding: base64/.test(head)
      ? Buffer.from(body.replace(/\r\n/g, ''), 'base64').toString('utf8')
      : Buffer.from(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    assert.match(text, /^Runbook: Portal unavailable$/m, 'the runbook chosen by the check name, in the receiver\'s language');
    assert.match(text, /^1\. Open the portal yourself/m, 'its first steps are quoted');
    await svc.worker.drain();
    assert.match(await registry.metrics(), /kuzet_notifications_total\{channel="email",outcome="sent"\} 1/);
    await svc.stop();
    await svc.stop();
  });
});
