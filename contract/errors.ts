/**
 * The error catalogue: every error the fleet reports carries one of these stable string codes.
 * Codes are part of the public contract (HTTP bodies, failed jobs, metrics labels, `fleet replay --code`);
 * messages are for people and may change.
 *
 * `retryable` separates what is worth retrying (a lost connection, a split-able OOM) from what is not
 * (a bad request, a model that does not fit at all): BullMQ sees the latter as UnrecoverableError.
 */
export const ERROR_CODES = {
  /** The request failed validation; `field` names the offending path. HTTP 400. */
  E_VALIDATION: { httpStatus: 400, retryable: false },
  /** The request body is over the ingress limit (64 KiB). HTTP 413. */
  E_BODY_TOO_LARGE: { httpStatus: 413, retryable: false },
  /** The request body is not `application/json`. HTTP 415. */
  E_UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, retryable: false },
  /** A bearer token is required and was missing or wrong. HTTP 401. */
  E_UNAUTHORIZED: { httpStatus: 401, retryable: false },
  /** No such job (or it has expired). HTTP 404. */
  E_NOT_FOUND: { httpStatus: 404, retryable: false },
  /** The lane's waiting depth is over its maximum; retry after `retryAfterSeconds`. HTTP 429. */
  E_BACKPRESSURE: { httpStatus: 429, retryable: true },
  /** Redis did not answer; nothing was enqueued. HTTP 503. */
  E_REDIS_UNAVAILABLE: { httpStatus: 503, retryable: true },
  /** Waiting for a job's result timed out (the job itself goes on). */
  E_TIMEOUT: { httpStatus: 504, retryable: true },
  /** A routing policy failed validation; `field` is the exact path. */
  E_POLICY_INVALID: { httpStatus: 400, retryable: false },
  /** A single item cannot fit the VRAM budget even alone. */
  E_VRAM_BUDGET: { httpStatus: 507, retryable: false },
  /** The runtime reported out-of-memory (the batch is bisected and retried). */
  E_OOM: { httpStatus: 507, retryable: true },
  /** A model's files are missing or could not be loaded. */
  E_MODEL_LOAD: { httpStatus: 500, retryable: false },
  /** A model's inputs/outputs do not have the shapes or names its pipeline expects. */
  E_MODEL_SHAPE: { httpStatus: 500, retryable: false },
  /** The model crashed while running this job. */
  E_INFERENCE: { httpStatus: 500, retryable: true },
  /** The upscale source could not be read or decoded. */
  E_SOURCE: { httpStatus: 422, retryable: false },
  /** The artifact store refused or failed the write (throttling is retried inside the store first). */
  E_STORE: { httpStatus: 502, retryable: true },
  /** The typography lane's OCR check failed and the request asked for `onFail: 'fail'`. */
  E_TEXT_CHECK: { httpStatus: 422, retryable: false },
  /** The worker stopped before the job finished; the job goes back to the queue. */
  E_SHUTDOWN: { httpStatus: 503, retryable: true },
  /**
   * The inference engine (the thread running the worker's ONNX sessions) died while running or loading this
   * job's model; the worker restarts it and the job is retried.
   */
  E_ENGINE_LOST: { httpStatus: 503, retryable: true },
  /** The worker was asked for a device it cannot use (`--gpu N` without a usable CUDA provider, say). */
  E_DEVICE_UNAVAILABLE: { httpStatus: 500, retryable: false },
  /** Anything unexpected. */
  E_INTERNAL: { httpStatus: 500, retryable: true },

  // The edge contract and the trust model (issues 17 and 18).
  /**
   * A configuration value (an environment variable, a CLI option, a tokens file) is invalid: the process
   * refuses to start (the CLI exits 2) and a supervisor must not restart it.
   */
  E_CONFIG: { httpStatus: 500, retryable: false },
  /** The caller's token may not do this (claim that tier, act for that account, read that job). HTTP 403. */
  E_FORBIDDEN: { httpStatus: 403, retryable: false },
  /** The idempotency key was used before with a different request; nothing was enqueued. HTTP 409. */
  E_IDEMPOTENCY_CONFLICT: { httpStatus: 409, retryable: false },
  /**
   * The add was sent to Redis but Redis did not answer in time, so whether the job exists is not known. The
   * body carries the job's `id` and `statusUrl`: poll it (200: enqueued; 404 once `decidedBy` has passed: never
   * enqueued). Not retryable blindly: a retry without an idempotency key could enqueue the job twice. HTTP 504.
   */
  E_OUTCOME_UNKNOWN: { httpStatus: 504, retryable: false },
  /** The client did not send its whole request (headers and body) in time. HTTP 408. */
  E_REQUEST_TIMEOUT: { httpStatus: 408, retryable: true },
  /** The request's headers are over the server's limit. HTTP 431. */
  E_HEADERS_TOO_LARGE: { httpStatus: 431, retryable: false },
  /** The request's URL (or a path parameter in it) is over the server's limit. HTTP 414. */
  E_URI_TOO_LONG: { httpStatus: 414, retryable: false },
  /** The ingress holds its maximum of open connections; retry shortly. HTTP 503. */
  E_TOO_MANY_CONNECTIONS: { httpStatus: 503, retryable: true },
  /**
   * The job's worker process died (a native crash, an OOM kill) while it ran this job alone: run alone after a
   * first such death took its batch with it, it killed its process again. Not retried. HTTP 500.
   */
  E_WORKER_CRASH: { httpStatus: 500, retryable: false },
  /**
   * The text a typography render would draw holds characters no font of the lane covers (they would come out as
   * empty boxes); `details.characters` lists them. Nothing was enqueued. HTTP 422.
   */
  E_FONT_COVERAGE: { httpStatus: 422, retryable: false },
  /** The lane already has a canary running or paused: abort or promote it before starting another. HTTP 409. */
  E_CANARY_CONFLICT: { httpStatus: 409, retryable: false },
  /**
   * The typography fonts do not resolve in this worker (text drawn with them does not read back: boxes or another
   * font); a worker refuses to start with it, and a job fails with it instead of E_TEXT_CHECK. Retryable: it is
   * the worker's fault, not the job's, and another worker may draw it. HTTP 500.
   */
  E_FONT: { httpStatus: 500, retryable: true },
} as const satisfies Record<string, { httpStatus: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export interface FleetErrorOptions {
  /** The request path at fault, dot-separated (`account.tier`, `text.content`). */
  field?: string;
  /** The error being wrapped. Its message is kept intact there, never edited. */
  cause?: unknown;
  /** Extra machine-readable detail for the response body. */
  details?: Record<string, unknown>;
}

/** Base of every coded error. `code` is stable; `message` says what to do about it. */
export class FleetError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: FleetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FleetError';
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  /** The JSON body the ingress answers with: `{ error: { code, message, field? } }`. */
  toJSON(): { error: { code: ErrorCode; message: string; field?: string } & Record<string, unknown> } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        ...this.details,
      },
    };
  }
}

