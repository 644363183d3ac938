// Micro-batcher benchmark on a simulated GPU, in simulated time (FakeClock): fast and deterministic, the
// same figures on every machine. Prints figures; asserts nothing. Jobs reach the batcher the way production
// takes them: each lane's consumer holds `heldItems + wantedItems` jobs, peak-held over `concurrencyHoldMs`
// (SimulatedLaneConsumer), and the lanes' backlogs are read on the worker's depth poll.
// Usage: node --import tsx scripts/bench/batching-bench.ts [--json] [--seconds 60] [--seed 7]
//
// The simulated GPU: a batch of n items on a model takes `fixedMs + perItemMs × n` (batches in flight do
// not slow each other; concurrency is bounded by the VRAM budget and maxBatchesInFlight). It holds the
// model's weights from load start to unload end and `n × megapixels × realActivationPerMp` while a batch
// runs, and rejects a batch with an out-of-memory error when that would exceed the device's memory.
import { parseArgs } from 'node:util';
import { FakeClock, MicroBatcher } from '../../batching/index.js';
import type { Batch, BatcherOptions, ItemOutcome, LaneOptions } from '../../batching/index.js';
import { FLEET_WORKER_DEFAULTS } from '../../workers/worker-options.js';
import { seededRandom } from './bench-stats.js';
import { SimulatedLaneConsumer } from './simulated-lane-consumer.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '7' },
  },
});
const DURATION_MS = Number(values.seconds) * 1000;
const WARMUP_MS = Math.min(5000, DURATION_MS / 5);
const GB = 1e9;

interface SimModel {
  weightBytes: number;
  /** Activation bytes per image per megapixel the batcher is told. */
  declaredActivationPerMp: number;
  /** What the device really uses (declared × a factor in the misestimate scenario). */
  realActivationPerMp: number;
  fixedMs: number;
  perItemMs: number;
  loadMs: number;
}

interface LaneLoad {
  model: string;
  sidePx: number;
  /** Mean arrivals per second (Poisson). */
  ratePerSecond: number;
  config: LaneOptions;
}

interface Scenario {
  budgetBytes: number;
  models: Record<string, SimModel>;
  lanes: Record<string, LaneLoad>;
  options?: Partial<BatcherOptions<Job, number>>;
}

interface Job {
  lane: string;
  arrivedMs: number;
}

interface Result {
  throughputPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  completed: number;
  /** Time-average of device memory in use (weights + running activations) over the budget, after warm-up. */
  utilisation: number;
  /** The same, activations only, over the budget left by resident weights. */
  activationUtilisation: number;
  oom: number;
  meanBatchSize: number;
  modelLoads: number;
  perLane: Record<string, { completed: number; gpuSharePct: number }>;
}


const percentile = (sorted: number[], p: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);

class SimulatedGpu {
  readonly #clock: FakeClock;
  readonly #deviceBytes: number;
  readonly #models: Record<string, SimModel>;
  readonly #weights = new Map<string, number>();
  #activations = 0;
  #lastMs = 0;
  #area = 0;
  #activationArea = 0;
  #roomArea = 0;
  #measureFromMs = Infinity;
  #measureToMs = Infinity;

  constructor(clock: FakeClock, deviceBytes: number, models: Record<string, SimModel>) {
    this.#clock = clock;
    this.#deviceBytes = deviceBytes;
    this.#models = models;
  }

  measure(fromMs: number, toMs: number): void {
    this.#measureFromMs = fromMs;
    this.#measureToMs = toMs;
  }

  get utilisation(): number {
    this.#account();
    return this.#area / ((this.#measureToMs - this.#measureFromMs) * this.#deviceBytes);
  }

  get activationUtilisation(): number {
    this.#account();
    return this.#activationArea / this.#roomArea;
  }

  load = async (model: string): Promise<void> => {
    this.#account();
    this.#weights.set(model, this.#models[model]!.weightBytes);
    await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, this.#models[model]!.loadMs));
  };

  unload = async (model: string): Promise<void> => {
    this.#account();
    this.#weights.delete(model);
  };

