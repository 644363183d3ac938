import { ConfigError } from './errors.js';
import type { RedisTlsSettings } from './redis-connection.js';

/**
 * The one place environment variables are read. Everything else receives a `FleetConfig`.
 */
export interface FleetConfig {
  /**
   * Redis URL: `redis://[:password@]host:port`, `rediss://` for TLS, or `redis+cluster://host:port,host:port`
   * (`rediss+cluster://` with TLS) for a Redis Cluster. Env `REDIS_URL`. @default 'redis://127.0.0.1:6379'
   */
  redisUrl: string;
  /**
   * TLS for `rediss://` URLs: `caFile` from env `REDIS_TLS_CA_FILE` (PEM of the CA that signed the server
   * certificate); `rejectUnauthorized: false` when env `REDIS_TLS_INSECURE=1` (tests only).
   * @default { rejectUnauthorized: true } (system CAs, verified)
   */
  redisTls: RedisTlsSettings;
  /** Key prefix, so several fleets and test runs share one Redis. Env `FLEET_PREFIX`. @default 'fleet' */
  prefix: string;
  /** Artifact store URL: `file://DIR` or `s3://bucket/prefix`. Env `FLEET_STORE`. @default 'file://./renders' */
  storeUrl: string;
  /** Ingress bind address. Env `FLEET_HOST`. @default '127.0.0.1' (loopback unless told otherwise) */
  ingressHost: string;
  /** Ingress port. Env `FLEET_PORT`. @default 8080 */
  ingressPort: number;
  /** Bind address of a worker's `/metrics` server. Env `FLEET_METRICS_HOST`. @default '127.0.0.1' (loopback unless told otherwise) */
  metricsHost: string;
  /**
   * One bearer token the ingress requires, with every scope (any tier, any account, every job). Env `FLEET_TOKEN`.
   * Scoped tokens go in `tokensFile` instead. @default undefined (no token)
   */
  ingressToken: string | undefined;
  /**
   * A JSON file of scoped ingress tokens (see `producer/access-tokens.ts`: each token's name, the tiers it may
   * claim, the accounts it may act for, whether it may read every job). Env `FLEET_TOKENS_FILE`. @default undefined
   */
  tokensFile: string | undefined;
  /**
   * The secret job ids derived from idempotency keys are keyed with (HMAC-SHA256), shared by every ingress.
   * Env `FLEET_ID_SECRET`. @default undefined: one is made on first use and kept in Redis (`<prefix>:id-secret`)
   */
  idSecret: string | undefined;
  /** Where models live. Env `FLEET_MODELS`. @default './models' */
  modelsDir: string;
  /** pino level. Env `LOG_LEVEL`. @default 'info' */
  logLevel: string;
  /** Endpoint of an S3-compatible store (MinIO, s3rver). Env `FLEET_S3_ENDPOINT`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`. @default AWS */
  s3Endpoint: string | undefined;
  /** Env `AWS_REGION`, else `AWS_DEFAULT_REGION`. @default 'us-east-1' */
  s3Region: string;
  /**
   * TEST HOOK, never for production: a worker kills its own process when a batch holds a prompt containing this
   * (`FleetWorkerOptions.testHookCrashOnPrompt`). Env `FLEET_TEST_HOOK_CRASH_ON_PROMPT`. @default undefined (off)
   */
  testHookCrashOnPrompt: string | undefined;
}

export const CONFIG_DEFAULTS = {
  redisUrl: 'redis://127.0.0.1:6379',
  redisTls: { rejectUnauthorized: true },
  prefix: 'fleet',
  storeUrl: 'file://./renders',
  ingressHost: '127.0.0.1',
  ingressPort: 8080,
  metricsHost: '127.0.0.1',
  ingressToken: undefined,
  tokensFile: undefined,
  idSecret: undefined,
  modelsDir: './models',
  logLevel: 'info',
  s3Endpoint: undefined,
  s3Region: 'us-east-1',
  testHookCrashOnPrompt: undefined,
} satisfies FleetConfig;

/**
 * The configuration from the environment.
 * @throws ConfigError (`E_CONFIG`) naming the variable and what it must be, for a value that cannot be used.
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env): FleetConfig {
  const port = env.FLEET_PORT === undefined || env.FLEET_PORT === '' ? CONFIG_DEFAULTS.ingressPort : Number(env.FLEET_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || !/^\s*\d*\s*$/.test(env.FLEET_PORT ?? '')) {
    throw new ConfigError(`FLEET_PORT must be an integer 0–65535, got ${JSON.stringify(env.FLEET_PORT)}`, 'FLEET_PORT');
  }
  const prefix = env.FLEET_PREFIX || CONFIG_DEFAULTS.prefix;
  try {
    assertPrefix(prefix);
  } catch (error) {
    throw new ConfigError(`FLEET_PREFIX: ${(error as Error).message}`, 'FLEET_PREFIX');
  }
  if (env.LOG_LEVEL && !LOG_LEVELS.includes(env.LOG_LEVEL)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(env.LOG_LEVEL)}`, 'LOG_LEVEL');
  }
  return {
    redisUrl: env.REDIS_URL || CONFIG_DEFAULTS.redisUrl,
    redisTls: {
      ...(env.REDIS_TLS_CA_FILE ? { caFile: env.REDIS_TLS_CA_FILE } : {}),
      rejectUnauthorized: !isTrue(env.REDIS_TLS_INSECURE),
    },
    prefix,
    storeUrl: env.FLEET_STORE || CONFIG_DEFAULTS.storeUrl,
    ingressHost: env.FLEET_HOST || CONFIG_DEFAULTS.ingressHost,
    ingressPort: port,
    metricsHost: env.FLEET_METRICS_HOST || CONFIG_DEFAULTS.metricsHost,
    ingressToken: env.FLEET_TOKEN || undefined,
    tokensFile: env.FLEET_TOKENS_FILE || undefined,
    idSecret: env.FLEET_ID_SECRET || undefined,
    modelsDir: env.FLEET_MODELS || CONFIG_DEFAULTS.modelsDir,
    logLevel: env.LOG_LEVEL || CONFIG_DEFAULTS.logLevel,
    s3Endpoint: env.FLEET_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined,
    s3Region: env.AWS_REGION || env.AWS_DEFAULT_REGION || CONFIG_DEFAULTS.s3Region,
    testHookCrashOnPrompt: env.FLEET_TEST_HOOK_CRASH_ON_PROMPT || undefined,
  };
}

/** pino's levels. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function isTrue(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

/** A prefix is 1–64 characters of [A-Za-z0-9_-] (it ends up inside Redis keys and hash tags). */
export function assertPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) {
    throw new RangeError(`prefix must be 1–64 characters of [A-Za-z0-9_-], got ${JSON.stringify(prefix)}`);
  }
}
