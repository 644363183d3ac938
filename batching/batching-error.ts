/** The catalogue codes batching reports; they match `contract/errors.ts`, which batching does not import. */
export type BatchingErrorCode = 'E_VRAM_BUDGET' | 'E_OOM' | 'E_SHUTDOWN';

/** Base of the errors batching rejects items with: a stable `code` and whether retrying can help. */
export class BatchingError extends Error {
  readonly code: BatchingErrorCode;
  /** False when the same item would fail the same way again (BullMQ's `UnrecoverableError` case). */
  readonly retryable: boolean;

  constructor(code: BatchingErrorCode, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BatchingError';
    this.code = code;
    this.retryable = retryable;
  }
}

/** One item needs more VRAM than the whole budget even with only its own model loaded. Not retryable. */
export class VramBudgetError extends BatchingError {
  readonly model: string;
  /** The model's weights plus one item's activations, in bytes. */
  readonly needBytes: number;
  readonly budgetBytes: number;

  constructor(model: string, needBytes: number, budgetBytes: number, options?: { cause?: unknown }) {
    super(
      'E_VRAM_BUDGET',
      `one image on model ${model} needs ${needBytes} bytes of VRAM (weights + activations) but the budget is ` +
        `${budgetBytes} bytes; lower the image size or raise the budget`,
      false,
      options,
    );
    this.name = 'VramBudgetError';
    this.model = model;
    this.needBytes = needBytes;
    this.budgetBytes = budgetBytes;
  }
}

/** A single item ran out of memory even with its model's activation estimate at the maximum. `cause` is the runtime's error. */
export class OutOfMemoryError extends BatchingError {
  readonly model: string;

  constructor(model: string, attempts: number, cause: unknown) {
    super(
      'E_OOM',
      `one image on model ${model} ran out of GPU memory ${attempts} times, the last with the activation estimate at ` +
        'its maximum; retry later or on a less loaded GPU',
      true,
      { cause },
    );
    this.name = 'OutOfMemoryError';
    this.model = model;
  }
}

/** The batcher is draining or stopped and takes no more work; the job should go back to its queue. */
export class BatcherStoppedError extends BatchingError {
  constructor(state: string) {
    super('E_SHUTDOWN', `the batcher is ${state} and takes no more items; requeue the job`, true);
    this.name = 'BatcherStoppedError';
  }
}

/**
 * The default out-of-memory test: `code === 'E_OOM'`, or a message saying "out of memory" or the word
 * "OOM". The word boundary keeps messages such as "no room" from matching.
 */
export function isOutOfMemoryError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code === 'E_OOM') return true;
  return typeof message === 'string' && /out of memory|\bOOM\b/i.test(message);
}
