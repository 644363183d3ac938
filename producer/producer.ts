import { randomInt, randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Job } from 'bullmq';
import {
  BackpressureError,
  createRedisConnection,
  effectiveOutputSize,
  FleetError,
  fleetKey,
  laneOfJobId,
  makeJobId,
  NotFoundError,
  parseGenerateRequest,
  RedisUnavailableError,
  type EnqueueReceipt,
  type GenerateRequest,
  type JobData,
  type JobResult,
  type JobView,
  type Lane,
  type RedisClient,
} from '../contract/index.js';
import { driftBinsOf, RedisPolicySource, type PolicySource, type RouteDecision } from '../router/index.js';
import { isNoScriptError } from './add-transactions.js';
import { confirmAdd, describeRedisTarget, isConnectionError, isUnsentCommandError, waitForConnection } from './add-outcome.js';
import { idempotencyDigest, loadIdSecret, parseIdempotencyRecord, requestFingerprint } from './idempotency-keys.js';
import { toJobView } from './job-view.js';
import { LaneAdmission } from './lane-admission.js';
import { LaneQueues } from './lane-queues.js';
import { RedisModelCatalogue, type ModelCatalogueSource } from './model-catalogue-source.js';
import { checkEditImages, checkRequestAgainstModel } from './model-limits.js';
import { resolveProducerOptions, type ProducerOptions, type ResolvedProducerOptions } from './producer-options.js';
import { RequestFeatureCounter } from './request-feature-counts.js';
import { assertTextDrawable } from './text-coverage-guard.js';
import { withTimeout } from './with-timeout.js';

/** Priority follows tier: BullMQ takes lower numbers first. */
const TIER_PRIORITY = { enterprise: 1, pro: 2, free: 3 } as const;
/** BullMQ's largest priority (2^21 - 1): a background job waits behind every production job of every tier. */
const BACKGROUND_PRIORITY = 2 ** 21 - 1;

/** How long a "never enqueued" verdict on an unknown outcome stays readable (as long as completed jobs, at most). */
const VERDICT_TTL_SECONDS = 24 * 3600;

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
  /**
   * Who submits (the ingress's token name): recorded on the job (`JobData.submittedBy`, so only that token or an
   * operator reads it back) and part of the idempotency namespace. @default undefined (no caller identity)
   */
  submittedBy?: string;
  /** Called with the validated request before anything else: throws to refuse it (a token's scopes). */
  authorize?: (request: GenerateRequest) => void;
  /**
   * Enqueue at the lowest priority, behind every production job of every tier (`fleet experiment`): workers take
   * it only when no production job waits in its lane. @default false (priority by tier)
   */
  background?: boolean;
}

/** How `enqueueReplay` records a replay (the whole replay run, claims included, is `replayJobs`). */
export interface EnqueueReplayOptions {
  /** The job replayed (recorded as `replayOf` on the new job). */
  replayOf: string;
  /** The new job's id; it must start with the original's lane (`<lane>.…`). */
  jobId: string;
}

/** How often `waitForResult` re-reads the job besides listening for its events (see there), ms. */
const RESULT_REREAD_MS = 1000;

/**
 * The library editor services use: validate, route, check against the model, enqueue; read a job; wait for its
 * result. Calls wait for the connection up to `connectTimeoutMs`, then fail with `E_REDIS_UNAVAILABLE`, which
 * `enqueue` uses only when nothing was enqueued: an add Redis did not answer is confirmed once Redis answers,
 * or reported as `E_OUTCOME_UNKNOWN` with the job's id.
 */
export class Producer {
  readonly prefix: string;
  readonly redis: RedisClient;
  private readonly options: ResolvedProducerOptions;
  private readonly policy: PolicySource;
  private readonly catalogue: ModelCatalogueSource;
  private readonly queues: LaneQueues;
  private readonly admission: LaneAdmission;
  private readonly ownsConnection: boolean;
  private readonly target: string;
  private readonly featureCounter: RequestFeatureCounter | undefined;
  /** The waits of `waitForResult` still pending: `close()` ends them, so no timer or poll outlives the producer. */
  private readonly waits = new Set<() => void>();
  private closed = false;
  private idSecret: Promise<string> | undefined;

