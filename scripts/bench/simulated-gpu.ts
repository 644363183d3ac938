/**
 * A simulated GPU for the incident scenario: memory is accounted (resident weights + activations of running
 * batches) against the device's capacity, and compute is real waiting on timers. It is the only simulated part
 * of the scenario: queues, routing, batching, admission and workers are the production code paths.
 *
 * Compute is processor-shared: batches running at once split the device evenly (a batch that needs 200 ms
 * alone takes 400 ms next to another one), as compute-bound kernels from several streams do; running batches
 * side by side therefore never adds throughput, it only spends memory.
 */

export const GiB = 1024 ** 3;

/** What a real device raises when an allocation does not fit: onnxruntime/CUDA-like text and the fleet's `E_OOM`. */
export class SimulatedOutOfMemoryError extends Error {
  readonly code = 'E_OOM';

  constructor(requestedBytes: number, usedBytes: number, capacityBytes: number, deviceIndex = 0) {
    super(
      `CUDA out of memory. Tried to allocate ${(requestedBytes / GiB).toFixed(2)} GiB (GPU ${deviceIndex}; ${(capacityBytes / GiB).toFixed(2)} GiB total capacity; ` +
        `${(usedBytes / GiB).toFixed(2)} GiB already allocated)`,
    );
    this.name = 'SimulatedOutOfMemoryError';
  }
}

export interface SimulatedDeviceOptions {
  /** Device memory, bytes. */
  capacityBytes: number;
  /** The device's index, for error messages (`GPU 1`). @default 0 */
  deviceIndex?: number;
  /** Source of time, ms. @default performance.now */
  now?: () => number;
  /** A batch that runs out of memory fails after this share of its solo run time (work before the failing allocation). @default 0.1 */
  oomAfterFraction?: number;
}

export interface SimulatedDeviceStats {
  capacityBytes: number;
  usedBytes: number;
  /** Highest bytes ever allocated at once (never above capacity: what does not fit is refused). */
  peakBytes: number;
  /** Highest bytes ever asked for at once, refused allocations included. */
  demandPeakBytes: number;
  oom: number;
  batchesRun: number;
  /** Time with at least one batch running, ms, since the last `resetWindow()`. */
  busyMs: number;
  /** Time since the last `resetWindow()`, ms. */
  windowMs: number;
  /** busyMs / windowMs. */
  busyFraction: number;
}

interface RunningBatch {
  remainingMs: number;
  done: () => void;
}

export class SimulatedDevice {
  readonly capacityBytes: number;
  readonly deviceIndex: number;
  private readonly now: () => number;
  private readonly oomAfterFraction: number;
  private usedBytes = 0;
  private peakBytes = 0;
  private demandPeakBytes = 0;
  private oom = 0;
  private batchesRun = 0;
  private readonly running = new Set<RunningBatch>();
  private lastAdvanceMs: number;
  private busyMs = 0;
  private windowStartMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: SimulatedDeviceOptions) {
    if (!(options.capacityBytes > 0)) throw new RangeError(`capacityBytes must be > 0, got ${options.capacityBytes}`);
    this.capacityBytes = options.capacityBytes;
    this.deviceIndex = options.deviceIndex ?? 0;
    this.now = options.now ?? (() => performance.now());
    this.oomAfterFraction = options.oomAfterFraction ?? 0.1;
    this.lastAdvanceMs = this.now();
    this.windowStartMs = this.lastAdvanceMs;
  }

  /**
   * Reserves device memory (weights on load, activations for a batch).
   * @throws SimulatedOutOfMemoryError when it does not fit; nothing is reserved then.
   */
  allocate(bytes: number): void {
    if (!(bytes >= 0)) throw new RangeError(`bytes must be >= 0, got ${bytes}`);
    this.demandPeakBytes = Math.max(this.demandPeakBytes, this.usedBytes + bytes);
    if (this.usedBytes + bytes > this.capacityBytes) {
      this.oom++;
      throw new SimulatedOutOfMemoryError(bytes, this.usedBytes, this.capacityBytes, this.deviceIndex);
    }
    this.usedBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.usedBytes);
  }

  free(bytes: number): void {
    if (bytes > this.usedBytes + 1) throw new RangeError(`freeing ${bytes} bytes but only ${this.usedBytes} are allocated`);
    this.usedBytes = Math.max(0, this.usedBytes - bytes);
  }

  /**
   * Runs one batch: allocates its activations, computes for `workMs` of solo device time (longer while other
   * batches share the device), frees them. When the activations do not fit, the batch computes for
   * `oomAfterFraction × workMs` and rejects with `SimulatedOutOfMemoryError`.
   */
  async run(workMs: number, activationBytes: number): Promise<void> {
    let oomError: SimulatedOutOfMemoryError | undefined;
    try {
      this.allocate(activationBytes);
    } catch (error) {
      oomError = error as SimulatedOutOfMemoryError;
    }
    try {
      await this.compute(oomError ? workMs * this.oomAfterFraction : workMs);
    } finally {
      if (!oomError) this.free(activationBytes);
    }
    if (oomError) throw oomError;
    this.batchesRun++;
  }

  /** Starts a new measurement window for `busyFraction` (and the peaks). */
  resetWindow(): void {
    this.advance();
    this.busyMs = 0;
    this.windowStartMs = this.now();
    this.peakBytes = this.usedBytes;
    this.demandPeakBytes = this.usedBytes;
  }

  stats(): SimulatedDeviceStats {
    this.advance();
    const windowMs = this.now() - this.windowStartMs;
    return {
      capacityBytes: this.capacityBytes,
      usedBytes: this.usedBytes,
      peakBytes: this.peakBytes,
      demandPeakBytes: this.demandPeakBytes,
      oom: this.oom,
      batchesRun: this.batchesRun,
      busyMs: this.busyMs,
      windowMs,
      busyFraction: windowMs > 0 ? this.busyMs / windowMs : 0,
    };
  }

  private compute(workMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.advance();
      this.running.add({ remainingMs: Math.max(0, workMs), done: resolve });
      this.reschedule();
    });
  }

  /** Progresses every running batch by the elapsed time shared among them. */
  private advance(): void {
    const nowMs = this.now();
    const elapsedMs = nowMs - this.lastAdvanceMs;
    this.lastAdvanceMs = nowMs;
    if (elapsedMs <= 0 || this.running.size === 0) return;
    this.busyMs += elapsedMs;
    const share = elapsedMs / this.running.size;
    for (const batch of this.running) batch.remainingMs -= share;
  }

  private reschedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Timers fire up to ~1 ms late; what is that close to done counts as done.
    for (const batch of [...this.running]) {
      if (batch.remainingMs <= 0.05) {
        this.running.delete(batch);
        batch.done();
      }
    }
    if (this.running.size === 0) return;
    let soonestMs = Infinity;
    for (const batch of this.running) soonestMs = Math.min(soonestMs, batch.remainingMs);
    this.timer = setTimeout(() => {
      this.advance();
      this.reschedule();
    }, soonestMs * this.running.size);
  }
}
