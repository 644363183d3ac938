import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compiledFleetBin } from './compiled-fleet.js';
import { REDIS_URL } from './redis.js';

/** The `fleet` binary as shipped (runs the TypeScript through tsx). */
export const FLEET_BIN = fileURLToPath(new URL('../../bin/fleet.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface FleetRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `fleet …args` as a process with REDIS_URL set, piped (not a TTY), and resolves when it exits. The CLI runs
 * compiled (see compiled-fleet.ts) unless `bin` names another entry, such as FLEET_BIN.
 */
export function runFleet(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; bin?: string } = {}): Promise<FleetRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? compiledFleetBin(), ...args], {
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