  run = (batch: Batch<Job>): Promise<ItemOutcome<number>[]> => {
    const model = this.#models[batch.model]!;
    const megapixels = (batch.widthPx * batch.heightPx) / 1e6;
    const need = batch.payloads.length * megapixels * model.realActivationPerMp;
    this.#account();
    if (this.#used() + need > this.#deviceBytes) {
      return new Promise((_, reject) => this.#clock.setTimeout(() => reject(Object.assign(new Error('CUDA out of memory'), { code: 'E_OOM' })), 5));
    }
    this.#activations += need;
    return new Promise((resolve) =>
      this.#clock.setTimeout(() => {
        this.#account();
        this.#activations -= need;
        resolve(batch.payloads.map(() => ({ ok: true, value: 0 })));
      }, model.fixedMs + model.perItemMs * batch.payloads.length),
    );
  };

  #used(): number {
    let total = this.#activations;
    for (const bytes of this.#weights.values()) total += bytes;
    return total;
  }

  #account(): void {
    const nowMs = this.#clock.now();
    const from = Math.max(this.#lastMs, this.#measureFromMs);
    const to = Math.min(nowMs, this.#measureToMs);
    if (to > from) {
      const used = this.#used();
      this.#area += used * (to - from);
      this.#activationArea += this.#activations * (to - from);
      this.#roomArea += (this.#deviceBytes - (used - this.#activations)) * (to - from);
    }
    this.#lastMs = nowMs;
  }
}

async function simulate(scenario: Scenario, seed: number): Promise<Result> {
  const clock = new FakeClock();
  const gpu = new SimulatedGpu(clock, scenario.budgetBytes, scenario.models);
  gpu.measure(WARMUP_MS, DURATION_MS);
  const consumers = new Map<string, SimulatedLaneConsumer<Job, string>>();
  const batcher = new MicroBatcher<Job, number>({
    clock,
    budgetBytes: scenario.budgetBytes,
    models: Object.fromEntries(Object.entries(scenario.models).map(([name, m]) => [name, { weightBytes: m.weightBytes, activationBytesPerMegapixel: m.declaredActivationPerMp }])),
    lanes: Object.fromEntries(Object.entries(scenario.lanes).map(([name, lane]) => [name, lane.config])),
    run: gpu.run,
    load: gpu.load,
    unload: gpu.unload,
    ...scenario.options,
    // As FleetWorker does: every batcher event updates every lane's concurrency.
    onEvent: () => {
      for (const consumer of consumers.values()) consumer.update();
    },
  });

  // A Redis list per lane, fed by Poisson arrivals.
  const random = seededRandom(seed);
  const waiting = new Map<string, Job[]>();
  const latencies: number[] = [];
  const completedByLane: Record<string, number> = {};
  for (const [lane, load] of Object.entries(scenario.lanes)) {
    const queue: Job[] = [];
    waiting.set(lane, queue);
    completedByLane[lane] = 0;
    const consumer = new SimulatedLaneConsumer<Job, string>({
      lane,
      batcher,
      clock,
      concurrencyHoldMs: FLEET_WORKER_DEFAULTS.concurrencyHoldMs,
      take: () => queue.shift(),
      submit: (job) =>
        batcher.submit({ lane, key: 'steps', model: load.model, widthPx: load.sidePx, heightPx: load.sidePx, payload: job }).then(() => {
          if (job.arrivedMs >= WARMUP_MS && clock.now() <= DURATION_MS) {
            latencies.push(clock.now() - job.arrivedMs);
            completedByLane[lane]!++;
          }
        }, () => {}),
    });
    consumers.set(lane, consumer);
    const arrive = (): void => {
      if (clock.now() >= DURATION_MS) return;
      queue.push({ lane, arrivedMs: clock.now() });
      consumer.update();
      clock.setTimeout(arrive, (-Math.log(1 - random()) * 1000) / load.ratePerSecond);
    };
    clock.setTimeout(arrive, (-Math.log(1 - random()) * 1000) / load.ratePerSecond);
  }
  // The worker's depth poll: the batcher learns each lane's backlog only this often.
  const pollDepths = (): void => {
    for (const [lane, queue] of waiting) {
      batcher.setBacklog(lane, queue.length);
      consumers.get(lane)!.update();
    }
    if (clock.now() < DURATION_MS) clock.setTimeout(pollDepths, FLEET_WORKER_DEFAULTS.depthPollMs);
  };
  pollDepths();

  await clock.advanceAsync(DURATION_MS);
  const stats = batcher.stats();
  const drained = batcher.close();
  await clock.runAllAsync();
  await drained;

  latencies.sort((a, b) => a - b);
  const totalGpuMs = Object.values(stats.lanes).reduce((sum, lane) => sum + lane.gpuMs, 0);
  const itemsStarted = Object.values(stats.lanes).reduce((sum, lane) => sum + lane.itemsStarted, 0);
  return {
    throughputPerSecond: latencies.length / ((DURATION_MS - WARMUP_MS) / 1000),
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
    completed: latencies.length,
    utilisation: gpu.utilisation,
    activationUtilisation: gpu.activationUtilisation,
    oom: stats.oom,
    meanBatchSize: itemsStarted / Math.max(1, stats.batchesStarted),
    modelLoads: stats.modelLoads,
    perLane: Object.fromEntries(
      Object.entries(stats.lanes).map(([lane, s]) => [lane, { completed: completedByLane[lane]!, gpuSharePct: (100 * s.gpuMs) / Math.max(1, totalGpuMs) }]),
    ),
  };
}

