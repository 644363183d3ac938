// The shipped models of the incident's families, run raw: ms per denoising step per megapixel (the denoiser's own
// cost, from the difference between a run of at least 16 steps (or the model's most) and a one-step run, so text encoding and the VAE
// drop out) beside images/s at the default steps. See README "Benchmarks".
import { ModelRepository } from '../../workers/index.js';
import { loadPipeline, OnnxSessionFactory, type DiffusionPipeline, type GenerateItem } from '../../workers/pipelines/index.js';
import { percentile, round } from './bench-stats.js';

export interface ModelStepFigures {
  model: string;
  family: string;
  precision: string;
  sizePx: number;
  steps: number;
  batch: number;
  /** The denoiser's time per step per megapixel of output, ms (per image at batch > 1). */
  msPerStepPerMegapixel: number;
  /** Images per second at the default steps, text encoding and decoding included. */
  imagesPerSec: number;
}

export interface ModelStepOptions {
  modelsDir: string;
  /** Timed runs per configuration (the median is reported). @default 3 */
  rounds?: number;
  log: (line: string) => void;
}

/** Steps of the run the step cost is taken from, at least (see below; at most the model's maximum). */
const MIN_STEPS_FOR_STEP_COST = 16;

/** The incident's large model and its distilled flash path, at their lanes' sizes. */
const CASES: ReadonlyArray<{ model: string; sizePx: number; batches: number[] }> = [
  { model: 'large-v1', sizePx: 1024, batches: [1] },
  { model: 'flash-v1', sizePx: 512, batches: [1, 4] },
];

async function timeRun(pipeline: DiffusionPipeline, items: GenerateItem[], rounds: number): Promise<number> {
  await pipeline.run(items);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    await pipeline.run(items.map((item) => ({ ...item, seed: item.seed + r + 1 })));
    times.push(performance.now() - started);
  }
  return percentile(times, 0.5);
}

export async function runModelStepBench(options: ModelStepOptions): Promise<ModelStepFigures[]> {
  const rounds = options.rounds ?? 3;
  const repository = new ModelRepository(options.modelsDir);
  const factory = new OnnxSessionFactory({ executionProvider: 'cpu' });
  const figures: ModelStepFigures[] = [];
  for (const { model: name, sizePx, batches } of CASES) {
    const model = await repository.describe(name);
    if (model.kind !== 'diffusion') throw new Error(`${name} is not a diffusion model`);
    const pipeline = (await loadPipeline(model, { sessionFactory: factory })) as DiffusionPipeline;
    try {
      const steps = model.defaultSteps;
      const megapixels = (sizePx * sizePx) / 1e6;
      for (const batch of batches) {
        const items = (stepCount: number): GenerateItem[] =>
          Array.from({ length: batch }, (_, i) => ({ prompt: `a lighthouse in a storm, ${i}`, seed: 10 * i, width: sizePx, height: sizePx, steps: stepCount }));
        const full = await timeRun(pipeline, items(steps), rounds);
        const one = await timeRun(pipeline, items(1), rounds);
        // A few-step model's steps are too few for their difference to rise above the run-to-run noise: the step
        // cost comes from a run long enough for it to.
        const long = Math.min(model.maxSteps, Math.max(steps, MIN_STEPS_FOR_STEP_COST));
        const longRun = long === steps ? full : await timeRun(pipeline, items(long), rounds);
        const perStep = long > 1 ? (longRun - one) / (long - 1) : longRun;
        const entry: ModelStepFigures = {
          model: name,
          family: model.family,
          precision: model.precision,
          sizePx,
          steps,
          batch,
          msPerStepPerMegapixel: round(perStep / batch / megapixels, 1),
          imagesPerSec: round((batch * 1000) / full, 2),
        };
        figures.push(entry);
        options.log(`models ${name} (${model.family} ${model.precision}) ${sizePx}² batch ${batch}: ${entry.msPerStepPerMegapixel} ms/step/MP, ${entry.imagesPerSec} images/s at ${steps} steps`);
      }
    } finally {
      await pipeline.release();
    }
  }
  return figures;
}
