import { assertAtLeast as atLeast, assertPrefix, CONFIG_DEFAULTS, DAY, LANES, SECOND, type Lane, type RedisClient, type RedisTlsSettings, type SourceImageInspector } from '../contract/index.js';
import type { PolicySource } from '../router/index.js';
import type { ModelCatalogueSource } from './model-catalogue-source.js';

export interface ProducerOptions {
  /**
   * Redis URL (`redis://`, `rediss://`, `redis+cluster://h:p,h:p`: see `createRedisConnection`) or an open
   * ioredis connection or cluster (the producer then does not close it).
   */
  redis: string | RedisClient;
  /** TLS settings for a `rediss://` URL (from `FleetConfig.redisTls`). @default system CAs, verified */
  redisTls?: RedisTlsSettings;
  /** Key prefix shared with the workers and the CLI. @default 'fleet' */
  prefix?: string;
  /** Where routing decisions come from. @default the shipped default policy (version 0) */
  policy?: PolicySource;
  /**
   * Most jobs a lane may hold waiting before `enqueue` refuses with `E_BACKPRESSURE`.
   * @default { flash: 5000, large: 1000, typography: 2000, upscale: 1000 }
   */
  maxWaiting?: Partial<Record<Lane, number>>;
  /** Seconds a client is told to wait on backpressure (`Retry-After`). @default 2 */
  retryAfterSeconds?: number;
  /**
   * How long `enqueue`, `getJob` and the other calls wait for the connection when it is not up yet (starting, or
   * reconnecting), ms; past it they fail with `E_REDIS_UNAVAILABLE`. @default 2000
   */
  connectTimeoutMs?: number;
  /**
   * After an add Redis did not answer (a command timeout, a connection lost after the add was sent), how long
   * `enqueue` waits for Redis to say whether the job exists, ms. It answers the receipt when it does, the known
   * `E_REDIS_UNAVAILABLE` when it does not, and `E_OUTCOME_UNKNOWN` (with the job id to poll) when Redis stays silent
   * this long. @default 10000
   */
  outcomeTimeoutMs?: number;
  /**
   * The secret idempotent job ids are derived with (HMAC), the same on every ingress. @default the one kept in Redis
   * (`<prefix>:id-secret`, made on first use)
   */
  idSecret?: string;
  /**
   * The models workers serve, to check a routed request against its model before enqueue.
   * @default the catalogue workers publish to Redis (`RedisModelCatalogue`); nothing is checked while none is published
   */
  catalogue?: ModelCatalogueSource;
  /**
   * Reads an upscale source's dimensions from the store before enqueue (checked against the model's source sizes,
   * and used as the routing features' size). @default undefined: sources are not read at the edge
   */
  sources?: SourceImageInspector;
  /** Attempts per job before it ends failed (transient errors retry with exponential backoff). @default 3 */
  attempts?: number;
  /** First retry delay, ms; doubles each attempt. @default 1000 */
  backoffMs?: number;
  /** How long completed jobs (and their results) stay readable, seconds. @default 86400 (1 day) */
  keepCompletedSeconds?: number;
  /** How long failed jobs stay for replay, seconds. @default 604800 (7 days) */
  keepFailedSeconds?: number;
  /** How long an idempotency key maps to its job, seconds. @default 86400 (1 day) */
  idempotencyTtlSeconds?: number;
  /** Source of the current time (ms), injected for tests. @default Date.now */
  now?: () => number;
  /**
   * Count each routed request's features (lane, rule, intent, size, prompt length, writing systems, …) into the
   * per-minute drift counts in Redis (`fleet drift`): summed in the process and written once a second, never awaited by a
   * request. @default true
   */
  countRequestFeatures?: boolean;
}

export type ResolvedProducerOptions = Required<Omit<ProducerOptions, 'policy' | 'maxWaiting' | 'redisTls' | 'idSecret' | 'catalogue' | 'sources'>> & {
  policy: PolicySource | undefined;
  maxWaiting: Record<Lane, number>;
  idSecret: string | undefined;
  catalogue: ModelCatalogueSource | undefined;
  sources: SourceImageInspector | undefined;
};

export const PRODUCER_DEFAULTS = {
  prefix: CONFIG_DEFAULTS.prefix,
  maxWaiting: { flash: 5000, large: 1000, typography: 2000, upscale: 1000 },
  retryAfterSeconds: 2,
  connectTimeoutMs: 2 * SECOND,
  outcomeTimeoutMs: 10 * SECOND,
  attempts: 3,
  backoffMs: 1000,
  keepCompletedSeconds: DAY / 1000,
  keepFailedSeconds: (7 * DAY) / 1000,
  idempotencyTtlSeconds: DAY / 1000,
  now: Date.now,
  countRequestFeatures: true,
} satisfies Omit<ResolvedProducerOptions, 'redis' | 'policy' | 'idSecret' | 'catalogue' | 'sources'>;

export function resolveProducerOptions(options: ProducerOptions): ResolvedProducerOptions {
  const resolved: ResolvedProducerOptions = {
    ...PRODUCER_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    redis: options.redis,
    policy: options.policy,
    idSecret: options.idSecret,
    catalogue: options.catalogue,
    sources: options.sources,
    maxWaiting: { ...PRODUCER_DEFAULTS.maxWaiting, ...options.maxWaiting },
  };
  assertPrefix(resolved.prefix);
  for (const lane of LANES) atLeast(`maxWaiting.${lane}`, resolved.maxWaiting[lane], 0);
  atLeast('retryAfterSeconds', resolved.retryAfterSeconds, 1);
  atLeast('connectTimeoutMs', resolved.connectTimeoutMs, 0);
  atLeast('outcomeTimeoutMs', resolved.outcomeTimeoutMs, 0);
  if (resolved.idSecret !== undefined && resolved.idSecret.length < 16) throw new RangeError(`idSecret must be at least 16 characters, got ${resolved.idSecret.length}`);
  atLeast('attempts', resolved.attempts, 1);
  atLeast('backoffMs', resolved.backoffMs, 0);
  atLeast('keepCompletedSeconds', resolved.keepCompletedSeconds, 1);
  atLeast('keepFailedSeconds', resolved.keepFailedSeconds, 1);
  atLeast('idempotencyTtlSeconds', resolved.idempotencyTtlSeconds, 1);
  // A key that outlives its completed job would re-run it (with another seed) on the next use of the key.
  if (resolved.idempotencyTtlSeconds > resolved.keepCompletedSeconds) {
    throw new RangeError(`idempotencyTtlSeconds must be <= keepCompletedSeconds (${resolved.keepCompletedSeconds}), got ${resolved.idempotencyTtlSeconds}`);
  }
  return resolved;
}
