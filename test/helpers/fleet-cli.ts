import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REDIS_URL } from './redis.js';

/** The `fleet` binary (runs the TypeScript through tsx). */
export const FLEET_BIN = fileURLToPath(new URL('../../bin/fleet.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface FleetRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/fleet.js …args` with REDIS_URL set, piped (not a TTY), and resolves when it exits. */
export function runFleet(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<FleetRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FLEET_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL, LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fleet ${args.join(' ')} did not exit within ${options.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a command with `--json` and parses its standard output; fails with its stderr when it exits non-zero. */
export async function fleetJson<T = any>(args: string[], options: { timeoutMs?: number } = {}): Promise<T> {
  const run = await runFleet([...args, '--json'], options);
  if (run.code !== 0) throw new Error(`fleet ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** Polls `check` every `intervalMs` until it returns true; fails after `timeoutMs` with `what`. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
