// Raw pipeline throughput (no queue, no batcher): images/s at batch 1 vs batch 4 for one model and size.
// Usage: node --import tsx scripts/bench/inference-raw.ts [--model flash-v1] [--size 512] [--rounds 5] [--models models]
// Builds the models first when missing. Prints figures; asserts nothing.
import { parseArgs } from 'node:util';
import { buildModels } from '../build-models.js';
import { ModelRepository } from '../../workers/models/model-repository.js';
import { loadPipeline, OnnxSessionFactory, type GenerateItem } from '../../workers/pipelines/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'flash-v1' },
    size: { type: 'string', default: '512' },
    rounds: { type: 'string', default: '5' },
    models: { type: 'string', default: 'models' },
    batches: { type: 'string', default: '1,4' },
  },
});
const size = Number(values.size);
const rounds = Number(values.rounds);
const batchSizes = values.batches.split(',').map(Number);

await buildModels({ outDir: values.models });
let provider = 'cpu';
const factory = new OnnxSessionFactory({ onProvider: (p) => (provider = p) });
const pipeline = await loadPipeline(await new ModelRepository(values.models).describe(values.model), { sessionFactory: factory });
if (pipeline.kind !== 'diffusion') throw new Error(`${values.model} is not a diffusion model`);

const items = (count: number, round: number): GenerateItem[] =>
  Array.from({ length: count }, (_, i) => ({ prompt: `a red fox number ${i}`, seed: round * 100 + i, width: size, height: size }));

console.log(`${values.model} ${size}x${size}, ${pipeline.model.defaultSteps} steps (${pipeline.model.scheduler.name}), provider ${provider}, ${rounds} rounds`);
const results: Record<number, number> = {};
for (const batch of batchSizes) {
  await pipeline.run(items(batch, 999)); // warm-up: allocator arenas, kernel selection
  const timesMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    await pipeline.run(items(batch, r));
    timesMs.push(performance.now() - started);
  }
  timesMs.sort((a, b) => a - b);
  const medianMs = timesMs[Math.floor(timesMs.length / 2)]!;
  results[batch] = batch / (medianMs / 1000);
  console.log(
    `batch ${batch}: median ${medianMs.toFixed(1)} ms/batch, ${(medianMs / batch).toFixed(1)} ms/image, ${results[batch]!.toFixed(2)} images/s (min ${timesMs[0]!.toFixed(1)} ms)`,
  );
}
if (results[1] !== undefined && results[4] !== undefined) {
  console.log(`batch 4 / batch 1 throughput: ${(results[4] / results[1]).toFixed(2)}x`);
}
await pipeline.release();
