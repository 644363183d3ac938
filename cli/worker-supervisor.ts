import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../contract/index.js';

const FLEET_BIN = fileURLToPath(new URL('../bin/fleet.js', import.meta.url));

/**
 * Runs `fleet worker` child processes (one per GPU) and restarts one that dies, with a growing pause
 * (1 s, doubling to 30 s) so a worker that cannot start does not spin. `stop()` sends SIGTERM and waits,
 * so the workers finish their batches in flight.
 */
export class WorkerSupervisor {
  private readonly children = new Map<number, ChildProcess>();
  private stopping = false;

  /**
   * @param argsFor the `fleet worker` arguments of worker `index`
   * @param env extra environment; secrets such as the Redis URL go here, never on the command line
   *   (where `ps` and /proc show them)
   */
  constructor(
    private readonly argsFor: (index: number) => string[],
    private readonly count: number,
    private readonly logger: Logger,
    private readonly env: Record<string, string> = {},
  ) {}

  start(): void {
    for (let i = 0; i < this.count; i++) this.spawn(i, 1000);
  }

  /** SIGTERM to every worker (they finish their batches), SIGKILL to any still running after `graceMs`. */
  async stop(graceMs = 60_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', () => {
              clearTimeout(killer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }

  private spawn(index: number, delayMs: number): void {
    const args = this.argsFor(index);
    const child = spawn(process.execPath, [FLEET_BIN, 'worker', ...args], {
      stdio: 'inherit',
      env: { ...process.env, ...this.env },
      // Its own process group: a Ctrl-C at the terminal reaches only `fleet up`, which then stops the workers in
      // order (SIGTERM, batches finished) instead of every process at once.
      detached: true,
    });
    const startedAt = Date.now();
    this.children.set(index, child);
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      const next = Date.now() - startedAt > 60_000 ? 1000 : Math.min(delayMs * 2, 30_000);
      this.logger.error({ worker: index, code, signal, restartInMs: delayMs }, 'worker exited; restarting');
      setTimeout(() => !this.stopping && this.spawn(index, next), delayMs).unref();
    });
  }
}
