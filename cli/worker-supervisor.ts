import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../contract/index.js';

const FLEET_BIN = fileURLToPath(new URL('../bin/fleet.js', import.meta.url));

/** `fleet worker` exits with this for a configuration error (see `isConfigurationError`): not worth a restart. */
export const CONFIGURATION_EXIT_CODE = 2;

/** How many of a worker's last stderr lines are kept, to say why it exited. */
const KEPT_STDERR_LINES = 20;

/**
 * Runs `fleet worker` child processes (one per GPU) and restarts one that dies, with a growing pause
 * (1 s, doubling to 30 s) so a worker that fails transiently does not spin. A worker that exits with
 * {@link CONFIGURATION_EXIT_CODE} is not restarted: `onConfigurationError` gets its message instead. `stop()`
 * sends SIGTERM and waits, so the workers finish their batches in flight.
 */
export class WorkerSupervisor {
  private readonly children = new Map<number, ChildProcess>();
  private stopping = false;

  /**
   * @param argsFor the `fleet worker` arguments of worker `index`
   * @param env extra environment; secrets such as the Redis URL go here, never on the command line
   *   (where `ps` and /proc show them)
   * @param onConfigurationError called once for a worker that exited with a configuration error, with the
   *   message it printed (`fleet: [E_CONFIG] …`)
   */
  constructor(
    private readonly argsFor: (index: number) => string[],
    private readonly count: number,
    private readonly logger: Logger,
    private readonly env: Record<string, string> = {},
    private readonly onConfigurationError: (index: number, message: string) => void = () => {},
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
      // stderr is read (and passed on) to tell why a worker exited; its logs go to stdout as they are.
      stdio: ['ignore', 'inherit', 'pipe'],
      env: { ...process.env, ...this.env },
      // Its own process group: a Ctrl-C at the terminal reaches only `fleet up`, which then stops the workers in
      // order (SIGTERM, batches finished) instead of every process at once.
      detached: true,
    });
    const lastLines: string[] = [];
    let partial = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      lastLines.push(...lines.filter((line) => line.trim() !== ''));
      lastLines.splice(0, Math.max(0, lastLines.length - KEPT_STDERR_LINES));
    });
    const startedAt = Date.now();
    this.children.set(index, child);
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      if (code === CONFIGURATION_EXIT_CODE) {
        const message = [...lastLines, partial].reverse().find((line) => line.startsWith('fleet: ')) ?? `worker ${index} exited with a configuration error`;
        this.logger.error({ worker: index, code }, `worker ${index} cannot start as configured; not restarting it`);
        this.onConfigurationError(index, message.replace(/^fleet: /, ''));
        return;
      }
      const next = Date.now() - startedAt > 60_000 ? 1000 : Math.min(delayMs * 2, 30_000);
      this.logger.error({ worker: index, code, signal, restartInMs: delayMs }, 'worker exited; restarting');
      setTimeout(() => !this.stopping && this.spawn(index, next), delayMs).unref();
    });
  }
}
