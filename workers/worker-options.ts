import { resolveLaneConfig, type BatcherOptions, type LaneConfig, type LaneOptions } from '../batching/index.js';
import {
  assertAbove,
  assertAtLeast,
  assertIntegerAtLeast,
  assertOneOf,
  assertPrefix,
  CONFIG_DEFAULTS,
  LANES,
  SECOND,
  type Lane,
  type Logger,
  type RedisTlsSettings,
} from '../contract/index.js';
import type { Registry } from 'prom-client';
import type { ArtifactStore } from './stores/artifact-store.js';
import type { SessionFactory } from './engine/onnx-session-factory.js';
import type { PipelineLoader } from './engine/inference-runner.js';
import type { DeviceMemoryReader } from './engine/nvidia-smi.js';
import type { Finisher } from './consumer/job-finisher.js';

/** Batcher settings a deployment (or a benchmark's "before" configuration) may override. */
export type BatcherOverrides = Partial<
  Pick<BatcherOptions<unknown, unknown>, 'isOutOfMemory' | 'maxBatchesInFlight' | 'flushWhenIdle' | 'prefetchBatches' | 'maxBypassMs' | 'oomEstimateGrowth'>
>;

export const GiB = 1024 ** 3;

/** A CPU worker's budget: nominal, it paces work as a GPU's would. */
export const NOMINAL_VRAM_BYTES = 16 * GiB;

/** Per-lane batching defaults: flash is the configuration that fixed the incident (4 items, 80 ms). */
export const LANE_BATCHING_DEFAULTS = {
  flash: { maxBatchSize: 4, maxLatencyMs: 80, sloMs: 1000, weight: 3, maxBatchesInFlight: Infinity, prefetchBatches: undefined },
  // One batch at a time for the heavy models: a second one beside it would only share the device (see LaneConfig).
  // Exports one at a time, fetched only when they can start: a batch of two makes the first wait for the pair to
  // save little device time, and an export left in Redis can go to another GPU.
  large: { maxBatchSize: 1, maxLatencyMs: 0, sloMs: 8000, weight: 2, maxBatchesInFlight: 1, prefetchBatches: 0 },
  typography: { maxBatchSize: 4, maxLatencyMs: 100, sloMs: 4000, weight: 2, maxBatchesInFlight: 1, prefetchBatches: undefined },
  upscale: { maxBatchSize: 1, maxLatencyMs: 0, sloMs: 6000, weight: 1, maxBatchesInFlight: Infinity, prefetchBatches: undefined },
} as const satisfies Record<Lane, LaneConfig>;

