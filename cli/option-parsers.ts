import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import { InvalidArgumentError } from 'commander';
import { parseByteSize, parseStoreUrl } from '../workers/index.js';
import { UsageError } from './common-options.js';

/**
 * Parsers and checks for the options of `fleet up` and `fleet worker`: every value is checked before anything
 * starts, so a bad one is one line and exit 2, never a worker restarted for ever.
 */

/** `--gpus 0,1`: distinct GPU indexes 0–63, no empty entries (`0,,1` is refused, not read as three workers). */
export function parseGpuList(value: string): number[] {
  const entries = value.split(',').map((g) => g.trim());
  const gpus = entries.map((entry) => {
    if (!/^\d{1,2}$/.test(entry) || Number(entry) > 63) throw new InvalidArgumentError(`--gpus must be GPU indexes 0–63 separated by commas (e.g. 0,1), got ${JSON.stringify(value)}`);
    return Number(entry);
  });
  if (new Set(gpus).size !== gpus.length) throw new InvalidArgumentError(`--gpus names a GPU twice: ${JSON.stringify(value)}`);
  return gpus;
}

/** `--vram 8GiB`: a byte size, kept as given (the worker parses it again) once it is known to parse. */
export function byteSizeOption(name: string) {
  return (value: string): string => {
    let bytes: number;
    try {
      bytes = parseByteSize(value);
    } catch (error) {
      throw new InvalidArgumentError(`${name}: ${(error as Error).message}`);
    }
    if (!(bytes > 0)) throw new InvalidArgumentError(`${name} must be more than 0 bytes, got ${JSON.stringify(value)}`);
    return value;
  };
}

/** `--store URL`: `file://DIR` or `s3://bucket/prefix`. */
export function storeUrlOption(value: string): string {
  try {
    parseStoreUrl(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

/** The models folder must exist (a typo would otherwise start a worker with no models, restarted for ever). */
export function assertModelsDir(dir: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory) throw new UsageError(`--models ${dir} is not a folder (build the local models with npm run build:models, or point --models at your exports)`);
}

/** Refuses a port something already listens on (0 means any free port and always passes). */
export async function assertPortFree(flag: string, host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new UsageError(`${flag} ${port} on ${host}: ${error.code === 'EADDRINUSE' ? 'already in use' : error.code === 'EACCES' ? 'not allowed' : (error.code ?? error.message)}`)),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}
