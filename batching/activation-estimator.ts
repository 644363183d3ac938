import type { ModelSpec } from './batch.js';

const PIXELS_PER_MEGAPIXEL = 1_000_000;

/**
 * Activation bytes per image, learned per model: the declared figure times a factor that starts at 1 and
 * is multiplied by `growth` (up to `maxFactor`) each time the model runs out of memory, and raised to what
 * measured device memory shows a batch used (`raiseTo`).
 */
export class ActivationEstimator {
  readonly #models: ReadonlyMap<string, ModelSpec>;
  readonly #growth: number;
  readonly #maxFactor: number;
  readonly #factors = new Map<string, number>();

  constructor(models: ReadonlyMap<string, ModelSpec>, growth: number, maxFactor: number) {
    this.#models = models;
    this.#growth = growth;
    this.#maxFactor = maxFactor;
  }

  factor(model: string): number {
    return this.#factors.get(model) ?? 1;
  }

  /** Estimated activation bytes of one `widthPx × heightPx` image on `model` (rounded up). */
  perItemBytes(model: string, widthPx: number, heightPx: number): number {
    const spec = this.#models.get(model);
    if (!spec) throw new RangeError(`model ${model} is not declared in options.models`);
    const megapixels = (widthPx * heightPx) / PIXELS_PER_MEGAPIXEL;
    return Math.ceil(spec.activationBytesPerMegapixel * megapixels * this.factor(model));
  }

  /** Raises the model's factor to `factor` (capped) when that is higher: what a measurement of device memory teaches. */
  raiseTo(model: string, factor: number): number {
    const raised = Math.max(this.factor(model), Math.min(this.#maxFactor, factor));
    this.#factors.set(model, raised);
    return raised;
  }

  get maxFactor(): number {
    return this.#maxFactor;
  }

  /** Raises the model's factor after an out-of-memory error; `wasAtMax` tells whether it already was capped. */
  raise(model: string): { factor: number; wasAtMax: boolean } {
    const before = this.factor(model);
    const factor = Math.min(this.#maxFactor, before * this.#growth);
    this.#factors.set(model, factor);
    return { factor, wasAtMax: before >= this.#maxFactor };
  }
}
