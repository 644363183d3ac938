// The fleet on a CUDA machine, checked by a person who has one (see README "Workers", "On a GPU"). Run through
// scripts/gpu-check.sh. It prints, for GPU --gpu: the provider each model's sessions run on; images/s of the raw
// onnxruntime loop against the fleet at batch 1 and 4 (flash-v1, 512², 8 clients); the peak of the device's memory
// as nvidia-smi reports it against the worker's budget; and the event-loop delay p99 of each path. Without a usable
// CUDA provider it says so and exits 2. It needs the Redis at REDIS_URL (its keys are deleted afterwards).
// Flags: --gpu N (default 0), --models DIR (default models), --images N per fleet run (default 64), --rounds N raw
// batches per size (default 16).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createProducer } from '../producer/index.js';
import { EngineSessionFactory, FileStore, InferenceEngine, LANE_BATCHING_DEFAULTS, ModelRepository, nvidiaSmiReader } from '../workers/index.js';
import { isCudaAvailable, loadPipeline, OnnxSessionFactory, type GenerateItem } from '../workers/pipelines/index.js';
import { benchPrefix, deletePrefix, REDIS_URL, startBenchWorker } from './bench/bench-fleet.js';
import { round } from './bench/bench-stats.js';

const { values } = parseArgs({
  options: {
    gpu: { type: 'string', default: '0' },
    models: { type: 'string', default: 'models' },
    images: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '16' },
  },
});
const gpu = Number(values.gpu);
const MODEL = 'flash-v1';
const SIZE_PX = 512;
const CLIENTS = 8;
const GiB = 1024 ** 3;

if (!isCudaAvailable()) {
  console.error(
    'gpu-check: this onnxruntime-node has no usable CUDA provider, so there is nothing to check here.\n' +
      'On a Linux x64 host with an NVIDIA driver and CUDA 12: ONNXRUNTIME_NODE_INSTALL=cuda12 npm install --allow-scripts=onnxruntime-node\n' +
      "(package.json's allowScripts skips that download by default), then run scripts/gpu-check.sh again.",
  );
  process.exit(2);
}

/** Runs `work` and returns its result with the event-loop delay p99 (ms) measured meanwhile. */
async function withLoopDelay<T>(work: () => Promise<T>): Promise<{ value: T; loopDelayP99Ms: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const value = await work();
  histogram.disable();
  return { value, loopDelayP99Ms: round(histogram.percentile(99) / 1e6, 1) };
}

const items = (count: number, r: number): GenerateItem[] =>
  Array.from({ length: count }, (_, i) => ({ prompt: `a red fox number ${i}`, seed: r * 100 + i, width: SIZE_PX, height: SIZE_PX }));

async function providersPerModel(): Promise<Array<{ model: string; providers: string }>> {
  const engine = new InferenceEngine({ executionProvider: 'cuda', cudaDeviceId: gpu });
  const rows: Array<{ model: string; providers: string }> = [];
  try {
    for (const entry of await new ModelRepository(values.models).list()) {
      const seen: string[] = [];
      const factory = new EngineSessionFactory(engine);
      try {
        const pipeline = await loadPipeline(entry, { provider: 'cuda', sessionFactory: { create: async (path) => { const s = await factory.create(path); seen.push(s.executionProvider ?? '?'); return s; } } });
        await pipeline.release();
        rows.push({ model: entry.name, providers: [...new Set(seen)].join('+') });
      } catch (error) {
        rows.push({ model: entry.name, providers: `failed: ${(error as Error).message}` });
      }
    }
  } finally {
    await engine.close();
  }
  return rows;
}

async function raw(batch: number): Promise<{ imagesPerSec: number; loopDelayP99Ms: number }> {
  const pipeline = await loadPipeline(await new ModelRepository(values.models).describe(MODEL), { provider: 'cuda', sessionFactory: new OnnxSessionFactory({ executionProvider: 'cuda', cudaDeviceId: gpu }) });
  if (pipeline.kind !== 'diffusion') throw new Error(`${MODEL} is not a diffusion model`);
  await pipeline.run(items(batch, 999));
  const rounds = Number(values.rounds);
  const { value: seconds, loopDelayP99Ms } = await withLoopDelay(async () => {
    const started = performance.now();
    for (let r = 0; r < rounds; r++) await pipeline.run(items(batch, r));
    return (performance.now() - started) / 1000;
  });
  await pipeline.release();
  return { imagesPerSec: round((batch * rounds) / seconds, 2), loopDelayP99Ms };
}

async function fleet(batch: number) {
  const prefix = benchPrefix('gpu-check');
  const dir = mkdtempSync(join(tmpdir(), 'gpu-check-'));
  const store = new FileStore(dir);
  const producer = createProducer({ redis: REDIS_URL, prefix });
  const flash = { ...LANE_BATCHING_DEFAULTS.flash, maxBatchSize: batch, maxLatencyMs: batch === 1 ? 0 : LANE_BATCHING_DEFAULTS.flash.maxLatencyMs };
  const worker = await startBenchWorker(prefix, store, { gpu, lanes: ['flash'], modelsDir: values.models, batching: { flash }, adaptiveBatching: false });
  try {
    await producer.ready();
    const render = async (i: number) => {
      const receipt = await producer.enqueue({ prompt: `a red fox number ${i}`, seed: i, width: SIZE_PX, height: SIZE_PX, account: { id: `a${i % 7}`, tier: 'pro' } });
      const view = await producer.waitForResult(receipt.id, { timeoutMs: 120_000 });
      if (view.state !== 'completed') throw new Error(`job ${receipt.id} ${view.state}: ${JSON.stringify(view.error)}`);
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => render(1_000_000 + i)));
    const images = Number(values.images);
    let issued = 0;
    const { value: seconds, loopDelayP99Ms } = await withLoopDelay(async () => {
      const started = performance.now();
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        while (issued < images) await render(issued++);
      }));
      return (performance.now() - started) / 1000;
    });
    const info = worker.info();
    return { imagesPerSec: round(images / seconds, 2), loopDelayP99Ms, info };
  } finally {
    await producer.close();
    await worker.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(prefix);
  }
}

const device = await nvidiaSmiReader(gpu)();
console.log(`GPU ${gpu}: ${round(device.totalBytes / GiB, 2)} GiB, ${round(device.usedBytes / GiB, 2)} GiB in use before the check`);
console.log('\nprovider per model (a CUDA engine, strict: a session CUDA cannot create fails its model)');
for (const row of await providersPerModel()) console.log(`  ${row.model.padEnd(16)} ${row.providers}`);
console.log(`\n${MODEL} ${SIZE_PX}², ${CLIENTS} clients for the fleet`);
console.log('  path              images/s   event-loop p99   peak device use (all processes) / worker budget');
for (const batch of [1, 4]) {
  const r = await raw(batch);
  console.log(`  raw batch ${batch}       ${String(r.imagesPerSec).padStart(8)}   ${String(r.loopDelayP99Ms).padStart(11)} ms`);
  const f = await fleet(batch);
  const memory = f.info.deviceMemory;
  const peak = memory === undefined ? 'not read' : `${round(memory.peakUsedBytes / GiB, 2)} GiB / ${round(f.info.vramBudgetBytes / GiB, 2)} GiB`;
  console.log(`  fleet batch ${batch}     ${String(f.imagesPerSec).padStart(8)}   ${String(f.loopDelayP99Ms).padStart(11)} ms   ${peak}`);
  console.log(`    loaded: ${f.info.models?.map((m) => `${m.name} on ${m.provider}`).join(', ')}; engine restarts ${f.info.engineRestarts}`);
}
process.exit(0);