// --- Scenarios ---------------------------------------------------------------------------------------------

const flashModel: SimModel = { weightBytes: 2 * GB, declaredActivationPerMp: 1.5 * GB, realActivationPerMp: 1.5 * GB, fixedMs: 60, perItemMs: 15, loadMs: 800 };

function flashOnly(ratePerSecond: number, config: LaneOptions, options: Partial<BatcherOptions<Job, number>> = {}): Scenario {
  return { budgetBytes: 16 * GB, models: { flash: flashModel }, lanes: { flash: { model: 'flash', sidePx: 512, ratePerSecond, config } }, options };
}

const POLICIES = {
  'batch 1': { config: { maxBatchSize: 1, maxLatencyMs: 0 }, options: { adaptive: { enabled: false }, flushWhenIdle: false } },
  'fixed 4 / 80 ms': { config: { maxBatchSize: 4, maxLatencyMs: 80 }, options: { adaptive: { enabled: false }, flushWhenIdle: false } },
  'adaptive (4 / 80 ms, lone-item rule)': { config: { maxBatchSize: 4, maxLatencyMs: 80, sloMs: 1500 }, options: {} },
} satisfies Record<string, { config: LaneOptions; options: Partial<BatcherOptions<Job, number>> }>;

function mixed(rateScale: number, realFactor = 1, options: Partial<BatcherOptions<Job, number>> = {}): Scenario {
  const model = (m: Omit<SimModel, 'realActivationPerMp'>): SimModel => ({ ...m, realActivationPerMp: m.declaredActivationPerMp * realFactor });
  return {
    budgetBytes: 24 * GB,
    models: {
      flash: model({ weightBytes: 2 * GB, declaredActivationPerMp: 1.5 * GB, fixedMs: 60, perItemMs: 15, loadMs: 800 }),
      large: model({ weightBytes: 7 * GB, declaredActivationPerMp: 3 * GB, fixedMs: 900, perItemMs: 600, loadMs: 4000 }),
      typography: model({ weightBytes: 5 * GB, declaredActivationPerMp: 2.5 * GB, fixedMs: 500, perItemMs: 400, loadMs: 3000 }),
      upscale: model({ weightBytes: 1 * GB, declaredActivationPerMp: 0.5 * GB, fixedMs: 80, perItemMs: 60, loadMs: 500 }),
    },
    lanes: {
      flash: { model: 'flash', sidePx: 512, ratePerSecond: 60 * rateScale, config: { maxBatchSize: 4, maxLatencyMs: 80, sloMs: 1500, weight: 2 } },
      large: { model: 'large', sidePx: 1024, ratePerSecond: 2 * rateScale, config: { maxBatchSize: 2, maxLatencyMs: 250, sloMs: 20_000, weight: 1 } },
      typography: { model: 'typography', sidePx: 1024, ratePerSecond: 2 * rateScale, config: { maxBatchSize: 2, maxLatencyMs: 200, sloMs: 15_000, weight: 1 } },
      upscale: { model: 'upscale', sidePx: 2048, ratePerSecond: 12 * rateScale, config: { maxBatchSize: 4, maxLatencyMs: 100, sloMs: 3000, weight: 1 } },
    },
    options,
  };
}

/** Bytes all lanes' full batches would need at once, over the budget (memory oversubscription). */
function memoryDemandRatio(scenario: Scenario): number {
  let demand = 0;
  for (const lane of Object.values(scenario.lanes)) {
    const model = scenario.models[lane.model]!;
    const perItem = ((lane.sidePx * lane.sidePx) / 1e6) * model.declaredActivationPerMp;
    demand += model.weightBytes + (lane.config.maxBatchSize ?? 4) * perItem * 4; // four batches in flight per lane
  }
  return demand / scenario.budgetBytes;
}

