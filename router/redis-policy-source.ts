import { duplicateRedisConnection, type RedisClient } from '../contract/index.js';
import type { CompiledPolicy } from './compiled-policy.js';
import type { PolicySource } from './policy-source.js';
import { PolicyStore } from './policy-store.js';

export interface RedisPolicySourceOptions {
  /** A connection for reads (not used for SUBSCRIBE). */
  redis: RedisClient;
  prefix: string;
  /** How often the active version is re-read in case a change message was missed, ms. @default 500 */
  pollIntervalMs?: number;
  /** Called after the active version changed. */
  onChange?: (policy: CompiledPolicy) => void;
  /** Called when a reload fails (Redis away); the current policy stays. */
  onError?: (error: unknown) => void;
}

/**
 * The active policy, kept current without restarts: a subscription to the store's change channel
 * switches within milliseconds, and a periodic check (default every 500 ms) catches any missed message,
 * so a newly active version is in use within 1 s. Versions are immutable, so each is compiled once.
 */
export class RedisPolicySource implements PolicySource {
  readonly store: PolicyStore;
  private policy: CompiledPolicy | undefined;
  private readonly compiled = new Map<number, CompiledPolicy>();
  private subscriber: RedisClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private started: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: RedisPolicySourceOptions) {
    this.store = new PolicyStore(options.redis, options.prefix);
  }

  /** Loads the active version (seeding the default when the store is empty) and starts following changes. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await this.reload();
      if (this.closed) return;
      // The subscription is set up in the background: requests wait only for the first policy, and the
      // periodic check covers the time until the subscription (or a resubscription) is in place.
      const subscriber = duplicateRedisConnection(this.options.redis, { role: 'worker' });
      subscriber.on('error', () => {});
      subscriber.on('message', () => void this.reload());
      subscriber.subscribe(this.store.channel).catch(() => {});
      this.subscriber = subscriber;
      this.timer = setInterval(() => void this.reload(), this.options.pollIntervalMs ?? 500);
      this.timer.unref();
    })();
    this.started.catch(() => {
      this.started = undefined;
    });
    return this.started;
  }

  current(): CompiledPolicy {
    if (this.policy === undefined) throw new Error('RedisPolicySource.current() before start() resolved');
    return this.policy;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.subscriber?.disconnect();
  }

  private reload(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        const version = (await this.store.activeVersion()) ?? (await this.store.active()).version;
        if (this.policy?.version === version) return;
        let next = this.compiled.get(version);
        if (next === undefined) {
          next = await this.store.compiled(version);
          this.compiled.set(version, next);
        }
        this.policy = next;
        this.options.onChange?.(next);
      } catch (error) {
        if (this.policy === undefined) throw error;
        this.options.onError?.(error);
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }
}
