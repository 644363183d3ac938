/**
 * The one place environment variables are read. Everything else receives a `FleetConfig`.
 */
export interface FleetConfig {
  /** Redis URL (`redis://`, `rediss://` for TLS, with password if any). Env `REDIS_URL`. @default 'redis://127.0.0.1:6379' */
  redisUrl: string;
  /** Key prefix, so several fleets and test runs share one Redis. Env `FLEET_PREFIX`. @default 'fleet' */
  prefix: string;
  /** Artifact store URL: `file://DIR` or `s3://bucket/prefix`. Env `FLEET_STORE`. @default 'file://./renders' */
  storeUrl: string;
  /** Ingress bind address. Env `FLEET_HOST`. @default '127.0.0.1' (loopback unless told otherwise) */
  ingressHost: string;
  /** Ingress port. Env `FLEET_PORT`. @default 8080 */
  ingressPort: number;
  /** Optional bearer token the ingress requires. Env `FLEET_TOKEN`. @default undefined (no token) */
  ingressToken: string | undefined;
  /** Where models live. Env `FLEET_MODELS`. @default './models' */
  modelsDir: string;
  /** pino level. Env `LOG_LEVEL`. @default 'info' */
  logLevel: string;
}

export const CONFIG_DEFAULTS = {
  redisUrl: 'redis://127.0.0.1:6379',
  prefix: 'fleet',
  storeUrl: 'file://./renders',
  ingressHost: '127.0.0.1',
  ingressPort: 8080,
  ingressToken: undefined,
  modelsDir: './models',
  logLevel: 'info',
} satisfies FleetConfig;

export function readConfig(env: NodeJS.ProcessEnv = process.env): FleetConfig {
  const port = env.FLEET_PORT === undefined ? CONFIG_DEFAULTS.ingressPort : Number(env.FLEET_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`FLEET_PORT must be an integer 0–65535, got ${env.FLEET_PORT}`);
  }
  const prefix = env.FLEET_PREFIX || CONFIG_DEFAULTS.prefix;
  assertPrefix(prefix);
  return {
    redisUrl: env.REDIS_URL || CONFIG_DEFAULTS.redisUrl,
    prefix,
    storeUrl: env.FLEET_STORE || CONFIG_DEFAULTS.storeUrl,
    ingressHost: env.FLEET_HOST || CONFIG_DEFAULTS.ingressHost,
    ingressPort: port,
    ingressToken: env.FLEET_TOKEN || undefined,
    modelsDir: env.FLEET_MODELS || CONFIG_DEFAULTS.modelsDir,
    logLevel: env.LOG_LEVEL || CONFIG_DEFAULTS.logLevel,
  };
}

/** A prefix is 1–64 characters of [A-Za-z0-9_-] (it ends up inside Redis keys and hash tags). */
export function assertPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) {
    throw new RangeError(`prefix must be 1–64 characters of [A-Za-z0-9_-], got ${JSON.stringify(prefix)}`);
  }
}