const seed = Number(values.seed);
const report: Record<string, unknown> = { simulatedTime: true, durationSeconds: DURATION_MS / 1000, warmupSeconds: WARMUP_MS / 1000, seed };

const policyRows: Array<{ load: string; policy: string } & Result> = [];
for (const [loadName, rate] of [['light (10/s)', 10], ['heavy (100/s)', 100]] as const) {
  for (const [policy, { config, options }] of Object.entries(POLICIES)) {
    policyRows.push({ load: loadName, policy, ...(await simulate(flashOnly(rate, config, options), seed)) });
  }
}
report.policies = policyRows;

// Saturating mixed load: offered ≈ 2× what the GPU serves; estimates right.
const saturated = await simulate(mixed(2), seed);
report.mixedSaturated = { ...saturated, memoryDemandRatio: memoryDemandRatio(mixed(2)) };
// 2× oversubscription and misestimated activations (real = 1.3 × declared): the estimate is learned.
const misestimated = await simulate(mixed(2, 1.3), seed);
report.mixedMisestimated = misestimated;

const loneRows: Array<{ load: string; rule: string; adaptive: string } & Result> = [];
for (const [loadName, rate] of [['sparse (2/s)', 2], ['moderate (60/s)', 60]] as const) {
  for (const adaptive of [false, true]) {
    for (const flushWhenIdle of [true, false]) {
      const options = { flushWhenIdle, adaptive: { enabled: adaptive } };
      const result = await simulate(flashOnly(rate, { maxBatchSize: 4, maxLatencyMs: 80 }, options), seed);
      loneRows.push({ load: loadName, adaptive: adaptive ? 'on' : 'off', rule: flushWhenIdle ? 'on' : 'off', ...result });
    }
  }
}
report.loneItemRule = loneRows;

if (values.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const f = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  console.log(`batching benchmark — SIMULATED time (FakeClock), ${DURATION_MS / 1000} s per run after ${WARMUP_MS / 1000} s warm-up, seed ${seed}`);
  console.log('simulated GPU: batch latency = fixedMs + perItemMs × n per model; OOM when real memory would exceed the device\n');
  console.log('flash lane (512², a=60 ms, b=15 ms/item, 16 GB): throughput and end-to-end latency (queue + batcher + GPU)');
  console.log('load            policy                                 items/s   p50 ms   p95 ms  mean batch');
  for (const r of policyRows) console.log(`${r.load.padEnd(15)} ${r.policy.padEnd(38)} ${f(r.throughputPerSecond, 1).padStart(7)} ${f(r.p50Ms).padStart(8)} ${f(r.p95Ms).padStart(8)} ${f(r.meanBatchSize, 2).padStart(11)}`);
  const lanes = (r: Result): string => Object.entries(r.perLane).map(([l, s]) => `${l} ${s.completed} (${f(s.gpuSharePct)}% GPU)`).join(', ');
  console.log(`\nmixed saturating load (4 lanes, 24 GB budget, offered ≈ 2× capacity, full-batch demand ${f(memoryDemandRatio(mixed(2)), 1)}× budget):`);
  console.log(`  budget utilisation ${f(saturated.utilisation * 100, 1)} % (target >= 85 %); activations use ${f(saturated.activationUtilisation * 100, 1)} % of the room weights leave`);
  console.log(`  OOM errors ${saturated.oom} (target 0); ${f(saturated.throughputPerSecond, 1)} items/s; model loads ${saturated.modelLoads}; ${lanes(saturated)}`);
  console.log('\nsame load, real activations 1.3× the declared figures (estimate must be learned):');
  console.log(`  OOM errors ${misestimated.oom} (each bisected and retried, none lost); utilisation ${f(misestimated.utilisation * 100, 1)} %; ${f(misestimated.throughputPerSecond, 1)} items/s`);
  console.log('\nlone-item rule (flushWhenIdle: nothing in flight and no backlog → go at once), flash 4 / 80 ms:');
  console.log('load              adaptive  rule   items/s   p50 ms   p95 ms  mean batch');
  for (const r of loneRows) {
    console.log(`${r.load.padEnd(17)} ${r.adaptive.padEnd(9)} ${r.rule.padEnd(5)} ${f(r.throughputPerSecond, 1).padStart(8)} ${f(r.p50Ms).padStart(8)} ${f(r.p95Ms).padStart(8)} ${f(r.meanBatchSize, 2).padStart(11)}`);
  }
}