  constructor(options: ProducerOptions) {
    this.options = resolveProducerOptions(options);
    this.prefix = this.options.prefix;
    this.ownsConnection = typeof options.redis === 'string';
    this.redis = typeof options.redis === 'string' ? createRedisConnection(options.redis, { role: 'request', connectionName: 'fleet-producer', ...(options.redisTls ? { tls: options.redisTls } : {}) }) : options.redis;
    this.redis.on('error', () => {});
    this.target = describeRedisTarget(options.redis);
    this.policy = this.options.policy ?? new RedisPolicySource({ redis: this.redis, prefix: this.prefix });
    this.catalogue = this.options.catalogue ?? new RedisModelCatalogue(this.redis, this.prefix);
    this.queues = new LaneQueues(this.redis, this.prefix);
    this.admission = new LaneAdmission(this.redis, this.options.connectTimeoutMs);
    this.featureCounter = this.options.countRequestFeatures ? new RequestFeatureCounter(this.redis, this.prefix, this.options.now) : undefined;
  }

  /** Routes without enqueueing, with the policy the next job would get (what `fleet policy explain` prints). */
  async route(input: unknown): Promise<RouteDecision> {
    const request = parseGenerateRequest(input);
    await this.withRedis('reading the active policy', async () => this.policy.start?.());
    return this.policy.current().evaluate(request, { sourceSize: await this.sourceSize(request) });
  }

  async enqueue(input: unknown, options: EnqueueOptions = {}): Promise<EnqueueReceipt> {
    const request = parseGenerateRequest(input);
    options.authorize?.(request);
    await this.withRedis('reading the active policy', async () => this.policy.start?.(), true);
    const sourceSize = await this.sourceSize(request);
    const decision = this.policy.current().evaluate(request, { sourceSize });
    // Counted before the checks below: drift is about the traffic offered, refusals included.
    this.featureCounter?.count(driftBinsOf(decision));
    assertTextDrawable(request, decision);
    const { lane, model } = decision;
    const served = (await this.catalogue.current()).models[model];
    if (served !== undefined) checkRequestAgainstModel(request, lane, served, sourceSize);
    const policy = { version: decision.policyVersion, rule: decision.rule };
    const data: JobData = {
      request: { ...request, seed: request.seed ?? randomInt(0, 2 ** 32) },
      size: request.intent === 'upscale' && (request.width === undefined || request.height === undefined) ? null : effectiveOutputSize(request, lane, request.intent === 'edit' ? sourceSize : undefined),
      lane,
      model,
      policy,
      enqueuedAt: this.options.now(),
      ...(options.replayOf === undefined ? {} : { replayOf: options.replayOf }),
      ...(options.submittedBy === undefined ? {} : { submittedBy: options.submittedBy }),
    };
    if (request.idempotencyKey !== undefined) {
      return this.withRedis('enqueueing the request', () => this.enqueueIdempotent(data, request, options.submittedBy ?? ''), true);
    }
    const jobId = typeof options.jobId === 'function' ? options.jobId(lane) : options.jobId;
    if (jobId !== undefined) {
      if (laneOfJobId(jobId) !== lane) throw new FleetError('E_INTERNAL', `job id ${jobId} does not start with its lane ${lane}`);
      const job = await this.withRedis('looking for the job', () => this.findJob(jobId), true);
      if (job !== undefined) return { id: job.id!, lane: job.data.lane, model: job.data.model, policy: job.data.policy, duplicate: true };
    }
    // The id is chosen before the add, so an add Redis does not answer can still be confirmed (or named) by it.
    const id = jobId ?? makeJobId(lane, randomUUID());
    await this.admitAndAdd(data, id, options.background === true);
    return { id, lane, model, policy, duplicate: false };
  }

  /**
   * Re-enqueues a job as it was: same lane, model, request (and seed) and the policy reference that placed it,
   * without routing again (`fleet replay` without `--reroute`). Backpressure applies as for any enqueue. An
   * existing `jobId` adds nothing (`duplicate: true`).
   */
  async enqueueReplay(original: JobData, options: EnqueueReplayOptions): Promise<EnqueueReceipt> {
    const { lane, model, policy } = original;
    if (laneOfJobId(options.jobId) !== lane) throw new FleetError('E_INTERNAL', `replay id ${options.jobId} does not start with its lane ${lane}`);
    const data: JobData = { ...original, enqueuedAt: this.options.now(), replayOf: options.replayOf };
    if ((await this.withRedis('looking for the replay', () => this.findJob(options.jobId), true)) !== undefined) return this.withRedis('reading the replay', () => this.receiptOf(options.jobId));
    await this.admitAndAdd(data, options.jobId);
    return { id: options.jobId, lane, model, policy, duplicate: false };
  }

