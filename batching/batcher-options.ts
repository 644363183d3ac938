import type { Clock } from './clock.js';
import { realClock } from './clock.js';
import { isOutOfMemoryError } from './batching-error.js';
import type { ModelSpec, RunBatch } from './batch.js';
import type { BatcherEvent } from './batcher-event.js';

/** One lane's batching and sharing settings. */
export interface LaneConfig {
  /** Most items in one batch; the adaptive target moves between 1 and this. @default 4 */
  maxBatchSize: number;
  /** Longest the oldest item of a group waits for batch-mates before the group flushes, in ms. @default 80 */
  maxLatencyMs: number;
  /**
   * The lane's latency objective for what batching adds to an item, in ms: a batch's run time plus its oldest
   * item's wait for batch-mates. As the lane's smoothed batch latency nears it, the adaptive target shrinks
   * towards 1 (queueing for GPU room is not counted: smaller batches would not shorten it). @default 2000
   */
  sloMs: number;
  /** Share of GPU time under contention, relative to the other lanes' weights. @default 1 */
  weight: number;
  /**
   * Most of this lane's batches running at once (besides the batcher-wide `maxBatchesInFlight`). A heavy model
   * already saturates the device with one batch: a second batch started beside it shares the compute, so both
   * finish late and nothing is gained. Capped at 1, the next items wait and start together as the following
   * batch, which also amortises the per-batch cost. @default Infinity
   */
  maxBatchesInFlight: number;
  /**
   * Batches' worth (`maxBatchSize` items each) the lane holds waiting to start, on top of what it runs: what
   * `wantedItems` tops it up to. A lane below its `maxBatchesInFlight` always wants at least one batch's worth,
   * so a backlog forms full batches; 0 therefore means "only what it can start now": nothing waits while its
   * batches are at their cap. That suits a heavy lane whose batch runs for seconds: fetching its next job when
   * the batch ends costs the device a few ms, and until then the jobs stay in Redis, where another worker (one
   * that drains the lane as overflow, say) can take them. The same value means the same at the batcher level;
   * undefined here takes the batcher's. @default undefined (the batcher's `prefetchBatches`)
   */
  prefetchBatches: number | undefined;
}

/** Lane settings as given: every field optional, defaults from {@link DEFAULT_LANE_CONFIG}. */
export type LaneOptions = Partial<LaneConfig>;

/**
 * Defaults for a lane: the flash lane's figures (4 items, 80 ms). Workers pass per-lane values from the
 * fleet config for the others.
 */
export const DEFAULT_LANE_CONFIG = {
  maxBatchSize: 4,
  maxLatencyMs: 80,
  sloMs: 2000,
  weight: 1,
  maxBatchesInFlight: Infinity,
  prefetchBatches: undefined,
} as const satisfies LaneConfig;

/** How the adaptive target batch size follows load and latency. */
export interface AdaptiveOptions {
  /** Off: a group flushes at `maxBatchSize` or `maxLatencyMs`, nothing else. @default true */
  enabled: boolean;
  /** EWMA weight of each new observation, in (0, 1]; lower is smoother and slower. @default 0.3 */
  smoothing: number;
  /**
   * Dead band, in items, beyond the half item rounding needs: the target moves only when the smoothed
   * value is more than `0.5 + hysteresis` away from it, so it does not flip between neighbours. @default 0.25
   */
  hysteresis: number;
  /** Fraction of `sloMs` at which latency starts shrinking the target (it reaches 1 at `sloMs`). @default 0.7 */
  sloShrinkFrom: number;
}

export const DEFAULT_ADAPTIVE_OPTIONS = {
  enabled: true,
  smoothing: 0.3,
  hysteresis: 0.25,
  sloShrinkFrom: 0.7,
} as const satisfies AdaptiveOptions;