export interface FleetWorkerOptions {
  /** Redis URL (the worker opens its own blocking connections): `redis://`, `rediss://`, `redis+cluster://`. */
  redisUrl: string;
  /** TLS settings for `rediss://` URLs (a private CA). @default system CAs, verified */
  redisTls?: RedisTlsSettings;
  /** @default 'fleet' */
  prefix?: string;
  /** Lanes this worker drains. @default all four */
  lanes?: readonly Lane[];
  /**
   * Lanes this worker drains only to relieve a backlog (overflow): it takes one of their jobs at a time, and only
   * while that lane has at least `overflowBacklog` jobs waiting in Redis and this worker's own `lanes` hold
   * nothing (nothing waiting in its batcher, nothing running). A GPU whose lanes are quiet thereby helps one
   * whose lane is backed up; its own work then waits for at most one overflow batch and the model swap. Must not
   * repeat a lane of `lanes`. @default none
   */
  overflowLanes?: readonly Lane[];
  /** Jobs waiting in an overflow lane's queue (Redis) before this worker helps. @default 1 */
  overflowBacklog?: number;
  /**
   * How long an overflow lane's backlog must have stayed at `overflowBacklog` or more before this worker helps,
   * ms (as seen by the depth poll). A job the lane's own workers start within this does not cost this worker a
   * model swap, nor its own jobs the wait behind an overflow batch. @default 500
   */
  overflowAfterMs?: number;
  /**
   * How long a lane keeps the concurrency its demand last peaked at, ms: long enough to span a fast lane's swings
   * between batch start and end (see `LaneConsumer.updateConcurrency`), far shorter than a heavy batch, so a busy
   * worker still leaves a heavy lane's jobs to others. @default 100
   */
  concurrencyHoldMs?: number;
  /**
   * GPU index; absent for a CPU worker. With it the worker's sessions run on CUDA device `gpu`, and a session
   * that cannot be created there fails its model's load (reported for that model; the next load tries again):
   * nothing moves the worker to the CPU. Starting fails with `E_DEVICE_UNAVAILABLE` when this onnxruntime-node
   * has no usable CUDA provider, unless `allowCpu`. @default undefined
   */
  gpu?: number;
  /**
   * With `gpu`: run on the CPU when no usable CUDA provider is installed (a warning at start), and let a session
   * whose creation on CUDA fails run on the CPU (reported for its model). @default false
   */
  allowCpu?: boolean;
  /**
   * VRAM budget, bytes. @default on a CUDA worker the device's total less what is in use when the worker starts,
   * less `vramMarginBytes`; elsewhere 16 GiB (a nominal budget on CPU, where it paces work the same way)
   */
  vramBytes?: number;
  /**
   * What a CUDA worker without `vramBytes` leaves unbudgeted: the CUDA context and the cuDNN/cuBLAS workspaces
   * of its sessions, which no model's estimate counts. @default 1 GiB
   */
  vramMarginBytes?: number;
  /** How often a CUDA worker reads its device's memory (gauges, and estimates raised to what batches used), ms. @default 1000 */
  deviceMemoryPollMs?: number;
  /** Reads the device's memory. @default nvidia-smi on a CUDA worker (`gpu` on a CUDA engine); none elsewhere */
  readDeviceMemory?: DeviceMemoryReader;
  /** Where images go. */
  store: ArtifactStore;
  /** The model repository folder. @default './models' */
  modelsDir?: string;
  /** Per-lane batching; fields not given take {@link LANE_BATCHING_DEFAULTS}. */
  batching?: Partial<Record<Lane, LaneOptions>>;
  /** Adaptive batch size on or off. @default true */
  adaptiveBatching?: boolean;
  /**
   * Creates ONNX sessions in this thread, instead of the worker's inference engine (a `worker_threads` thread
   * per worker, where sessions otherwise live so that runs never hold the event loop). Tests hand in-process
   * fakes here. @default sessions in the worker's `InferenceEngine`
   */
  sessionFactory?: SessionFactory;
  logger: Logger;
  /** Where metrics are registered. */
  registry: Registry;
  /** How long a shutdown waits for batches in flight before it lets their locks lapse, ms. @default 30000 */
  shutdownTimeoutMs?: number;
  /** BullMQ lock duration, ms (renewed at half of it while a batch runs). @default 30000 */
  lockDurationMs?: number;
  /** How often lane depths are read (backlog for the batcher, gauges), ms. @default 500 */
  depthPollMs?: number;
  /** A worker id for logs and `fleet status`. @default `<host>-<pid>` */
  workerId?: string;
  /**
   * Loads a model's pipeline; its second argument is the worker's session factory (the engine's), so a wrapped
   * pipeline still runs its ONNX sessions off the main thread. @default `loadPipeline` on those sessions.
   * Benchmarks inject a simulated GPU here; everything around it (queues, batching, admission) stays the
   * production path.
   */
  pipelineLoader?: PipelineLoader;
  /**
   * Turns each job's inference output into its result and stores the artifact. @default a `JobFinisher` on
   * `store` (resize, the typography text stage, sharp encode, store under keys from the job id). Benchmarks
   * inject one that does no image work, to measure what the fleet itself costs per job.
   */
  finisher?: Finisher;
  /** Batcher settings beyond the per-lane ones. @default the batcher's defaults */
  batcherOverrides?: BatcherOverrides;
  /**
   * Jobs each lane holds at once, fixed, instead of following what the batcher holds and wants (see
   * `concurrencyHoldMs`). Only for measuring what that prevents (bursting); production leaves it unset.
   * @default undefined (the batcher's demand)
   */
  fixedConcurrency?: number;
  /**
   * TEST HOOK, never for production: the worker process kills itself (SIGKILL, as a native crash or an OOM kill
   * would end it) when a batch it runs holds a job whose prompt contains this text. The chaos suite and the
   * worker-crash test use it to make one job crash its worker. `fleet worker` reads it from
   * `FLEET_TEST_HOOK_CRASH_ON_PROMPT`. @default undefined (off)
   */
  testHookCrashOnPrompt?: string;
}

export type ResolvedFleetWorkerOptions = Required<
  Omit<FleetWorkerOptions, 'gpu' | 'sessionFactory' | 'batching' | 'pipelineLoader' | 'finisher' | 'fixedConcurrency' | 'redisTls' | 'vramBytes' | 'readDeviceMemory' | 'testHookCrashOnPrompt'>
> & {
  /** Undefined until `FleetWorker.start` decides it on a CUDA worker (see `vramBytes`). */
  vramBytes: number | undefined;
  readDeviceMemory: DeviceMemoryReader | undefined;
  finisher: Finisher | undefined;
  redisTls: RedisTlsSettings | undefined;
  gpu: number | undefined;
  sessionFactory: SessionFactory | undefined;
  pipelineLoader: FleetWorkerOptions['pipelineLoader'];
  fixedConcurrency: number | undefined;
  batching: Record<Lane, LaneConfig>;
  testHookCrashOnPrompt: string | undefined;
};

