/**
 * A process-wide readers–writer gate over the jobs a worker runs: any number of shared runs at once, or one run
 * alone (nothing else of the process running beside it). A run alone waits for the shared runs in progress to end;
 * the shared runs that come after it wait for it, so a stream of ordinary jobs never starves it. Runs start in
 * the order they asked, except that shared runs queued together start together.
 */
export class RunAloneGate {
  private sharedRuns = 0;
  private aloneRunning = false;
  private readonly queue: Array<{ alone: boolean; start: () => void }> = [];

  /** Runs beside other shared runs, never beside a run alone. */
  runShared<T>(run: () => Promise<T>): Promise<T> {
    return this.enter(false, run);
  }

  /** Runs with nothing else of the process running. */
  runAlone<T>(run: () => Promise<T>): Promise<T> {
    return this.enter(true, run);
  }

  /** Shared runs in progress (tests). */
  get sharedInProgress(): number {
    return this.sharedRuns;
  }

  /** Whether a run alone is in progress (tests). */
  get aloneInProgress(): boolean {
    return this.aloneRunning;
  }

  private async enter<T>(alone: boolean, run: () => Promise<T>): Promise<T> {
    await new Promise<void>((start) => {
      this.queue.push({ alone, start });
      this.admit();
    });
    try {
      return await run();
    } finally {
      if (alone) this.aloneRunning = false;
      else this.sharedRuns--;
      this.admit();
    }
  }

  private admit(): void {
    while (this.queue.length > 0 && !this.aloneRunning) {
      const next = this.queue[0]!;
      if (next.alone) {
        if (this.sharedRuns > 0) return;
        this.aloneRunning = true;
      } else {
        this.sharedRuns++;
      }
      this.queue.shift();
      next.start();
    }
  }
}