/** What the batcher needs from its host. `run`, `budgetBytes`, `models` and `lanes` are required. */
export interface BatcherOptions<T, R, L extends string = string> {
  /** Runs one batch on the GPU and returns one outcome per item, in order. */
  run: RunBatch<T, R, L>;
  /** VRAM the batcher may plan with, in bytes: resident weights + activations of running batches stay under it. */
  budgetBytes: number;
  /** Every model items may name, with its footprint. */
  models: Record<string, ModelSpec>;
  /** Every lane items may name, with its settings (each field defaults from {@link DEFAULT_LANE_CONFIG}). */
  lanes: Record<L, LaneOptions>;
  /** Loads a model's weights onto the GPU; called on first need. @default a no-op */
  load?: (model: string) => Promise<void>;
  /** Frees a model's weights; called when the budget needs room (least recently used first). @default a no-op */
  unload?: (model: string) => Promise<void>;
  /** Source of time and timers. @default realClock */
  clock?: Clock;
  /** Tells an out-of-memory rejection of `run()` from other failures. @default isOutOfMemoryError */
  isOutOfMemory?: (error: unknown) => boolean;
  /**
   * Lone-item rule: when nothing is in flight on the GPU and the lane's backlog (set with `setBacklog`,
   * 0 until then) is empty, the lane's oldest group starts at once instead of waiting for batch-mates:
   * none are coming, and the GPU would sit idle meanwhile. @default true
   */
  flushWhenIdle?: boolean;
  /** How the target batch size adapts. Fields not given take {@link DEFAULT_ADAPTIVE_OPTIONS}. */
  adaptive?: Partial<AdaptiveOptions>;
  /** Multiplier applied to a model's activation estimate after each out-of-memory error. @default 1.25 */
  oomEstimateGrowth?: number;
  /** Cap of the learned activation factor; a single item that runs out of memory at the cap fails. @default 4 */
  maxActivationFactor?: number;
  /**
   * How long, in ms, other lanes may start batches past a lane whose turn it is but whose batch does not fit
   * yet. After that the GPU drains until it fits, so large batches are not starved by small ones. @default 500
   */
  maxBypassMs?: number;
  /** Most batches running (or loading their model) at once. @default 4 */
  maxBatchesInFlight?: number;
  /**
   * Every lane's `prefetchBatches` unless the lane sets its own (see `LaneConfig.prefetchBatches`: the same
   * meaning, 0 included). @default 1
   */
  prefetchBatches?: number;
  /** Receives batch, out-of-memory, load and eviction events (for logs and metrics). @default none */
  onEvent?: (event: BatcherEvent<L>) => void;
}

/** {@link BatcherOptions} with every default filled in and every value checked. */
export interface ResolvedBatcherOptions<T, R, L extends string = string> {
  run: RunBatch<T, R, L>;
  budgetBytes: number;
  models: ReadonlyMap<string, ModelSpec>;
  lanes: ReadonlyMap<L, LaneConfig>;
  load: (model: string) => Promise<void>;
  unload: (model: string) => Promise<void>;
  clock: Clock;
  isOutOfMemory: (error: unknown) => boolean;
  flushWhenIdle: boolean;
  adaptive: AdaptiveOptions;
  oomEstimateGrowth: number;
  maxActivationFactor: number;
  maxBypassMs: number;
  maxBatchesInFlight: number;
  prefetchBatches: number;
  onEvent: ((event: BatcherEvent<L>) => void) | undefined;
}

const noop = async (): Promise<void> => {};

export const DEFAULT_BATCHER_OPTIONS = {
  load: noop,
  unload: noop,
  clock: realClock,
  isOutOfMemory: isOutOfMemoryError,
  flushWhenIdle: true,
  oomEstimateGrowth: 1.25,
  maxActivationFactor: 4,
  maxBypassMs: 500,
  maxBatchesInFlight: 4,
  prefetchBatches: 1,
} as const satisfies Partial<BatcherOptions<unknown, unknown>>;

function check(name: string, value: number, ok: boolean, rule: string): void {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok) throw new RangeError(`${name} must be ${rule}, got ${value}`);
}

function atLeast(name: string, value: number, min: number, integer = false): void {
  check(name, value, (!integer || Number.isInteger(value) || value === Infinity) && value >= min, integer ? `an integer >= ${min}` : `>= ${min}`);
}

function positive(name: string, value: number): void {
  check(name, value, Number.isFinite(value) && value > 0, '> 0');
}

/**
 * One lane's settings with {@link DEFAULT_LANE_CONFIG} filled in, each checked; `path` names the lane in errors
 * (`lanes.flash`). Hosts call it to refuse a bad lane before they build a batcher.
 */
