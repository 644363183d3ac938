/** What a worker hands the batcher for one job. */
export interface BatchItem<T, L extends string = string> {
  /** The lane the job came from; must be one of `BatcherOptions.lanes`. */
  lane: L;
  /**
   * The rest of the compatibility key, e.g. the step count: items batch together only when their model,
   * size and key are all equal. The batcher separates model and size itself.
   */
  key: string;
  /** The model to run; must be one of `BatcherOptions.models`. */
  model: string;
  /** Output width in pixels. */
  widthPx: number;
  /** Output height in pixels. */
  heightPx: number;
  /**
   * Multiplies the item's activation estimate, for work a size alone does not show (an edit's VAE encoder pass).
   * Items batch together only when their keys match, so a key should tell items of different scales apart; a group
   * takes the scale of its first item. @default 1
   */
  activationScale?: number;
  /** Passed through to `run()` untouched. */
  payload: T;
}

/** A group of compatible items handed to `run()`: same lane, model, size and key. */
export interface Batch<T, L extends string = string> {
  lane: L;
  key: string;
  model: string;
  widthPx: number;
  heightPx: number;
  /** The items' payloads; `run()` returns one outcome per payload, in the same order. */
  payloads: readonly T[];
  /** 0 on the first try; each out-of-memory bisection adds one. */
  attempt: number;
  /** The activation bytes the batcher reserved for this batch under the VRAM budget. */
  activationBytes: number;
}

/** The result of one item of a batch: a per-item failure does not fail its batch-mates. */
export type ItemOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Runs a batch on the GPU. Rejecting fails every item (after bisection, when the rejection is out-of-memory). */
export type RunBatch<T, R, L extends string = string> = (batch: Batch<T, L>) => Promise<readonly ItemOutcome<R>[]>;

/**
 * A model's VRAM footprint. Activations are estimated as
 * `items × megapixels × activationBytesPerMegapixel × learned factor` (megapixel = 1e6 pixels); the factor
 * starts at 1 and rises after each out-of-memory error.
 */
export interface ModelSpec {
  /** Bytes the weights occupy while the model is loaded. */
  weightBytes: number;
  /** Activation bytes one image needs per megapixel of output while its batch runs. */
  activationBytesPerMegapixel: number;
}
