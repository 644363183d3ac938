import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to one Redis or to a Redis Cluster; BullMQ and the fleet's code take either. */
export type RedisClient = Redis | Cluster;

/**
 * How a connection behaves while Redis is away.
 * - `request`: fail fast (no offline queue), so the ingress answers 503 at once instead of hanging;
 *   ioredis keeps reconnecting in the background and the next request goes through.
 * - `worker`: wait and retry forever (BullMQ workers and blocking reads need `maxRetriesPerRequest: null`).
 */
export type RedisConnectionRole = 'request' | 'worker';

/** TLS settings for `rediss://` and `rediss+cluster://` URLs (ignored for plain `redis://`). */
export interface RedisTlsSettings {
  /** PEM file of the CA that signed the server certificate (a private CA or a self-signed cert). @default the system's CAs */
  caFile?: string;
  /** Verify the server certificate. Turn off only for tests against throwaway certificates. @default true */
  rejectUnauthorized?: boolean;
}

export interface RedisConnectionOptions {
  /** @default 'request' */
  role?: RedisConnectionRole;
  /** Name shown in `CLIENT LIST`. @default 'image-fleet' */
  connectionName?: string;
  /** Longest pause between reconnect attempts, ms. @default 2000 */
  maxReconnectDelayMs?: number;
  /** TLS settings, used when the URL is `rediss://` or `rediss+cluster://`. @default system CAs, verified */
  tls?: RedisTlsSettings;
}

