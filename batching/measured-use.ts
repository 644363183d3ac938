/** What the batcher knows when a measurement of device memory comes in. All sizes in bytes. */
export interface MeasuredUseInput {
  /** Device memory the worker's models hold as measured (e.g. the GPU's use less what was in use before the worker). */
  measuredBytes: number;
  /** Declared weights of resident models. */
  residentWeightBytes: number;
  /** Estimated activations of the batches in flight, per model. */
  inFlightActivationBytes: ReadonlyMap<string, number>;
  /**
   * What the device held beyond the resident weights the last time nothing ran: the runtime's own context and
   * workspaces, and the memory its arenas kept from earlier runs (onnxruntime's CUDA arena keeps its peak).
   */
  idleOverheadBytes: number;
  /** The running model's current activation factor and its cap. */
  factorOf: (model: string) => number;
  maxFactor: number;
}

/**
 * - `idle`: nothing runs; the overhead beyond the weights is now `idleOverheadBytes`.
 * - `raise`: one model runs and the device holds more than its estimate accounts for: raise its activation
 *   factor to `factor`, so the next batches reserve what this one was measured to use.
 * - `keep`: the estimate covers what was measured, or several models run and the excess cannot be attributed.
 */
export type MeasuredUsePlan = { kind: 'idle'; idleOverheadBytes: number } | { kind: 'raise'; model: string; factor: number } | { kind: 'keep' };

/**
 * Compares a measurement of device memory with the plan. Estimates are only ever raised, as an out-of-memory
 * error raises them, and only when one model runs, so the excess is that model's: what is measured beyond the
 * weights, the running activations and the overhead seen while idle. Memory the runtime kept from an earlier
 * run and reuses shows in the idle overhead, so it does not count twice.
 */
export function planFromMeasuredUse(input: MeasuredUseInput): MeasuredUsePlan {
  const { measuredBytes, residentWeightBytes, inFlightActivationBytes } = input;
  if (inFlightActivationBytes.size === 0) return { kind: 'idle', idleOverheadBytes: Math.max(0, measuredBytes - residentWeightBytes) };
  if (inFlightActivationBytes.size > 1) return { kind: 'keep' };
  const [model, activationBytes] = [...inFlightActivationBytes][0]!;
  const excessBytes = measuredBytes - residentWeightBytes - activationBytes - input.idleOverheadBytes;
  if (excessBytes <= 0 || activationBytes <= 0) return { kind: 'keep' };
  const current = input.factorOf(model);
  const factor = Math.min(input.maxFactor, (current * (activationBytes + excessBytes)) / activationBytes);
  return factor > current ? { kind: 'raise', model, factor } : { kind: 'keep' };
}