  /** How long failed and completed jobs stay readable, seconds (replay markers live as long as failed jobs). */
  get retention(): { completedSeconds: number; failedSeconds: number } {
    return { completedSeconds: this.options.keepCompletedSeconds, failedSeconds: this.options.keepFailedSeconds };
  }

  /**
   * The job as clients see it. @throws NotFoundError for an unknown id; its `details.enqueued` is false when the id
   * is one an `E_OUTCOME_UNKNOWN` answer named and Redis later showed was never added.
   */
  async getJob(id: string): Promise<JobView> {
    return this.withRedis('reading the job', async () => {
      const lane = laneOfJobId(id);
      if (lane === undefined) throw new NotFoundError(`job ${id}`);
      // State first, then the job: a job read before it completed would show 'completed' without its result.
      const state = await this.queues.queue(lane).getJobState(id);
      const job = await this.findJob(id);
      if (job === undefined || state === 'unknown') {
        if ((await this.redis.exists(verdictKey(this.prefix, id))) === 1) {
          throw new FleetError('E_NOT_FOUND', `job ${id} was never enqueued (Redis did not answer its add, then showed it absent)`, { details: { enqueued: false } });
        }
        throw new NotFoundError(`job ${id}`);
      }
      return toJobView(job, state);
    });
  }

