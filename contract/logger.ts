import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactSecrets } from './log-redaction.js';

export type { Logger };

/**
 * Paths pino replaces with `[redacted]`, for what `redactSecrets` does not walk: class instances that reach
 * pino's serializers as they are (a request's headers). Everything in plain objects, strings and errors —
 * secret-named keys at any depth, credentials inside URLs, bearer tokens, error messages, stacks and causes —
 * is scrubbed by `redactSecrets`, which runs on every argument of every log call and on bindings. The list is
 * short on purpose: each wildcard path here costs every log line a walk, and a long list of them was most of
 * the logging cost in the worker's hot path.
 */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'];

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
    formatters: { bindings: (bindings) => redactSecrets(bindings) as Record<string, unknown> },
    hooks: {
      // Runs before serializers and before the message is formatted, so secrets in `msg`, `%s`
      // arguments and `err` (message, stack, cause) are gone before anything is written.
      logMethod(args, method) {
        return method.apply(this, args.map((arg) => redactSecrets(arg)) as Parameters<typeof method>);
      },
    },
  };
  const logger = settings.destination ? pino(options, settings.destination as pino.DestinationStream) : pino(options);
  // pino applies `formatters.bindings` to the base bindings only; children (Object.create of their parent,
  // so they inherit this method) get theirs scrubbed here.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactSecrets(bindings) as typeof bindings, childOptions);
  } as typeof logger.child;
  return logger;
}

/**
 * Sends the process's warnings (Node's deprecations, a dependency's `process.emitWarning`) through `logger` as one
 * JSON line each instead of Node's multi-line stderr text, so a long-running service's output parses line by
 * line. Node prints warnings from a listener of its own; that one is removed. Returns a function that undoes it.
 */
export function routeProcessWarnings(logger: Logger): () => void {
  const previous = process.listeners('warning');
  process.removeAllListeners('warning');
  const onWarning = (warning: Error & { code?: string }) => {
    logger.warn({ warning: { name: warning.name, ...(warning.code === undefined ? {} : { code: warning.code }), message: warning.message } }, `process warning: ${warning.message}`);
  };
  process.on('warning', onWarning);
  return () => {
    process.off('warning', onWarning);
    for (const listener of previous) process.on('warning', listener);
  };
}
