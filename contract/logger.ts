import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths pino replaces with `[redacted]` wherever they appear in a log line: tokens, passwords,
 * credentials and authorization headers never reach the logs.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'secretAccessKey',
  '*.secretAccessKey',
  'credentials',
  '*.credentials',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'redisUrl',
  '*.redisUrl',
];

export interface LoggerSettings {
  /** pino level. @default 'info' */
  level?: string;
  /** Bound to every line, e.g. `{ worker: 'gpu0' }`. */
  bindings?: Record<string, unknown>;
  /** Where lines go (tests pass a stream to read them back). @default stdout */
  destination?: NodeJS.WritableStream;
}

/** A pino JSON logger with the fleet's redaction rules. */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { pid: process.pid, ...settings.bindings },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return settings.destination ? pino(options, settings.destination as pino.DestinationStream) : pino(options);
}
