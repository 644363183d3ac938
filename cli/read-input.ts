import { readFileSync } from 'node:fs';

/** Reads a file, or standard input for `-` (or no path). */
export function readInput(path: string | undefined): string {
  return readFileSync(path === undefined || path === '-' ? 0 : path, 'utf8');
}
