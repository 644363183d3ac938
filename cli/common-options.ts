import { Command, InvalidArgumentError, Option } from 'commander';
import { assertPrefix, readConfig } from '../contract/index.js';

/** Options every `fleet` command takes. */
export interface ConnectionOptions {
  /** @default env REDIS_URL, else redis://127.0.0.1:6379 */
  redis: string;
  /** @default env FLEET_PREFIX, else fleet */
  prefix: string;
  json?: boolean;
}

/** Adds `--redis`, `--prefix` and `--json` to a command, with defaults from the environment. */
export function withConnectionOptions(command: Command): Command {
  const config = readConfig();
  return command
    .addOption(new Option('--redis <url>', 'Redis URL (env REDIS_URL)').default(config.redisUrl, 'redis://127.0.0.1:6379'))
    .addOption(
      new Option('--prefix <name>', 'key prefix, so fleets and test runs can share one Redis (env FLEET_PREFIX)')
        .default(config.prefix, 'fleet')
        .argParser((value) => {
          try {
            assertPrefix(value);
          } catch (error) {
            throw new InvalidArgumentError((error as Error).message);
          }
          return value;
        }),
    )
    .option('--json', 'print JSON instead of text');
}

export function integerOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}–${max}`);
    return n;
  };
}

export function numberOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number ${min}–${max}`);
    return n;
  };
}

/** A failure the CLI reports in one line and exits 1 for. */
export class CommandFailure extends Error {}

/** A bad option value found after parsing (a folder that does not exist, a port in use): one line, exit 2. */
export class UsageError extends Error {}
