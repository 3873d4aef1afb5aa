import type { EscalationConfig } from '../escalation/config.ts';
import type { OutboxItem } from '../escalation/outbox.ts';

// Placeholders page nobody. The shipped configuration names example people (duty1@example.kz …) so that it
// validates and starts; a message to such an address is held with the reason "placeholder address" instead of
// being tried against a relay until it dies. The set is `escalation.placeholder_domains`: an address whose domain
// is one of them, or below one of them, is a placeholder.

export const PLACEHOLDER_REASON = 'placeholder address';

/** The domains the shipped config lists: Kazakhstan's example domain and the names reserved for examples (RFC 2606, RFC 6761). */
export const SHIPPED_PLACEHOLDER_DOMAINS = ['example.kz', 'example.com', 'example.org', 'example.net', 'example', 'invalid', 'test', 'localhost'] as const;

/** True when the address (an e-mail address, or a bare domain) lies in one of the placeholder domains. */
export function isPlaceholderAddress(address: string | undefined, domains: readonly string[]): boolean {
  if (!address || !domains.length) return false;
  const at = address.lastIndexOf('@');
  const host = (at >= 0 ? address.slice(at + 1) : address).trim().toLowerCase().replace(/\.$/, '');
  if (!host) return false;
  return domains.some((d) => {
    const dom = d.toLowerCase().replace(/^\.|\.$/g, '');
    return host === dom || host.endsWith(`.${dom}`);
  });
}

/** The reason to hold this message, or null to deliver it. */
export function placeholderHold(cfg: EscalationConfig, item: Pick<OutboxItem, 'recipient' | 'channel'>): string | null {
  const address = item.recipient.address || cfg.channels?.[item.channel]?.to;
  if (!isPlaceholderAddress(address, cfg.placeholder_domains ?? [])) return null;
  return `${PLACEHOLDER_REASON}: ${address} is a placeholder (escalation.placeholder_domains); put the person's real address in the config`;
}