export class ValidationError extends FleetError {
  constructor(message: string, field: string, options: Omit<FleetErrorOptions, 'field'> = {}) {
    super('E_VALIDATION', message, { ...options, field });
    this.name = 'ValidationError';
  }
}

export class BackpressureError extends FleetError {
  readonly retryAfterSeconds: number;
  constructor(lane: string, waiting: number, maxWaiting: number, retryAfterSeconds: number) {
    super(
      'E_BACKPRESSURE',
      `lane ${lane} has ${waiting} jobs waiting (max ${maxWaiting}); retry after ${retryAfterSeconds} s`,
      { details: { lane, retryAfterSeconds } },
    );
    this.name = 'BackpressureError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface RedisUnavailableContext {
  /** The Redis that did not answer, passwords already redacted (`redactRedisUrl`). */
  target?: string;
  /** What was being done, for the reader: `enqueueing the request`, `reading the active policy`. */
  doing?: string;
  /** True only when it is known that nothing was enqueued (the message then says so). @default false */
  notEnqueued?: boolean;
}

/** Redis did not answer. The message names the Redis and what was being done; it says "not enqueued" only when that is known. */
export class RedisUnavailableError extends FleetError {
  constructor(cause?: unknown, context: RedisUnavailableContext = {}) {
    const where = context.target === undefined ? 'Redis' : `Redis at ${context.target}`;
    const doing = context.doing === undefined ? '' : ` while ${context.doing}`;
    const outcome = context.notEnqueued ? '; the request was not enqueued' : '';
    super('E_REDIS_UNAVAILABLE', `${where} did not answer${doing}${outcome}; retry shortly`, { cause });
    this.name = 'RedisUnavailableError';
  }
}

/** A configuration value is invalid; `field` names it (`FLEET_PORT`, `--gpus`, `tokens.2.accounts`). */
export class ConfigError extends FleetError {
  constructor(message: string, field?: string, options: Omit<FleetErrorOptions, 'field'> = {}) {
    super('E_CONFIG', message, { ...options, ...(field === undefined ? {} : { field }) });
    this.name = 'ConfigError';
  }
}

export class NotFoundError extends FleetError {
  constructor(what: string) {
    super('E_NOT_FOUND', `${what} not found`);
    this.name = 'NotFoundError';
  }
}

export function isFleetError(error: unknown): error is FleetError {
  return error instanceof FleetError;
}

/** The code of any error: its own when it carries a catalogue code, else E_INTERNAL. */
export function errorCodeOf(error: unknown): ErrorCode {
  if (error instanceof FleetError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? code : 'E_INTERNAL';
}

/** The first error in `error`'s cause chain (itself included) that carries `code`. */
export function findErrorWithCode(error: unknown, code: ErrorCode): FleetError | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < MAX_CAUSE_DEPTH; depth++) {
    if (current instanceof FleetError && current.code === code) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The messages of an error and of its causes, joined with `: `, so a wrapper's context and the runtime's own
 * words both reach the reader (`unet/model.onnx failed while running: Non-zero status code …`). A cause whose
 * message the wrapper already quotes is not repeated.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < MAX_CAUSE_DEPTH; depth++) {
    const message = current instanceof Error ? current.message : typeof current === 'string' ? current : String(current);
    if (message !== '' && !parts.some((part) => part.includes(message))) parts.push(message);
    current = current instanceof Error || typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
  return parts.join(': ');
}

/** Cause chains are walked (and serialised) this deep at most: a cycle must not hang a failure path. */
export const MAX_CAUSE_DEPTH = 8;

/**
 * BullMQ keeps only a failed job's message, so the code travels inside it: `[E_CODE] message`.
 * Workers fail jobs with `formatFailedReason`; the CLI and producer read codes back with `parseFailedReason`.
 */
export function formatFailedReason(code: ErrorCode, message: string): string {
  return `[${code}] ${message}`;
}

export function parseFailedReason(reason: string | undefined): { code: ErrorCode; message: string } {
  const match = /^\[(E_[A-Z_]+)\] ([\s\S]*)$/.exec(reason ?? '');
  if (match && isErrorCode(match[1])) return { code: match[1], message: match[2]! };
  return { code: 'E_INTERNAL', message: reason ?? 'unknown failure' };
}
