/**
 * Weighted fair sharing of GPU time between lanes (stride scheduling): each lane accumulates the GPU time
 * its batches take divided by its weight, and the lane with the least goes next. A lane that returns from
 * idle starts level with the least-served active lane, so time spent idle is not owed back to it later.
 */
export class WeightedFairShare<L extends string> {
  readonly #weights: ReadonlyMap<L, number>;
  readonly #order: readonly L[];
  readonly #usage = new Map<L, number>();

  constructor(weights: ReadonlyMap<L, number>) {
    this.#weights = weights;
    this.#order = [...weights.keys()];
    for (const lane of this.#order) this.#usage.set(lane, 0);
  }

  /** Weighted GPU time charged so far (ms divided by weight). */
  usage(lane: L): number {
    return this.#usage.get(lane) ?? 0;
  }

  /** Adds (or, to correct an estimate, removes) `gpuMs` of GPU time to a lane's account. */
  charge(lane: L, gpuMs: number): void {
    this.#usage.set(lane, this.usage(lane) + gpuMs / (this.#weights.get(lane) ?? 1));
  }

  /** Brings a lane that had nothing to do level with the least-served lane among `activeLanes`. */
  activate(lane: L, activeLanes: Iterable<L>): void {
    let floor = Infinity;
    for (const other of activeLanes) if (other !== lane) floor = Math.min(floor, this.usage(other));
    if (floor !== Infinity) this.#usage.set(lane, Math.max(this.usage(lane), floor));
  }

  /** The lanes, least served first (declaration order breaks ties). */
  ordered(lanes: Iterable<L>): L[] {
    const list = [...lanes];
    if (list.length < 2) return list;
    return list.sort((a, b) => this.usage(a) - this.usage(b) || this.#order.indexOf(a) - this.#order.indexOf(b));
  }
}