/** The options {@link FLEET_WORKER_DEFAULTS} fills in (the CLI's flags read their defaults from it too). */
type DefaultedOption =
  | 'prefix'
  | 'lanes'
  | 'overflowLanes'
  | 'overflowBacklog'
  | 'overflowAfterMs'
  | 'concurrencyHoldMs'
  | 'allowCpu'
  | 'vramMarginBytes'
  | 'deviceMemoryPollMs'
  | 'modelsDir'
  | 'adaptiveBatching'
  | 'shutdownTimeoutMs'
  | 'lockDurationMs'
  | 'depthPollMs'
  | 'batcherOverrides';

/** Every default of {@link FleetWorkerOptions} (each field's TSDoc says why). */
export const FLEET_WORKER_DEFAULTS = {
  prefix: CONFIG_DEFAULTS.prefix,
  lanes: LANES,
  overflowLanes: [],
  overflowBacklog: 1,
  overflowAfterMs: 500,
  concurrencyHoldMs: 100,
  allowCpu: false,
  vramMarginBytes: GiB,
  deviceMemoryPollMs: SECOND,
  modelsDir: CONFIG_DEFAULTS.modelsDir,
  adaptiveBatching: true,
  shutdownTimeoutMs: 30 * SECOND,
  lockDurationMs: 30 * SECOND,
  depthPollMs: 500,
  batcherOverrides: {},
} as const satisfies Required<Pick<FleetWorkerOptions, DefaultedOption>>;

/**
 * Fills in {@link FLEET_WORKER_DEFAULTS} and checks every field, the per-lane batching included, so a bad
 * option fails at construction with its name, not when the worker starts.
 */
export function resolveFleetWorkerOptions(options: FleetWorkerOptions, defaultId: string): ResolvedFleetWorkerOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as FleetWorkerOptions;
  const merged = { ...FLEET_WORKER_DEFAULTS, ...given };
  const { lanes, overflowLanes } = merged;
  assertPrefix(merged.prefix);
  if (lanes.length === 0) throw new RangeError('lanes must name at least one lane, got none');
  for (const lane of [...lanes, ...overflowLanes]) assertOneOf('lanes', lane, LANES);
  for (const lane of overflowLanes) if (lanes.includes(lane)) throw new RangeError(`overflowLanes must not repeat a lane of lanes, got ${lane} in both`);
  assertIntegerAtLeast('overflowBacklog', merged.overflowBacklog, 1);
  assertAtLeast('overflowAfterMs', merged.overflowAfterMs, 0);
  assertAbove('concurrencyHoldMs', merged.concurrencyHoldMs, 0);
  if (merged.gpu !== undefined) assertIntegerAtLeast('gpu', merged.gpu, 0);
  if (merged.allowCpu && merged.gpu === undefined) throw new RangeError('allowCpu applies to a GPU worker: give gpu too');
  const vramBytes = merged.vramBytes ?? (merged.gpu === undefined ? NOMINAL_VRAM_BYTES : undefined);
  if (vramBytes !== undefined) assertAbove('vramBytes', vramBytes, 0);
  assertAtLeast('vramMarginBytes', merged.vramMarginBytes, 0);
  assertAbove('deviceMemoryPollMs', merged.deviceMemoryPollMs, 0);
  assertAbove('shutdownTimeoutMs', merged.shutdownTimeoutMs, 0);
  assertIntegerAtLeast('lockDurationMs', merged.lockDurationMs, 1);
  assertAbove('depthPollMs', merged.depthPollMs, 0);
  if (merged.fixedConcurrency !== undefined) assertIntegerAtLeast('fixedConcurrency', merged.fixedConcurrency, 1);
  const batching = Object.fromEntries(LANES.map((lane) => [lane, resolveLaneConfig(`batching.${lane}`, { ...LANE_BATCHING_DEFAULTS[lane], ...options.batching?.[lane] })])) as Record<Lane, LaneConfig>;
  return {
    ...merged,
    lanes,
    overflowLanes,
    redisTls: merged.redisTls,
    gpu: merged.gpu,
    vramBytes,
    readDeviceMemory: merged.readDeviceMemory,
    batching,
    sessionFactory: merged.sessionFactory,
    workerId: merged.workerId ?? defaultId,
    pipelineLoader: merged.pipelineLoader,
    finisher: merged.finisher,
    fixedConcurrency: merged.fixedConcurrency,
    testHookCrashOnPrompt: merged.testHookCrashOnPrompt || undefined,
  };
}

/** Parses `8GiB`, `512MiB`, `8GB`, `8000000000`. */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?\s*$/i.exec(text);
  if (!match) throw new RangeError(`size must look like 8GiB, 512MiB or a byte count, got ${JSON.stringify(text)}`);
  const n = Number(match[1]);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor: Record<string, number> = { b: 1, k: 1024, kib: 1024, kb: 1e3, m: 1024 ** 2, mib: 1024 ** 2, mb: 1e6, g: GiB, gib: GiB, gb: 1e9, t: 1024 ** 4, tib: 1024 ** 4, tb: 1e12 };
  return Math.round(n * factor[unit]!);
}
