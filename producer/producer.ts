import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Job } from 'bullmq';
import {
  BackpressureError,
  createRedisConnection,
  FleetError,
  fleetKey,
  LANE_DEFAULT_SIZE,
  laneOfJobId,
  makeJobId,
  NotFoundError,
  parseGenerateRequest,
  RedisUnavailableError,
  type EnqueueReceipt,
  type JobData,
  type JobResult,
  type JobView,
  type Lane,
  type RedisClient,
} from '../contract/index.js';
import { RedisPolicySource, type PolicySource, type RouteDecision } from '../router/index.js';
import { toJobView } from './job-view.js';
import { LaneQueues } from './lane-queues.js';
import { resolveProducerOptions, type ProducerOptions, type ResolvedProducerOptions } from './producer-options.js';

/** Priority follows tier: BullMQ takes lower numbers first. */
const TIER_PRIORITY = { enterprise: 1, pro: 2, free: 3 } as const;

export interface WaitOptions {
  /** Longest wait, ms; past it `E_TIMEOUT` (the job goes on). @default 30000 */
  timeoutMs?: number;
}

export interface EnqueueOptions {
  /** Marks the job as a replay of another (set by `fleet replay`). */
  replayOf?: string;
  /**
   * Use this job id instead of a fresh one (replays derive it, so replaying twice adds nothing). When the job
   * already exists, nothing is added and the receipt says `duplicate: true`. A function receives the lane the
   * policy chose, so the id can carry it (`<lane>.<unique>`, as `getJob` needs) even when routing moves the job.
   */
  jobId?: string | ((lane: Lane) => string);
}

export interface ReplayOptions {
  /** The job replayed (recorded as `replayOf` on the new job). */
  replayOf: string;
  /** The new job's id; it must start with the original's lane (`<lane>.…`). */
  jobId: string;
}

/**
 * The library editor services use: validate, route, enqueue; read a job; wait for its result.
 * Every Redis failure surfaces as `E_REDIS_UNAVAILABLE` at once (the producer's connection keeps no
 * offline queue), so a caller can answer 503 instead of hanging, and nothing half-enqueued is reported as accepted.
 */
export class Producer {
  readonly prefix: string;
  readonly redis: RedisClient;
  private readonly options: ResolvedProducerOptions;
  private readonly policy: PolicySource;
  private readonly queues: LaneQueues;
  private readonly ownsConnection: boolean;
  private readonly depthCache = new Map<Lane, { waiting: number; readAt: number }>();

  constructor(options: ProducerOptions) {
    this.options = resolveProducerOptions(options);
    this.prefix = this.options.prefix;
    this.ownsConnection = typeof options.redis === 'string';
    this.redis = typeof options.redis === 'string' ? createRedisConnection(options.redis, { role: 'request', connectionName: 'fleet-producer', ...(options.redisTls ? { tls: options.redisTls } : {}) }) : options.redis;
    this.redis.on('error', () => {});
    this.policy = this.options.policy ?? new RedisPolicySource({ redis: this.redis, prefix: this.prefix });
    this.queues = new LaneQueues(this.redis, this.prefix);
  }

  /** Routes without enqueueing, with the policy the next job would get (what `fleet policy explain` prints). */
  async route(input: unknown): Promise<RouteDecision> {
    const request = parseGenerateRequest(input);
    await this.withRedis(async () => this.policy.start?.());
    return this.policy.current().evaluate(request);
  }

  async enqueue(input: unknown, options: EnqueueOptions = {}): Promise<EnqueueReceipt> {
    const request = parseGenerateRequest(input);
    this.assertConnected();
    await this.withRedis(async () => this.policy.start?.());
    const decision = this.policy.current().evaluate(request);
    const { lane, model } = decision;
    const policy = { version: decision.policyVersion, rule: decision.rule };
    const size = request.width !== undefined && request.height !== undefined ? { width: request.width, height: request.height } : LANE_DEFAULT_SIZE[lane];
    const data: JobData = {
      request: { ...request, seed: request.seed ?? randomInt(0, 2 ** 32) },
      size: size === null ? null : { width: request.width ?? size.width, height: request.height ?? size.height },
      lane,
      model,
      policy,
      enqueuedAt: this.options.now(),
      ...(options.replayOf === undefined ? {} : { replayOf: options.replayOf }),
    };
    return this.withRedis(async () => {
      if (request.idempotencyKey !== undefined) return this.enqueueIdempotent(data, request.idempotencyKey);
      const jobId = typeof options.jobId === 'function' ? options.jobId(lane) : options.jobId;
      if (jobId !== undefined) {
        if (laneOfJobId(jobId) !== lane) throw new FleetError('E_INTERNAL', `job id ${jobId} does not start with its lane ${lane}`);
        const job = await this.findJob(jobId);
        if (job !== undefined) return { id: job.id!, lane: job.data.lane, model: job.data.model, policy: job.data.policy, duplicate: true };
      }
      await this.checkBackpressure(lane);
      const id = jobId ?? makeJobId(lane, randomUUID());
      await this.add(data, id);
      return { id, lane, model, policy, duplicate: false };
    });
  }

