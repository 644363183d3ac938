interface CreditWaiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A lane's fetch credits: `acquire()` waits until the lane can take another item and reserves a slot for it;
 * `submit()` uses the reservation, `release()` hands it back when the fetch came back empty.
 */
export class LaneCredits {
  #reserved = 0;
  readonly #waiters: CreditWaiter[] = [];

  get reserved(): number {
    return this.#reserved;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Waits for a credit; `grant()` resolves waiters first come, first served. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter: CreditWaiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Hands out up to `available` credits to waiters; returns how many were granted. */
  grant(available: number): number {
    let granted = 0;
    while (granted < available && this.#waiters.length > 0) {
      this.#reserved++;
      granted++;
      this.#waiters.shift()!.resolve();
    }
    return granted;
  }

  /** Uses one reservation, if any (an item arrived). */
  consume(): void {
    if (this.#reserved > 0) this.#reserved--;
  }

  /** Returns one unused reservation. */
  release(): void {
    if (this.#reserved > 0) this.#reserved--;
  }

  /** Fails every waiter and forgets reservations (the batcher is stopping). */
  rejectAll(error: unknown): void {
    this.#reserved = 0;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}
