import { createHash, randomUUID } from 'node:crypto';
import { EXPERIMENT_RULE_PREFIX, parseGenerateRequest, readModelCatalogue, ValidationError, type Lane, type RedisClient } from '../contract/index.js';
import { createProducer, type Producer } from '../producer/index.js';
import { CompiledPolicy, staticPolicySource } from '../router/index.js';
import type { ArtifactStore } from '../workers/index.js';
import { ExperimentStore, type ExperimentCell, type ExperimentRecord } from './experiment-record.js';
import { summarizeModel } from './experiment-summary.js';

/** The account experiment jobs are made for (its tier does not set their priority: see `background`). */
export const EXPERIMENT_ACCOUNT = { id: 'fleet-experiment', tier: 'free' } as const;

export interface ExperimentRunOptions {
  redis: RedisClient;
  prefix: string;
  /** The workers' artifact store: the images are read back from it (hashed, and drawn on the contact sheet). */
  store: ArtifactStore;
  lane: Lane;
  models: string[];
  /** Requests without account and seed (a prompts file's lines). */
  inputs: Array<Record<string, unknown>>;
  /** Every input runs with each of these seeds through each model. */
  seeds: number[];
  /** @default the id */
  name?: string;
  /** The experiment this one runs again (inputs, seeds, models and lane taken from it by the caller). */
  rerunOf?: ExperimentRecord;
  /**
   * Experiment jobs enqueued at once. Few, so an experiment never fills the lane's waiting maximum (which would
   * refuse production requests with E_BACKPRESSURE) and never holds more than a batch's worth of a worker. @default 2
   */
  concurrency?: number;
  /** Longest wait for one job, ms. @default 10 minutes */
  jobTimeoutMs?: number;
  /** Who ran it (recorded). */
  by: string;
  now?: () => number;
}

/**
 * Runs every input × seed through every model on the real fleet and stores the experiment in Redis.
 *
 * Experiment jobs go into the lane's own queue at BullMQ's lowest priority (`background`), behind every production
 * job of every tier: a worker takes one only when no production job waits, with no new code in the workers, and the
 * figures are those of the lane's real workers, batching and models. (A separate queue drained only when idle would
 * need a second fetch loop in every worker and would measure another path.) A job already running is not
 * pre-empted; `concurrency` bounds how many there are. Experiment jobs carry the rule `experiment:<id>`, so they
 * count in no per-model series a canary is judged on.
 */
export async function runExperiment(options: ExperimentRunOptions): Promise<ExperimentRecord> {
  const now = options.now ?? Date.now;
  const id = `exp-${new Date(now()).toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
  options.inputs.forEach((input, i) => {
    try {
      parseGenerateRequest({ ...input, seed: options.seeds[0] ?? 0, account: EXPERIMENT_ACCOUNT });
    } catch (error) {
      throw new ValidationError(`prompt ${i + 1}: ${(error as Error).message}`, (error as ValidationError).field ?? "prompts");
    }
  });
  const catalogue = await readModelCatalogue(options.redis, options.prefix);
  const producers = new Map<string, Producer>();
  for (const model of options.models) {
    const policy = new CompiledPolicy({ name: id, typographicWords: [], rules: [{ id: `${EXPERIMENT_RULE_PREFIX}${id}`.slice(0, 64), lane: options.lane, model }] }, 0);
    producers.set(model, createProducer({ redis: options.redis, prefix: options.prefix, policy: staticPolicySource(policy) }));
  }
  const createdAt = now();
  const work = options.inputs.flatMap((_, input) => options.seeds.flatMap((seed) => options.models.map((model) => ({ input, seed, model }))));
  const cells: ExperimentCell[] = new Array(work.length);
  try {
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const index = next++;
        cells[index] = await runCell(options, producers.get(work[index]!.model)!, work[index]!);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
  } finally {
    await Promise.all([...producers.values()].map((p) => p.close()));
  }
  const record: ExperimentRecord = {
    id,
    name: options.name ?? id,
    lane: options.lane,
    models: options.models,
    modelVersions: Object.fromEntries(options.models.map((m) => [m, catalogue.models[m] ?? null])),
    inputs: options.inputs,
    seeds: options.seeds,
    createdAt,
    finishedAt: now(),
    createdBy: options.by,
    cells,
    summary: Object.fromEntries(options.models.map((m) => [m, summarizeModel(cells.filter((c) => c.model === m))])),
    ...(options.rerunOf === undefined ? {} : { rerunOf: options.rerunOf.id, reproduced: compareImages(options.rerunOf.cells, cells) }),
  };
  await new ExperimentStore(options.redis, options.prefix).save(record);
  return record;
}

async function runCell(options: ExperimentRunOptions, producer: Producer, cell: { input: number; seed: number; model: string }): Promise<ExperimentCell> {
  const request = { ...options.inputs[cell.input], seed: cell.seed, account: EXPERIMENT_ACCOUNT };
  const receipt = await producer.enqueue(request, { background: true });
  const view = await producer.waitForResult(receipt.id, { timeoutMs: options.jobTimeoutMs ?? 10 * 60_000 });
  const base = { ...cell, jobId: receipt.id };
  if (view.state !== 'completed' || view.result === undefined) {
    return { ...base, state: 'failed', error: view.error ?? { code: 'E_INTERNAL', message: `job ended ${view.state}` } };
  }
  const { result } = view;
  const bytes = await options.store.get(result.image.key);
  return {
    ...base,
    state: 'completed',
    timings: result.timings,
    ...(result.costUnits === undefined ? {} : { costUnits: result.costUnits }),
    ...(result.text !== undefined && 'cer' in result.text ? { text: result.text } : {}),
    image: { key: result.image.key, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, width: result.image.width, height: result.image.height },
  };
}

/** Cell by cell (input, seed, model), whether a rerun's image is byte for byte the original's. */
export function compareImages(original: readonly ExperimentCell[], rerun: readonly ExperimentCell[]): { identical: number; differing: number; missing: number } {
  const key = (c: ExperimentCell) => `${c.input}|${c.seed}|${c.model}`;
  const before = new Map(original.map((c) => [key(c), c.image?.sha256]));
  const out = { identical: 0, differing: 0, missing: 0 };
  for (const cell of rerun) {
    const was = before.get(key(cell));
    if (was === undefined || cell.image === undefined) out.missing++;
    else if (was === cell.image.sha256) out.identical++;
    else out.differing++;
  }
  return out;
}
