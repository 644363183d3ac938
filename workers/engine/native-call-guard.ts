/** The guard's value once the main thread has closed it: no onnxruntime call may start any more. */
const CLOSED = -1;

/**
 * Keeps the engine thread from being terminated inside an onnxruntime call. onnxruntime-node's binding throws a
 * C++ exception when its thread's environment is torn down under a running call, and that aborts the whole
 * process (`worker.terminate()` or `process.exit()` during `session.run`, tried on onnxruntime-node 1.30). So
 * the thread counts the calls it is inside in one shared Int32, and the main thread terminates it only after
 * swapping a 0 for `CLOSED`: from then on no call starts, and none is running.
 */
export class NativeCallGuard {
  private readonly cell: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cell = new Int32Array(buffer);
  }

  static createBuffer(): SharedArrayBuffer {
    return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  }

  /** Engine thread: runs `call` counted, or throws `closedError()` once the main thread has closed the guard. */
  async around<T>(call: () => Promise<T>, closedError: () => Error): Promise<T> {
    for (;;) {
      const inside = Atomics.load(this.cell, 0);
      if (inside === CLOSED) throw closedError();
      if (Atomics.compareExchange(this.cell, 0, inside, inside + 1) === inside) break;
    }
    try {
      return await call();
    } finally {
      Atomics.sub(this.cell, 0, 1);
      Atomics.notify(this.cell, 0);
    }
  }

  /** Main thread: resolves once no call is running and none can start, so the thread may be terminated. */
  async close(): Promise<void> {
    for (;;) {
      const inside = Atomics.compareExchange(this.cell, 0, 0, CLOSED);
      if (inside === 0 || inside === CLOSED) return;
      const wait = Atomics.waitAsync(this.cell, 0, inside);
      if (wait.async) await wait.value;
    }
  }
}
