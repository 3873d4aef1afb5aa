import type { Signal } from '../../src/signals/signal.ts';

export function sig(over: Partial<Signal> = {}): Signal {
  return {
    source: 'probe',
    system: 'enbek',
    check: 'home-ru',
    fingerprint: 'fp-1',
    severity: 'major',
    status: 'firing',
    summary: 'enbek.kz home page (ru) does not answer',
    labels: { lang: 'ru' },
    payload: {},
    observedAt: Date.parse('2026-01-05T04:00:00Z'),
    ...over,
  };
}
