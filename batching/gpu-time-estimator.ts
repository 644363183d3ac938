/**
 * Smoothed GPU milliseconds per item, per model: what fair sharing charges a lane when its batch starts
 * (corrected to the measured time when it ends). A model not seen yet borrows the mean of the others.
 */
export class GpuTimeEstimator {
  readonly #msPerItem = new Map<string, number>();

  estimateMs(model: string, items: number): number {
    const known = this.#msPerItem.get(model);
    if (known !== undefined) return known * items;
    const all = [...this.#msPerItem.values()];
    return (all.length === 0 ? 1 : all.reduce((a, b) => a + b, 0) / all.length) * items;
  }

  observe(model: string, runMs: number, items: number): void {
    const previous = this.#msPerItem.get(model);
    const msPerItem = runMs / items;
    this.#msPerItem.set(model, previous === undefined ? msPerItem : 0.2 * msPerItem + 0.8 * previous);
  }
}