  /** Resolves with the job once it is completed or failed; `E_TIMEOUT` after `timeoutMs`, `E_SHUTDOWN` if the producer closes first. */
  async waitForResult(id: string, options: WaitOptions = {}): Promise<JobView> {
    if (this.closed) throw this.closedError(id);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const lane = laneOfJobId(id);
    if (lane === undefined) throw new NotFoundError(`job ${id}`);
    const started = Date.now();
    const events = (await this.withRedis('opening the result stream', () => withTimeout(this.queues.queueEvents(lane), timeoutMs, () => new FleetError('E_TIMEOUT', `job ${id}: no result stream from Redis within ${timeoutMs} ms`)))) as unknown as EventEmitter;
    const remainingMs = Math.max(0, timeoutMs - (Date.now() - started));
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    let done = () => {};
    const finished = new Promise<void>((resolve) => {
      done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        events.off(`completed:${id}`, done);
        events.off(`failed:${id}`, done);
        this.waits.delete(done);
        resolve();
      };
      this.waits.add(done);
      events.on(`completed:${id}`, done);
      events.on(`failed:${id}`, done);
      timer = setTimeout(done, remainingMs);
      // QueueEvents is "ready" before its first blocking read of the stream is sent, and that read starts at the
      // stream's end: an event written in between is never delivered. A slow re-read bounds what such a miss costs.
      poll = setInterval(() => {
        this.getJob(id).then(
          (view) => (view.state === 'completed' || view.state === 'failed' ? done() : undefined),
          () => {},
        );
      }, RESULT_REREAD_MS);
    });
    // Listening before the first read closes the gap where the job finishes between the two.
    let view: JobView;
    try {
      const first = await this.getJob(id);
      if (first.state === 'completed' || first.state === 'failed') return first;
      await finished;
      if (this.closed) throw this.closedError(id);
      view = await this.getJob(id);
    } finally {
      done();
    }
    if (view.state === 'completed' || view.state === 'failed') return view;
    throw new FleetError('E_TIMEOUT', `job ${id} did not finish within ${timeoutMs} ms (it goes on; poll GET /jobs/${id})`, {
      details: { id, state: view.state },
    });
  }

  /** Resolves once Redis answers and the policy is loaded (or rejects after `timeoutMs`). Calls do not need it. */
  async ready(timeoutMs = 5000): Promise<void> {
    const started = Date.now();
    if (!(await waitForConnection(this.redis, timeoutMs))) throw new RedisUnavailableError(undefined, { target: this.target, doing: 'connecting' });
    if (!(await this.admission.ready(timeoutMs - (Date.now() - started)))) throw new RedisUnavailableError(undefined, { target: this.target, doing: 'connecting the adds' });
    await this.withRedis('reading the active policy', async () => this.policy.start?.());
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

  /** Writes the request feature counts summed so far (they are written once a second, and as the producer closes). */
  async flushFeatureCounts(): Promise<void> {
    await this.featureCounter?.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const done of [...this.waits]) done();
    await this.featureCounter?.flush();
    await this.policy.close?.();
    await this.queues.close();
    this.admission.close();
    if (this.ownsConnection) this.redis.disconnect();
  }

  private closedError(id: string): FleetError {
    return new FleetError('E_SHUTDOWN', `job ${id}: the producer closed while waiting for its result (the job goes on; poll GET /jobs/${id})`, { details: { id } });
  }

  /**
   * Reserves the job's place in its lane (the exact depth check), then adds it and gives the place back in one MULTI
   * (two round trips to Redis, shared by the jobs of the same event-loop turn: see `LaneAdmission`). An add Redis
   * does not answer is confirmed by the job's id once it does (`confirmAdd`), so no caller is told "not enqueued"
   * for a job that is in Redis.
   */
  private async admitAndAdd(data: JobData, jobId: string, background = false, retryUnknownScript = true): Promise<void> {
    const queue = this.queues.queue(data.lane);
    const max = this.options.maxWaiting[data.lane];
    const admission = await this.withRedis('checking the lane depth', () => this.admission.admit(queue, jobId, max), true);
    if (!admission.admitted) throw new BackpressureError(data.lane, admission.depth, max, this.options.retryAfterSeconds);
    try {
      await this.admission.add(queue, data.model, data, {
        jobId,
        priority: background ? BACKGROUND_PRIORITY : TIER_PRIORITY[data.request.account.tier],
        attempts: this.options.attempts,
        backoff: { type: 'exponential', delay: this.options.backoffMs },
        removeOnComplete: { age: this.options.keepCompletedSeconds },
        removeOnFail: { age: this.options.keepFailedSeconds },
      });
    } catch (error) {
      // Redis had forgotten BullMQ's add script: the add did nothing and its place was given back. Once more, admitted anew.
      if (isNoScriptError(error) && retryUnknownScript) return this.admitAndAdd(data, jobId, background, false);
      if (isUnsentCommandError(error)) {
        void this.admission.release(queue, jobId).catch(() => {});
        throw new RedisUnavailableError(error, { target: this.target, doing: 'enqueueing the request', notEnqueued: true });
      }
      if (!isConnectionError(error) && this.admission.addConnection.status === 'ready') {
        // Redis answered the add with an error of its own: nothing was added.
        void this.admission.release(queue, jobId).catch(() => {});
        throw error;
      }
      // The add and the reservation's give-back were one MULTI: a job found added took its reservation with it.
      await this.settleUnknownAdd(data.lane, jobId, error);
    }
  }

  /** The add was sent and not answered: wait for Redis to say whether the job exists. */
  private async settleUnknownAdd(lane: Lane, jobId: string, error: unknown): Promise<void> {
    const queue = this.queues.queue(lane);
    const exists = await confirmAdd(this.admission.addConnection, queue.toKey(jobId), this.options.outcomeTimeoutMs);
    if (exists === true) return;
    if (exists === false) {
      void this.admission.release(queue, jobId).catch(() => {});
      throw new RedisUnavailableError(error, { target: this.target, doing: 'enqueueing the request', notEnqueued: true });
    }
    // Still silent: the caller gets the id to poll, and this producer keeps asking so a later GET can tell.
    void this.recordVerdictLater(queue.toKey(jobId), jobId);
    throw new FleetError(
      'E_OUTCOME_UNKNOWN',
      `Redis at ${this.target} did not answer the add of job ${jobId} within ${this.options.outcomeTimeoutMs} ms: it may or may not be enqueued. Poll GET /jobs/${jobId} (a job, or a 404 saying it was never enqueued); do not resend without an idempotency key`,
      { cause: error, details: { id: jobId, statusUrl: `/jobs/${jobId}` } },
    );
  }

  private async recordVerdictLater(jobKey: string, jobId: string): Promise<void> {
    const exists = await confirmAdd(this.admission.addConnection, jobKey, 5 * 60_000);
    if (exists === false) await this.redis.set(verdictKey(this.prefix, jobId), '0', 'EX', VERDICT_TTL_SECONDS).catch(() => {});
  }

  /**
   * SET NX of the key's record: the first caller owns the key and its derived job id; later callers with the same
   * request get that id (`duplicate`), with another request `E_IDEMPOTENCY_CONFLICT`. A crash between the claim and
   * the add is healed by the next caller re-adding that id (an add of an existing id adds nothing).
   */
  private async enqueueIdempotent(data: JobData, request: GenerateRequest, caller: string, attempt = 0): Promise<EnqueueReceipt> {
    const { lane, model, policy } = data;
    const key = request.idempotencyKey!;
    this.idSecret ??= this.options.idSecret === undefined ? loadIdSecret(this.redis, this.prefix) : Promise.resolve(this.options.idSecret);
    this.idSecret.catch(() => (this.idSecret = undefined));
    const digest = idempotencyDigest(await this.idSecret, caller, request.account.id, key);
    const fingerprint = requestFingerprint(request);
    const redisKey = fleetKey(this.prefix, 'idem', digest);
    const candidate = makeJobId(lane, `i${digest}`);
    const stored = await this.redis.get(redisKey);
    if (stored === null) {
      const claimed = await this.redis.set(redisKey, JSON.stringify({ id: candidate, fingerprint }), 'EX', this.options.idempotencyTtlSeconds, 'NX');
      if (claimed !== 'OK') return this.enqueueIdempotent(data, request, caller, attempt);
      try {
        await this.admitAndAdd(data, candidate);
      } catch (error) {
        if (!(error instanceof FleetError && error.code === 'E_OUTCOME_UNKNOWN')) await this.redis.del(redisKey).catch(() => {});
        throw error;
      }
      return { id: candidate, lane, model, policy, duplicate: false };
    }
    const existing = parseIdempotencyRecord(stored);
    if (existing.fingerprint !== '' && existing.fingerprint !== fingerprint) {
      throw new FleetError('E_IDEMPOTENCY_CONFLICT', `idempotency key ${JSON.stringify(key)} was used for a different request (job ${existing.id}); nothing was enqueued`, {
        field: 'idempotencyKey',
        details: { id: existing.id },
      });
    }
    if (laneOfJobId(existing.id) === lane) {
      if ((await this.findJob(existing.id)) === undefined) await this.admitAndAdd(data, existing.id);
      return this.receiptOf(existing.id);
    }
    // The key points into another lane (the policy changed since): give its owner a moment to add it.
    for (let i = 0; i < 20; i++) {
      if ((await this.findJob(existing.id)) !== undefined) return this.receiptOf(existing.id);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (attempt > 0) throw new FleetError('E_INTERNAL', `idempotency key ${key} points at missing job ${existing.id}`);
    await this.redis.del(redisKey);
    return this.enqueueIdempotent(data, request, caller, attempt + 1);
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

  /**
   * An upscale's or edit's source dimensions from its stored header, when the producer has a way to read them; an
   * edit's mask is read too and must match them (see `checkEditImages`).
   */
  private async sourceSize(request: GenerateRequest): Promise<{ width: number; height: number } | undefined> {
    if (request.source === undefined || this.options.sources === undefined) return undefined;
    const source = await this.storedDimensions(request.source.key, 'source.key');
    if (request.intent === 'edit') checkEditImages(source, request.mask === undefined ? undefined : await this.storedDimensions(request.mask.key, 'mask.key'));
    return source;
  }

  private async storedDimensions(key: string, field: string): Promise<{ width: number; height: number }> {
    try {
      return await this.options.sources!.dimensions(key);
    } catch (error) {
      if (error instanceof FleetError && error.code === 'E_SOURCE') throw new FleetError('E_SOURCE', `${field}: ${error.message}`, { field, cause: error });
      throw error;
    }
  }

  /**
   * Runs `operation` once the connection is up (waiting up to `connectTimeoutMs`); a Redis failure becomes
   * `E_REDIS_UNAVAILABLE` naming the Redis and `doing`, saying "not enqueued" when `nothingEnqueued`.
   */
  private async withRedis<T>(doing: string, operation: () => Promise<T>, nothingEnqueued = false): Promise<T> {
    if (this.redis.status !== 'ready' && !(await waitForConnection(this.redis, this.options.connectTimeoutMs))) {
      throw new RedisUnavailableError(undefined, { target: this.target, doing, notEnqueued: nothingEnqueued });
    }
    try {
      return await operation();
    } catch (error) {
      if (error instanceof FleetError) throw error;
      if (this.redis.status !== 'ready' || isConnectionError(error)) throw new RedisUnavailableError(error, { target: this.target, doing, notEnqueued: nothingEnqueued });
      throw error;
    }
  }
}

function verdictKey(prefix: string, jobId: string): string {
  return fleetKey(prefix, 'never-enqueued', jobId);
}

/** Opens a producer. The connection is made in the background; calls wait for it (up to `connectTimeoutMs`). */
export function createProducer(options: ProducerOptions): Producer {
  return new Producer(options);
}
