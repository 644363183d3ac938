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
 * Runtime messages that mean the device (or host) ran out of memory: CUDA's and onnxruntime's wording, the
 * BFC arena's, C++'s `bad_alloc`, cuDNN's and cuBLAS's allocation statuses. The word boundary keeps messages
 * such as "no room" from matching `OOM`.
 */
const OUT_OF_MEMORY_MESSAGE = /out of memory|\bOOM\b|failed to allocate|bad_alloc|CUDNN_STATUS_ALLOC_FAILED|CUBLAS_STATUS_ALLOC_FAILED/i;

/** Cause chains are walked this deep at most (a cycle must not hang a failure path). */
const MAX_CAUSE_DEPTH = 8;

/**
 * The fleet's one out-of-memory test (the batcher's default, and what the worker's inference runner and engine
 * use): `code === 'E_OOM'`, or a runtime message saying so, on the error or anywhere in its `cause` chain — a
 * pipeline that wraps the runtime's error as `E_INFERENCE` still reads as out of memory when the runtime said so.
 */
export function isOutOfMemoryError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < MAX_CAUSE_DEPTH; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (code === 'E_OOM') return true;
    if (typeof message === 'string' && OUT_OF_MEMORY_MESSAGE.test(message)) return true;
    current = cause;
  }
  return false;
}
