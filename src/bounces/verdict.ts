// What mailgate does with one bounced recipient, decided in one place: the bounce processor, the
// SMTP-time rejection rule and `mailgate bounces parse` all call these, so the CLI can never say
// something the relay does not do. Pure.
import type { BounceClass } from './classify.js';

/** Reasons that say the address itself is bad: a hard bounce with one of these suppresses at once. */
export const SUPPRESSING_REASONS: ReadonlySet<string> = new Set(['user-unknown', 'host-unknown', 'bad-address', 'has-moved', 'domain-accepts-no-mail']);

/**
 * Soft reasons that say something about the mailbox (not about us, the network or the content):
 * these count towards suppression when they keep coming (see SOFT_LIMIT in soft-bounces.ts).
 */
export const SOFT_COUNTING_REASONS: ReadonlySet<string> = new Set(['mailbox-full', 'suspended', 'expired', 'filtered']);

export interface Verdict {
  /** This bounce on its own puts the address on the suppression list. */
  suppress: boolean;
  /** This bounce counts towards suppression after repeated soft bounces. */
  countsTowardsSuppression: boolean;
}

/** Why one bounce suppressed an address, in a shop admin's words. */
export function suppressionRule(r: { class: BounceClass; reason: string }): string {
  if (r.class === 'complaint') return `the recipient complained (${r.reason}): no more mail to this address`;
  const what: Record<string, string> = {
    'user-unknown': 'the address does not exist',
    'host-unknown': 'the domain of the address does not exist',
    'bad-address': 'the address is malformed',
    'has-moved': 'the recipient has moved to another address',
    'domain-accepts-no-mail': 'the domain accepts no mail',
  };
  return `hard bounce: ${what[r.reason] ?? r.reason}`;
}

export function verdictFor(r: { class: BounceClass; reason: string }): Verdict {
  const suppress = r.class === 'complaint' || (r.class === 'hard' && SUPPRESSING_REASONS.has(r.reason));
  return { suppress, countsTowardsSuppression: !suppress && r.class === 'soft' && SOFT_COUNTING_REASONS.has(r.reason) };
}
