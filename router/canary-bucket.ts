import { createHash } from 'node:crypto';

/** Buckets per split: a share is resolved to 1/10,000. */
export const BUCKETS = 10_000;

/**
 * The account's stable bucket in [0, BUCKETS) for one rule: a hash of (account id, rule id). An account
 * stays on one side of a split until the weights change; different rules shuffle accounts independently.
 */
export function canaryBucket(accountId: string, ruleId: string): number {
  const digest = createHash('sha256').update(`${ruleId}\u0000${accountId}`).digest();
  return digest.readUInt32BE(0) % BUCKETS;
}