  /**
   * Re-enqueues a job as it was: same lane, model, request (and seed) and the policy reference that placed it,
   * without routing again (`fleet replay` without `--reroute`). Backpressure applies as for any enqueue. An
   * existing `jobId` adds nothing (`duplicate: true`).
   */
  async enqueueReplay(original: JobData, options: ReplayOptions): Promise<EnqueueReceipt> {
    const { lane, model, policy } = original;
    if (laneOfJobId(options.jobId) !== lane) throw new FleetError('E_INTERNAL', `replay id ${options.jobId} does not start with its lane ${lane}`);
    this.assertConnected();
    const data: JobData = { ...original, enqueuedAt: this.options.now(), replayOf: options.replayOf };
    return this.withRedis(async () => {
      if ((await this.findJob(options.jobId)) !== undefined) return this.receiptOf(options.jobId);
      await this.checkBackpressure(lane);
      await this.add(data, options.jobId);
      return { id: options.jobId, lane, model, policy, duplicate: false };
    });
  }

  /** How long failed and completed jobs stay readable, seconds (replay markers live as long as failed jobs). */
  get retention(): { completedSeconds: number; failedSeconds: number } {
    return { completedSeconds: this.options.keepCompletedSeconds, failedSeconds: this.options.keepFailedSeconds };
  }

  async getJob(id: string): Promise<JobView> {
    this.assertConnected();
    return this.withRedis(async () => {
      const lane = laneOfJobId(id);
      if (lane === undefined) throw new NotFoundError(`job ${id}`);
      // State first, then the job: a job read before it completed would show 'completed' without its result.
      const state = await this.queues.queue(lane).getJobState(id);
      const job = await this.findJob(id);
      if (job === undefined || state === 'unknown') throw new NotFoundError(`job ${id}`);
      return toJobView(job, state);
    });
  }