export function resolveLaneConfig(path: string, given: LaneOptions): LaneConfig {
  const lane: LaneConfig = { ...DEFAULT_LANE_CONFIG, ...stripUndefined(given) };
  atLeast(`${path}.maxBatchSize`, lane.maxBatchSize, 1, true);
  check(`${path}.maxBatchSize`, lane.maxBatchSize, Number.isFinite(lane.maxBatchSize), 'finite');
  atLeast(`${path}.maxLatencyMs`, lane.maxLatencyMs, 0);
  positive(`${path}.sloMs`, lane.sloMs);
  positive(`${path}.weight`, lane.weight);
  atLeast(`${path}.maxBatchesInFlight`, lane.maxBatchesInFlight, 1, true);
  if (lane.prefetchBatches !== undefined) {
    atLeast(`${path}.prefetchBatches`, lane.prefetchBatches, 0, true);
    check(`${path}.prefetchBatches`, lane.prefetchBatches, Number.isFinite(lane.prefetchBatches), 'finite');
  }
  return lane;
}

/** Fills in defaults and validates; throws a `RangeError` naming the first bad option. */
export function resolveBatcherOptions<T, R, L extends string>(options: BatcherOptions<T, R, L>): ResolvedBatcherOptions<T, R, L> {
  if (typeof options.run !== 'function') throw new TypeError('run must be a function');
  positive('budgetBytes', options.budgetBytes);

  const models = new Map<string, ModelSpec>();
  for (const [name, spec] of Object.entries(options.models ?? {})) {
    atLeast(`models.${name}.weightBytes`, spec.weightBytes, 0);
    positive(`models.${name}.activationBytesPerMegapixel`, spec.activationBytesPerMegapixel);
    models.set(name, { weightBytes: spec.weightBytes, activationBytesPerMegapixel: spec.activationBytesPerMegapixel });
  }
  if (models.size === 0) throw new RangeError('models must declare at least one model, got none');

  const lanes = new Map<L, LaneConfig>();
  for (const [name, given] of Object.entries(options.lanes ?? {}) as [L, LaneOptions][]) lanes.set(name, resolveLaneConfig(`lanes.${name}`, given));
  if (lanes.size === 0) throw new RangeError('lanes must declare at least one lane, got none');

  const adaptive: AdaptiveOptions = { ...DEFAULT_ADAPTIVE_OPTIONS, ...stripUndefined(options.adaptive ?? {}) };
  check('adaptive.smoothing', adaptive.smoothing, adaptive.smoothing > 0 && adaptive.smoothing <= 1, 'in (0, 1]');
  atLeast('adaptive.hysteresis', adaptive.hysteresis, 0);
  check('adaptive.sloShrinkFrom', adaptive.sloShrinkFrom, adaptive.sloShrinkFrom > 0 && adaptive.sloShrinkFrom < 1, 'in (0, 1)');

  const resolved: ResolvedBatcherOptions<T, R, L> = {
    ...DEFAULT_BATCHER_OPTIONS,
    ...stripUndefined({
      load: options.load,
      unload: options.unload,
      clock: options.clock,
      isOutOfMemory: options.isOutOfMemory,
      flushWhenIdle: options.flushWhenIdle,
      oomEstimateGrowth: options.oomEstimateGrowth,
      maxActivationFactor: options.maxActivationFactor,
      maxBypassMs: options.maxBypassMs,
      maxBatchesInFlight: options.maxBatchesInFlight,
      prefetchBatches: options.prefetchBatches,
    }),
    run: options.run,
    budgetBytes: options.budgetBytes,
    models,
    lanes,
    adaptive,
    onEvent: options.onEvent,
  };
  check('oomEstimateGrowth', resolved.oomEstimateGrowth, resolved.oomEstimateGrowth > 1 && Number.isFinite(resolved.oomEstimateGrowth), '> 1');
  atLeast('maxActivationFactor', resolved.maxActivationFactor, 1);
  check('maxActivationFactor', resolved.maxActivationFactor, Number.isFinite(resolved.maxActivationFactor), 'finite');
  atLeast('maxBypassMs', resolved.maxBypassMs, 0);
  atLeast('maxBatchesInFlight', resolved.maxBatchesInFlight, 1, true);
  atLeast('prefetchBatches', resolved.prefetchBatches, 0, true);
  check('prefetchBatches', resolved.prefetchBatches, Number.isFinite(resolved.prefetchBatches), 'finite');
  return resolved;
}

function stripUndefined<O extends object>(value: O): Partial<{ [K in keyof O]: Exclude<O[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof O]: Exclude<O[K], undefined> }>;
}