/** What a Redis URL names: one server, or the seed nodes of a cluster. */
export interface ParsedRedisUrl {
  cluster: boolean;
  tls: boolean;
  nodes: Array<{ host: string; port: number }>;
  username: string | undefined;
  password: string | undefined;
}

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?(?:[?#].*)?$/i;

/**
 * Parses `redis+cluster://[[user]:password@]host:port[,host:port…]` (or `rediss+cluster://` for TLS):
 * the seed nodes of a Redis Cluster, any of which is enough to discover the rest. Other URLs are
 * single servers (`redis://`, `rediss://`) and are returned with `cluster: false`.
 */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const cluster = CLUSTER_URL.exec(url);
  if (cluster === null) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new RangeError(`Redis URL must be redis://, rediss://, redis+cluster:// or rediss+cluster://, got ${redactRedisUrl(url)}`);
    }
    return {
      cluster: false,
      tls: parsed.protocol === 'rediss:',
      nodes: [{ host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) }],
      username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    };
  }
  const [, scheme, userinfo, hosts] = cluster;
  const nodes = hosts!.split(',').map((entry) => {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(entry.trim());
    const port = Number(match?.[2] ?? 6379);
    if (match === null || port < 1 || port > 65535) throw new RangeError(`cluster URL ${redactRedisUrl(url)}: bad node ${JSON.stringify(entry)} (want host:port)`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
  const colon = userinfo?.indexOf(':') ?? -1;
  return {
    cluster: true,
    tls: scheme!.toLowerCase() === 'rediss',
    nodes,
    username: userinfo && colon > 0 ? decodeURIComponent(userinfo.slice(0, colon)) : undefined,
    password: userinfo === undefined || userinfo === '' ? undefined : decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(colon + 1)),
  };
}

/**
 * Opens an ioredis connection from a URL:
 * - `redis://[[user]:password@]host:port[/db]`, or `rediss://` for TLS: one server (an ioredis `Redis`);
 * - `redis+cluster://[[user]:password@]host:port,host:port,…`, or `rediss+cluster://`: a Redis Cluster
 *   (an ioredis `Cluster`); the nodes are seeds, the rest of the cluster is discovered. Fleet keys use hash
 *   tags (`{<prefix>:<lane>}`, `{<prefix>:policy}`) so whatever must be atomic shares a slot.
 * The password stays inside ioredis; use `redactRedisUrl()` before logging a URL.
 */
export function createRedisConnection(url: string, options: RedisConnectionOptions = {}): RedisClient {
  const parsed = parseRedisUrl(url);
  const tls = parsed.tls ? tlsOptions(options.tls) : undefined;
  const { node, cluster } = roleOptions(options.role ?? 'request', options);
  if (!parsed.cluster) return new Redis(url, { ...node, ...(tls ? { tls } : {}) });
  const redisOptions: RedisOptions = {
    ...node,
    ...(parsed.username === undefined ? {} : { username: parsed.username }),
    ...(parsed.password === undefined ? {} : { password: parsed.password }),
    ...(tls ? { tls } : {}),
  };
  return new Cluster(parsed.nodes, { ...cluster, redisOptions });
}

/**
 * A second connection like `client` (same server or cluster, credentials and TLS) for the given role:
 * subscribers and blocking readers (QueueEvents) need one of their own.
 */
export function duplicateRedisConnection(client: RedisClient, options: DuplicateConnectionOptions = {}): RedisClient {
  const { node, cluster } = roleOptions(options.role ?? 'worker', { ...options, connectionName: options.connectionName ?? connectionNameOf(client) });
  if (client instanceof Cluster) {
    return client.duplicate([], { ...cluster, redisOptions: { ...client.options.redisOptions, ...node, ...options.node } });
  }
  return client.duplicate({ ...node, ...options.node });
}

export interface DuplicateConnectionOptions extends Pick<RedisConnectionOptions, 'role' | 'connectionName' | 'maxReconnectDelayMs'> {
  /**
   * ioredis settings of the node connection beyond its role's, where a caller needs them fixed whatever the client
   * it copies was given (a copy keeps the original's otherwise). @default {} (the role's and the original's)
   */
  node?: Pick<RedisOptions, 'autoResendUnfulfilledCommands' | 'enableAutoPipelining'>;
}

/** True when `client` talks to a Redis Cluster. */
export function isRedisCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

function connectionNameOf(client: RedisClient): string | undefined {
  return client instanceof Cluster ? client.options.redisOptions?.connectionName : client.options.connectionName;
}

function roleOptions(role: RedisConnectionRole, options: RedisConnectionOptions): { node: RedisOptions; cluster: ClusterOptions } {
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  const retry = (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay);
  const node: RedisOptions = {
    connectionName: options.connectionName ?? 'image-fleet',
    lazyConnect: false,
    retryStrategy: retry,
    // A request connection also gives up on a command after 3 s, so a Redis that hangs (not just one that
    // is gone) is answered 503 too; worker connections block on purpose (BRPOPLPUSH, XREAD) and must not.
    // No auto-pipelining: the producer already sends one turn's admissions and adds as one command each
    // (`LaneAdmission`), and wrapping every other command in a pipeline of its own cost the ingress more CPU per
    // request than the writes it saved (bench/NOTES.md).
    ...(role === 'request'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 3000 }
      : { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined }),
  };
  const cluster: ClusterOptions = {
    lazyConnect: false,
    clusterRetryStrategy: retry,
    enableOfflineQueue: role !== 'request',
  };
  return { node, cluster };
}

function tlsOptions(settings: RedisTlsSettings = {}): NonNullable<RedisOptions['tls']> {
  return {
    ...(settings.caFile === undefined ? {} : { ca: readFileSync(settings.caFile) }),
    rejectUnauthorized: settings.rejectUnauthorized ?? true,
  };
}

/** The URL with any password replaced by `***`, fit for logs (cluster URLs too). */
export function redactRedisUrl(url: string): string {
  const cluster = CLUSTER_URL.exec(url);
  if (cluster !== null) {
    const [, scheme, userinfo, hosts] = cluster;
    if (userinfo === undefined || userinfo === '') return `${scheme}+cluster://${hosts}`;
    const colon = userinfo.indexOf(':');
    return `${scheme}+cluster://${colon > 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@${hosts}`;
  }
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.username && parsed.password === '') parsed.username = '***';
    return parsed.toString();
  } catch {
    return '<unparseable redis url>';
  }
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
