import type { ModelResidencyState } from './batcher-stats.js';

/** What the budget looks like to one candidate batch. All sizes in bytes. */
export interface AdmissionInput {
  budgetBytes: number;
  /** Resident weights (loading, ready or unloading) + activations of batches in flight. */
  usedBytes: number;
  /** Resident weights alone, including models still unloading. */
  residentWeightBytes: number;
  /** Weights of models being unloaded: counted in `usedBytes` now, free soon. */
  unloadingWeightBytes: number;
  /** The candidate's model: its weights and where they are. */
  weightBytes: number;
  modelState: ModelResidencyState;
  /** Estimated activations of one item of the candidate. */
  perItemBytes: number;
  /** Items the candidate would like to run together. */
  requestedItems: number;
  /** Idle ready models other than the candidate's, least recently used first. */
  evictable: readonly { model: string; weightBytes: number }[];
}

/**
 * - `reject`: one item cannot fit even with only its own model loaded (`needBytes` says how much it needs).
 * - `start`: run `items` now (fewer than requested when only that many fit: the batch is split).
 * - `evict`: idle models' weights are in the way; unload `models`, then plan again.
 * - `wait`: batches in flight (or unloads) will make room; plan again when they finish.
 */
export type AdmissionPlan =
  | { kind: 'reject'; needBytes: number }
  | { kind: 'start'; items: number }
  | { kind: 'evict'; models: string[] }
  | { kind: 'wait' };

/**
 * Decides whether a candidate batch may start under the VRAM budget. A batch starts only if resident weights
 * + activations in flight + its own need (its activations, plus its weights when the model is not loaded)
 * fit the budget. Models are evicted only when weights, not running batches, are what stands in the way.
 */
export function planAdmission(input: AdmissionInput): AdmissionPlan {
  const { budgetBytes, perItemBytes, weightBytes } = input;
  const aloneItems = Math.floor((budgetBytes - weightBytes) / perItemBytes);
  if (aloneItems < 1) return { kind: 'reject', needBytes: weightBytes + perItemBytes };
  if (input.modelState === 'unloading') return { kind: 'wait' };

  const wanted = Math.min(input.requestedItems, aloneItems);
  const loadBytes = input.modelState === 'unloaded' ? weightBytes : 0;
  const fitNow = Math.floor((budgetBytes - input.usedBytes - loadBytes) / perItemBytes);
  if (fitNow >= 1) return { kind: 'start', items: Math.min(wanted, fitNow) };

  // Room once running batches end and pending unloads finish, with no further eviction.
  const settledRoom = budgetBytes - (input.residentWeightBytes - input.unloadingWeightBytes) - loadBytes;
  if (settledRoom >= perItemBytes) return { kind: 'wait' };

  const evictableBytes = input.evictable.reduce((sum, m) => sum + m.weightBytes, 0);
  let items = wanted;
  while (items >= 1 && items * perItemBytes - settledRoom > evictableBytes) items--;
  if (items < 1) return { kind: 'wait' };
  const toFree = items * perItemBytes - settledRoom;
  const models: string[] = [];
  let freed = 0;
  for (const candidate of input.evictable) {
    if (freed >= toFree) break;
    models.push(candidate.model);
    freed += candidate.weightBytes;
  }
  return { kind: 'evict', models };
}
