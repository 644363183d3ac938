import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../contract/index.js';

/**
 * A lock with a lease in one Redis key: held while its holder renews it within `leaseMs`, free again that long
 * after a holder dies. Renewal and release compare the holder's token in a script, so a holder whose lease ran
 * out (and was taken over) cannot extend or delete its successor's.
 */
export class RedisLease {
  /** This holder's token (the key's value while it holds the lock). */
  readonly token = `${process.pid}-${randomUUID()}`;

  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    private readonly leaseMs: number,
  ) {}

  /** Takes the lock when free (or already ours: then renews it). */
  async acquire(): Promise<boolean> {
    if ((await this.redis.set(this.key, this.token, 'PX', this.leaseMs, 'NX')) === 'OK') return true;
    return this.renew();
  }

  /** Extends the lease; false when the lock is no longer ours. */
  async renew(): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.key, this.token, String(this.leaseMs))) === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }

  /** The current holder's token, or null. */
  holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
