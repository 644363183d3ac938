/** One submitted item waiting for (or in) a batch. */
export interface PendingItem<T, R> {
  readonly payload: T;
  readonly submittedMs: number;
  /** When the item first went into a running batch. */
  firstStartMs: number | undefined;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

/** A queued item that counts how it settled (one object per item, no closures: submit is on the hot path). */
export class CountedItem<T, R> implements PendingItem<T, R> {
  firstStartMs: number | undefined = undefined;

  constructor(
    readonly payload: T,
    readonly submittedMs: number,
    private readonly counters: { itemsResolved: number; itemsRejected: number },
    private readonly settleOk: (value: R) => void,
    private readonly settleError: (error: unknown) => void,
  ) {}

  resolve(value: R): void {
    this.counters.itemsResolved++;
    this.settleOk(value);
  }

  reject(error: unknown): void {
    this.counters.itemsRejected++;
    this.settleError(error);
  }
}

/** Items that may run together: one lane, model, size and key. */
export interface PendingBatch<T, R> {
  readonly groupKey: string;
  readonly model: string;
  readonly key: string;
  readonly widthPx: number;
  readonly heightPx: number;
  /** The first item's `BatchItem.activationScale` (1 when it gave none). */
  readonly activationScale: number;
  /** 0 for a group of new items; out-of-memory halves carry their parent's attempt + 1. */
  readonly attempt: number;
  readonly items: PendingItem<T, R>[];
}

export type BatchShape = Pick<PendingBatch<unknown, unknown>, 'model' | 'key' | 'widthPx' | 'heightPx'>;

/** The compatibility key: a batch never mixes models, sizes or caller keys. */
export function groupKeyOf(shape: BatchShape): string {
  // A separator no model name or key holds (NUL), so distinct shapes never share a key.
  return `${shape.model}\u0000${shape.widthPx}\u0000${shape.heightPx}\u0000${shape.key}`;
}

/**
 * One lane's waiting items, in memory: groups of compatible new items (insertion-ordered) and, ahead of them,
 * out-of-memory halves waiting to retry. (Not a BullMQ queue: those are producer/'s `LaneQueues`.)
 */
export class PendingBatches<T, R> {
  readonly #groups = new Map<string, PendingBatch<T, R>>();
  readonly #retries: PendingBatch<T, R>[] = [];
  #size = 0;

  /** Items waiting, retries included. */
  get size(): number {
    return this.#size;
  }

  add(shape: BatchShape & { activationScale?: number | undefined }, item: PendingItem<T, R>): void {
    const groupKey = groupKeyOf(shape);
    let group = this.#groups.get(groupKey);
    if (!group) {
      group = { groupKey, model: shape.model, key: shape.key, widthPx: shape.widthPx, heightPx: shape.heightPx, activationScale: shape.activationScale ?? 1, attempt: 0, items: [] };
      this.#groups.set(groupKey, group);
    }
    group.items.push(item);
    this.#size++;
  }

  /** Puts batches at the front of the lane, in the given order. */
  pushRetries(batches: PendingBatch<T, R>[]): void {
    this.#retries.unshift(...batches.filter((b) => b.items.length > 0));
    for (const batch of batches) this.#size += batch.items.length;
  }

  /**
   * The batch the lane would start next: a retry first, else the group with the oldest item among those
   * ready — full (`target` items), due (its oldest item has waited `maxLatencyMs`), or any when `flushNow`.
   */
  candidate(nowMs: number, target: number, maxLatencyMs: number, flushNow: boolean): PendingBatch<T, R> | undefined {
    if (this.#retries[0]) return this.#retries[0];
    let best: PendingBatch<T, R> | undefined;
    for (const group of this.#groups.values()) {
      const oldestMs = group.items[0]!.submittedMs;
      const ready = flushNow || group.items.length >= target || nowMs >= oldestMs + maxLatencyMs;
      if (ready && (!best || oldestMs < best.items[0]!.submittedMs)) best = group;
    }
    return best;
  }

  /** Removes and returns the first `count` items of `batch` (a candidate of these). */
  take(batch: PendingBatch<T, R>, count: number): PendingItem<T, R>[] {
    const taken = batch.items.splice(0, count);
    this.#size -= taken.length;
    if (batch.items.length === 0) {
      const retryIndex = this.#retries.indexOf(batch);
      if (retryIndex >= 0) this.#retries.splice(retryIndex, 1);
      else this.#groups.delete(batch.groupKey);
    }
    return taken;
  }

  /** When the next group not yet due becomes due, or `undefined` when none waits on time. */
  nextDeadlineMs(nowMs: number, maxLatencyMs: number): number | undefined {
    let next: number | undefined;
    for (const group of this.#groups.values()) {
      const dueMs = group.items[0]!.submittedMs + maxLatencyMs;
      if (dueMs > nowMs && (next === undefined || dueMs < next)) next = dueMs;
    }
    return next;
  }

  /** Removes and returns every waiting item. */
  takeAll(): PendingItem<T, R>[] {
    const all = [...this.#retries, ...this.#groups.values()].flatMap((batch) => batch.items);
    this.#retries.length = 0;
    this.#groups.clear();
    this.#size = 0;
    return all;
  }
}

/** Settles each item with its outcome; a wrong-length answer fails them all with a `TypeError`. */
export function settleItems<T, R>(items: readonly PendingItem<T, R>[], outcomes: unknown): void {
  if (!Array.isArray(outcomes) || outcomes.length !== items.length) {
    const got = Array.isArray(outcomes) ? outcomes.length : typeof outcomes;
    const error = new TypeError(`run() must return one outcome per item: got ${got} for ${items.length}`);
    for (const item of items) item.reject(error);
    return;
  }
  for (let index = 0; index < items.length; index++) {
    const item = items[index]!;
    const outcome = outcomes[index] as { ok: true; value: R } | { ok: false; error: unknown };
    if (outcome.ok) item.resolve(outcome.value);
    else item.reject(outcome.error);
  }
}

/** Splits a batch's items in two halves (one part for a lone item), each one attempt later. */
export function bisect<T, R>(shape: PendingBatch<T, R>, items: PendingItem<T, R>[], attempt: number): PendingBatch<T, R>[] {
  const half = Math.ceil(items.length / 2);
  const parts = items.length === 1 ? [items] : [items.slice(0, half), items.slice(half)];
  return parts.map((part) => ({ ...shape, attempt: attempt + 1, items: part }));
}
