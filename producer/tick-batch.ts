/** One call's outcome in a batch: its value, or the error that call alone gets. */
export type BatchOutcome<T> = { value: T } | { error: unknown };

/**
 * Coalesces the calls made in one turn of the event loop: every `call(key, input)` until the next `setImmediate`
 * is handed to `run` as one array per key, and each caller gets its own outcome. An ingress serving many requests
 * at once then sends Redis one script call or one MULTI for all of them, where it would send one each. A `run`
 * that throws fails every call of its batch with that error.
 */
export class TickBatch<In, Out> {
  private pending = new Map<string, Array<{ input: In; resolve: (value: Out) => void; reject: (error: unknown) => void }>>();
  private scheduled = false;

  constructor(private readonly run: (key: string, inputs: In[]) => Promise<Array<BatchOutcome<Out>>>) {}

  call(key: string, input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      let calls = this.pending.get(key);
      if (calls === undefined) this.pending.set(key, (calls = []));
      calls.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [key, calls] of batches) {
      this.run(
        key,
        calls.map((c) => c.input),
      ).then(
        (outcomes) =>
          calls.forEach((c, i) => {
            const outcome = outcomes[i];
            if (outcome === undefined) c.reject(new Error(`batch ${key}: no outcome for call ${i} of ${calls.length}`));
            else if ('error' in outcome) c.reject(outcome.error);
            else c.resolve(outcome.value);
          }),
        (error: unknown) => calls.forEach((c) => c.reject(error)),
      );
    }
  }
}
