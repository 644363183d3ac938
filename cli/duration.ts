import { InvalidArgumentError } from 'commander';
import { DAY, HOUR, MINUTE, SECOND } from '../contract/index.js';

const UNITS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY };

/** `90s`, `5m`, `1h`, `2d`, `1h30m` or a bare number of seconds → milliseconds. */
export function parseDurationMs(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * SECOND;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new RangeError(`not a duration: ${JSON.stringify(text)} (use e.g. 30s, 5m, 1h, 2d)`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNITS[unit!]!, 0);
}

/** A commander option parser for durations within [minMs, maxMs]. */
export function durationOption(name: string, minMs: number, maxMs: number) {
  return (value: string): number => {
    let ms: number;
    try {
      ms = parseDurationMs(value);
    } catch (error) {
      throw new InvalidArgumentError(`${name}: ${(error as Error).message}`);
    }
    if (ms < minMs || ms > maxMs) throw new InvalidArgumentError(`${name} must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}`);
    return ms;
  };
}

/** 300000 → `5m`, 5400000 → `1h30m`, 1500 → `1.5s`. */
export function formatDuration(ms: number): string {
  if (ms < MINUTE) return `${Math.round((ms / SECOND) * 10) / 10}s`;
  const parts: string[] = [];
  let rest = Math.round(ms / SECOND);
  for (const [unit, size] of [['d', DAY / SECOND], ['h', HOUR / SECOND], ['m', MINUTE / SECOND], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

/** Latency for tables: `850ms`, `1.25s`, `—` for none. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)}s`;
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Bytes for tables: `512MiB`, `15.5GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  return `${i === 0 ? value : Number(value.toFixed(1))}${units[i]}`;
}
