import type { Logger } from './logger.js';
import type { RedisClient } from './redis-connection.js';

/** A connection-level failure (Redis away, hanging or failing over), as opposed to an error Redis answered with. */
export function isConnectionError(error: unknown): boolean {
  const text = `${(error as Error)?.name ?? ''} ${(error as Error)?.message ?? ''}`;
  return /Connection is closed|Stream isn't writeable|isn't ready|MaxRetriesPerRequest|max retries per request|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|CLUSTERDOWN|LOADING|ClusterAllFailed|refresh slots cache|startup nodes|Command timed out|Connection timeout/i.test(text);
}

/**
 * Logs a Redis outage once, not once per reconnect attempt: the first connection error as one pino line (the
 * error's code and message, no stack: an outage is not a bug), then only a count, and one line when a connection
 * is back with how many errors the outage produced and how long it lasted. One per process, shared by its
 * connections.
 */
export class RedisOutageLog {
  private since: number | undefined;
  private errors = 0;

  /** @param target the Redis, password redacted (`redactRedisUrl`). */
  constructor(
    private readonly logger: Logger,
    private readonly target: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Follows a connection's `error` and `ready` events (and stands in for the no-op error listener ioredis needs). */
  watch(connection: RedisClient): RedisClient {
    connection.on('error', (error: unknown) => this.error(error));
    connection.on('ready', () => this.ready());
    return connection;
  }

  error(error: unknown): void {
    this.errors++;
    if (this.since !== undefined) return;
    this.since = this.now();
    const e = error as { code?: unknown; message?: unknown } | undefined;
    this.logger.warn({ redis: this.target, error: { code: e?.code, message: String(e?.message ?? error) } }, `Redis at ${this.target} unreachable; reconnecting (errors are counted until it is back)`);
  }

  ready(): void {
    if (this.since === undefined) return;
    this.logger.info({ redis: this.target, errors: this.errors, outageMs: this.now() - this.since }, `Redis at ${this.target} is back after ${this.errors} connection error(s)`);
    this.since = undefined;
    this.errors = 0;
  }

  /**
   * For errors that may or may not be the connection's (a BullMQ Worker's `error` event): a connection-level error,
   * or any error during an outage, is counted in the outage; any other is left to the caller (returns false).
   */
  connectionError(error: unknown): boolean {
    if (!this.inOutage && !isConnectionError(error)) return false;
    this.error(error);
    return true;
  }

  /** True between the first error and the next ready connection. */
  get inOutage(): boolean {
    return this.since !== undefined;
  }
}