  /** Resolves with the job once it is completed or failed; `E_TIMEOUT` after `timeoutMs`. */
  async waitForResult(id: string, options: WaitOptions = {}): Promise<JobView> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const lane = laneOfJobId(id);
    if (lane === undefined) throw new NotFoundError(`job ${id}`);
    this.assertConnected();
    const started = Date.now();
    const events = (await this.withRedis(() => withTimeout(this.queues.queueEvents(lane), timeoutMs, () => new FleetError('E_TIMEOUT', `job ${id}: no result stream from Redis within ${timeoutMs} ms`)))) as unknown as EventEmitter;
    const remainingMs = Math.max(0, timeoutMs - (Date.now() - started));
    let timer: NodeJS.Timeout | undefined;
    let done = () => {};
    const finished = new Promise<void>((resolve) => {
      done = () => {
        clearTimeout(timer);
        events.off(`completed:${id}`, done);
        events.off(`failed:${id}`, done);
        resolve();
      };
      events.on(`completed:${id}`, done);
      events.on(`failed:${id}`, done);
      timer = setTimeout(done, remainingMs);
    });
    // Listening before the first read closes the gap where the job finishes between the two.
    let view: JobView;
    try {
      const first = await this.getJob(id);
      if (first.state === 'completed' || first.state === 'failed') return first;
      await finished;
      view = await this.getJob(id);
    } finally {
      done();
    }
    if (view.state === 'completed' || view.state === 'failed') return view;
    throw new FleetError('E_TIMEOUT', `job ${id} did not finish within ${timeoutMs} ms (it goes on; poll GET /jobs/${id})`, {
      details: { id, state: view.state },
    });
  }

  /** Resolves once Redis answers (or rejects after `timeoutMs`). */
  async ready(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.redis.status !== 'ready') {
      if (Date.now() > deadline) throw new RedisUnavailableError();
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.withRedis(async () => this.policy.start?.());
  }

  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** The lane queues, for tools (the CLI reads depths and drives drains through them). */
  laneQueue(lane: Lane) {
    return this.queues.queue(lane);
  }

  /** The policy this producer routes with. */
  get policySource(): PolicySource {
    return this.policy;
  }

  async close(): Promise<void> {
    await this.policy.close?.();
    await this.queues.close();
    if (this.ownsConnection) this.redis.disconnect();
  }

  private async add(data: JobData, jobId: string): Promise<void> {
    await this.queues.queue(data.lane).add(data.model, data, {
      jobId,
      priority: TIER_PRIORITY[data.request.account.tier],
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs },
      removeOnComplete: { age: this.options.keepCompletedSeconds },
      removeOnFail: { age: this.options.keepFailedSeconds },
    });
    const cached = this.depthCache.get(data.lane);
    if (cached) cached.waiting += 1;
  }

  /**
   * SET NX on the key's hash: the first caller owns the key and its deterministic job id; later callers
   * get the same id and are told `duplicate`. A crash between the claim and the add is healed by the
   * next caller re-adding that id (BullMQ ignores an add of an existing id).
   */
  private async enqueueIdempotent(data: JobData, key: string, attempt = 0): Promise<EnqueueReceipt> {
    const { lane, model, policy } = data;
    const digest = createHash('sha256').update(`${data.request.account.id}\u0000${key}`).digest('hex').slice(0, 32);
    const redisKey = fleetKey(this.prefix, 'idem', digest);
    const candidate = makeJobId(lane, `i${digest}`);
    const existing = await this.redis.get(redisKey);
    if (existing === null) {
      await this.checkBackpressure(lane);
      const claimed = await this.redis.set(redisKey, candidate, 'EX', this.options.idempotencyTtlSeconds, 'NX');
      if (claimed === 'OK') {
        try {
          await this.add(data, candidate);
        } catch (error) {
          await this.redis.del(redisKey).catch(() => {});
          throw error;
        }
        return { id: candidate, lane, model, policy, duplicate: false };
      }
      return this.enqueueIdempotent(data, key, attempt);
    }
    if (laneOfJobId(existing) === lane) {
      if ((await this.findJob(existing)) === undefined) await this.add(data, existing);
      return this.receiptOf(existing);
    }
    // The key points into another lane (the policy changed since): give its owner a moment to add it.
    for (let i = 0; i < 20; i++) {
      if ((await this.findJob(existing)) !== undefined) return this.receiptOf(existing);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (attempt > 0) throw new FleetError('E_INTERNAL', `idempotency key ${key} points at missing job ${existing}`);
    await this.redis.del(redisKey);
    return this.enqueueIdempotent(data, key, attempt + 1);
  }

  private async receiptOf(id: string): Promise<EnqueueReceipt> {
    const job = await this.findJob(id);
    if (job === undefined) throw new NotFoundError(`job ${id}`);
    return { id, lane: job.data.lane, model: job.data.model, policy: job.data.policy, duplicate: true };
  }

  private async findJob(id: string): Promise<Job<JobData, JobResult> | undefined> {
    const lane = laneOfJobId(id);
    if (lane === undefined) return undefined;
    return (await this.queues.queue(lane).getJob(id)) ?? undefined;
  }

  private async checkBackpressure(lane: Lane): Promise<void> {
    const max = this.options.maxWaiting[lane];
    const now = this.options.now();
    let cached = this.depthCache.get(lane);
    if (cached === undefined || now - cached.readAt >= this.options.depthCacheMs) {
      const counts = await this.queues.queue(lane).getJobCounts('waiting', 'prioritized');
      cached = { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), readAt: now };
      this.depthCache.set(lane, cached);
    }
    if (cached.waiting >= max) throw new BackpressureError(lane, cached.waiting, max, this.options.retryAfterSeconds);
  }

  private assertConnected(): void {
    if (this.redis.status !== 'ready') throw new RedisUnavailableError();
  }

  private async withRedis<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof FleetError) throw error;
      if (this.redis.status !== 'ready' || isConnectionError(error)) throw new RedisUnavailableError(error);
      throw error;
    }
  }
}

/** `work`, or `onTimeout()` thrown after `ms`. */
async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function isConnectionError(error: unknown): boolean {
  const text = `${(error as Error)?.name ?? ''} ${(error as Error)?.message ?? ''}`;
  return /Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|CLUSTERDOWN|LOADING|ClusterAllFailed|refresh slots cache|startup nodes|Command timed out/i.test(text);
}

/** Opens a producer. The connection is made in the background; `ready()` waits for it. */
export function createProducer(options: ProducerOptions): Producer {
  return new Producer(options);
}
