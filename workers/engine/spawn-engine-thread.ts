import { Worker } from 'node:worker_threads';
import type { EngineThreadData } from './engine-protocol.js';

/** Whether this module runs from its TypeScript source (through tsx) rather than compiled JavaScript. */
const FROM_TYPESCRIPT = import.meta.url.endsWith('.ts');

/** `--import tsx`, `--import=tsx`, `--loader tsx` and the like: how the parent process may have loaded tsx. */
function isTsxLoaderFlag(flag: string, value: string | undefined): boolean {
  return ['--import', '--loader', '--experimental-loader', '--require', '-r'].includes(flag) && value !== undefined && /(^|[/\\])tsx([/\\]|$)/.test(value);
}

/** The parent's Node flags without the ones that load tsx (the engine thread registers tsx itself). */
export function withoutTsxLoader(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const eq = arg.indexOf('=');
    if (eq > 0 && isTsxLoaderFlag(arg.slice(0, eq), arg.slice(eq + 1))) continue;
    if (isTsxLoaderFlag(arg, execArgv[i + 1])) {
      i++;
      continue;
    }
    kept.push(arg);
  }
  return kept;
}

/**
 * Starts `engine-thread` as a worker thread. From compiled JavaScript the entry is `engine-thread.js` beside this
 * file. From the TypeScript sources a worker thread does not inherit tsx: on Node 20 neither `--import tsx` in
 * the parent's flags (a worker's `execArgv` keeps it, but its hooks never load `.ts`) nor the `register()` that
 * `bin/fleet.js` calls reaches the thread, and `new Worker(new URL('./engine-thread.ts', import.meta.url))`
 * fails with "Unknown file extension .ts". So the thread starts from a small ES module (a `data:` URL) that
 * registers tsx's loader in the thread and then imports the entry; tsx's flags are left out of the thread's
 * `execArgv` so no later Node registers tsx twice.
 */
export function spawnEngineThread(data: EngineThreadData): Worker {
  if (!FROM_TYPESCRIPT) return new Worker(new URL('./engine-thread.js', import.meta.url), { workerData: data });
  const entry = new URL('./engine-thread.ts', import.meta.url).href;
  const bootstrap = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};\nregister();\nawait import(${JSON.stringify(entry)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), { workerData: data, execArgv: withoutTsxLoader(process.execArgv) });
}
