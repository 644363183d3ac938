import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './fleet-cli.js';
import { REDIS_URL } from './redis.js';
import { MODELS_DIR } from './worker.js';

const FLEET_BIN = fileURLToPath(new URL('../../bin/fleet.js', import.meta.url));

/** A `fleet worker` child process and what it printed. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it printed (stdout and stderr), so far. */
  output(): string;
  /** Resolves with its exit code, or the signal that ended it. */
  exited: Promise<number | NodeJS.Signals | null>;
  /** Waits until its output holds `text` (`worker running` for a started worker). */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** Its resident and peak resident memory, bytes (Linux /proc). */
  memory(): { rssBytes: number; peakRssBytes: number };
  kill(): void;
}

/**
 * Spawns `fleet worker` on real Redis with `prefix`, the test models and the given lanes and store; `args` and
 * `env` add to that. Call `kill()` in a `finally`.
 */
export function spawnWorkerProcess(options: { prefix: string; lanes: string; storeUrl: string; args?: string[]; env?: NodeJS.ProcessEnv }): WorkerProcess {
  const child = spawn(
    process.execPath,
    [FLEET_BIN, 'worker', '--redis', REDIS_URL, '--prefix', options.prefix, '--lanes', options.lanes, '--store', options.storeUrl, '--models', MODELS_DIR, '--metrics-port', '0', ...(options.args ?? [])],
    { env: { ...process.env, LOG_LEVEL: 'debug', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return {
    child,
    output: () => output,
    exited,
    waitFor: (text, timeoutMs = 120_000) => waitUntil(`worker output ${JSON.stringify(text)}`, () => output.includes(text) || child.exitCode !== null, timeoutMs, 20).then(() => {
      if (!output.includes(text)) throw new Error(`the worker exited (${child.exitCode}) before printing ${JSON.stringify(text)}:\n${output.slice(-3000)}`);
    }),
    memory: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
      return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
