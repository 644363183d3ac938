/** Something the batcher did, for logs and metrics (batching has no metric registry of its own). */
export type BatcherEvent<L extends string = string> =
  | {
      type: 'batch-start';
      lane: L;
      model: string;
      key: string;
      size: number;
      attempt: number;
      activationBytes: number;
      /** Bytes planned in use (resident weights + running activations) including this batch. */
      usedBytes: number;
    }
  | {
      type: 'batch-end';
      lane: L;
      model: string;
      size: number;
      runMs: number;
      /** `ok` when `run()` resolved (items may still have failed one by one). */
      outcome: 'ok' | 'error' | 'oom';
    }
  | {
      type: 'oom';
      lane: L;
      model: string;
      size: number;
      /** The model's activation factor after raising it. */
      activationFactor: number;
      error: unknown;
    }
  | {
      type: 'estimate-raised';
      model: string;
      /** The model's activation factor after raising it. */
      activationFactor: number;
      /** Device memory measured (see `MicroBatcher.observeDeviceUse`) and what the plan accounted for, bytes. */
      measuredBytes: number;
      plannedBytes: number;
    }
  | { type: 'model-load'; model: string; weightBytes: number }
  | { type: 'model-load-error'; model: string; error: unknown }
  | { type: 'model-evict'; model: string; weightBytes: number }
  | { type: 'model-unload-error'; model: string; error: unknown }
  | { type: 'rejected'; lane: L; model: string; code: 'E_VRAM_BUDGET' | 'E_OOM'; items: number };
