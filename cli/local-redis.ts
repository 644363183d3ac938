import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createRedisConnection, redactRedisUrl, waitForRedis, type RedisClient, type RedisTlsSettings } from '../contract/index.js';

export interface LocalRedis {
  /** The URL to use: the given one when it answered, else the private server's. */
  url: string;
  /** True when this process started a private redis-server. */
  started: boolean;
  /** Stops the private server (no-op when none was started). */
  stop(): Promise<void>;
}

/**
 * True when a Redis (or a Redis Cluster, for `redis+cluster://` URLs) answers PING at `url` within `timeoutMs`.
 * `tls` is used for `rediss://` URLs.
 */
export async function redisAnswers(url: string, timeoutMs = 1500, tls?: RedisTlsSettings): Promise<boolean> {
  let redis: RedisClient;
  try {
    redis = createRedisConnection(url, { role: 'request', connectionName: 'fleet-probe', ...(tls ? { tls } : {}) });
  } catch {
    return false;
  }
  redis.on('error', () => {});
  try {
    await waitForRedis(redis, timeoutMs);
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * A loopback port free to listen on, chosen outside the range the OS hands out for `listen(0)` and for outgoing
 * connections (Linux's `ip_local_port_range`). A private server's port then stays its own while the server is
 * down for a restart (a test's Redis outage): an ephemeral port can be taken meanwhile by any socket on the
 * machine, and a Redis of another test's answering there would pass for ours coming back. Below the range when
 * it leaves room above the registered services' ports, else above it, else (no room either side) any port.
 */
export async function freePort(): Promise<number> {
  const [low, high] = ephemeralPorts();
  const ranges: Array<[number, number]> = [
    [PRIVATE_PORTS_START, low],
    [high + 1, 65_536],
  ];
  const [from, to] = ranges.find(([a, b]) => b - a >= MIN_PRIVATE_PORTS) ?? [0, 0];
  for (let attempt = 0; to > from && attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if ((await listenOnce(port)) !== undefined) return port;
  }
  const port = await listenOnce(0);
  if (port === undefined) throw new Error('no free loopback port');
  return port;
}

/** Above the ports well-known services register. */
const PRIVATE_PORTS_START = 20_000;
/** Fewer ports than this outside the ephemeral range and random picks would collide between concurrent tests. */
const MIN_PRIVATE_PORTS = 1_000;

/** The OS's ephemeral port range, inclusive. */
function ephemeralPorts(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! > 0 && high! >= low!) return [low!, high!];
  } catch {
    // not Linux
  }
  return [49_152, 65_535]; // not Linux: the IANA range, macOS's and Windows' default
}

/** Listens on `port` (0: any) and closes again: the port it got, or undefined when that one is in use. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' || error.code === 'EACCES' ? resolve(undefined) : reject(error)));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

/** The `process_id` the Redis at `url` reports, or undefined when it cannot be asked. */
async function serverPid(url: string, tls: RedisTlsSettings | undefined): Promise<number | undefined> {
  const redis = createRedisConnection(url, { role: 'request', connectionName: 'fleet-probe', ...(tls ? { tls } : {}) });
  redis.on('error', () => {});
  try {
    await waitForRedis(redis, 1500);
    const match = /^process_id:(\d+)/m.exec(await redis.info('server'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface RedisServerOptions {
  port?: number;
  /** Extra redis-server arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  /** Data directory. @default a fresh temporary directory, removed on stop */
  dir?: string;
  /** Require this password (`--requirepass`); the returned URL carries it. @default none */
  password?: string;
  /**
   * Serve TLS only (`--port 0 --tls-port <port>`, clients not asked for certificates); the returned URL is
   * `rediss://`. PEM files. @default plain TCP
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export interface StartedRedisServer {
  /** `redis://[:password@]127.0.0.1:<port>`, or `rediss://…` with `tls`. */
  url: string;
  port: number;
  process: ChildProcess;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server on loopback and waits until it answers. A port chosen here can still be taken
 * before redis-server binds it (another process's server): it then tries another, where a given `port` fails.
 * `pickPort` chooses the port when none is given (tests inject a taken one).
 */
export async function startRedisServer(options: RedisServerOptions = {}, pickPort: () => Promise<number> = freePort): Promise<StartedRedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await pickPort());
    try {
      return await startRedisServerOn(port, options);
    } catch (error) {
      if (options.port !== undefined || attempt === 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function startRedisServerOn(port: number, options: RedisServerOptions): Promise<StartedRedisServer> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'fleet-redis-'));
  const listen = options.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.certFile, '--tls-key-file', options.tls.keyFile, '--tls-ca-cert-file', options.tls.caFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const auth = options.password === undefined ? [] : ['--requirepass', options.password];
  // Its log to a file, not a pipe nothing would read for the server's life; a failed start quotes it, and stderr,
  // where redis-server reports a bad argument before it opens its log.
  const logFile = join(dir, `redis-${port}.log`);
  const child = spawn('redis-server', [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', logFile, ...auth, ...(options.args ?? [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group, so a Ctrl-C meant for `fleet up` does not stop Redis before the workers drained.
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-1000)));
  const userinfo = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  const url = `${options.tls ? 'rediss' : 'redis'}://${userinfo}127.0.0.1:${port}`;
  const tls = options.tls ? { caFile: options.tls.caFile } : undefined;
  const deadline = Date.now() + 10_000;
  const fail = (error: Error) => {
    child.kill('SIGKILL');
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    return error;
  };
  while (!(await redisAnswers(url, 500, tls))) {
    if (child.exitCode !== null) {
      // 'exit' can come before the last of stderr.
      await Promise.race([new Promise((r) => child.once('close', r)), new Promise((r) => setTimeout(r, 500))]);
      const log = [stderr.trim().replace(/\s*\n\s*/g, ' | '), readLogTail(logFile)].filter((text) => text !== '').join(' | ');
      const message = `redis-server exited at start on port ${port} (exit ${child.exitCode})${log === '' ? '' : `: ${log}`}`;
      throw fail(/Address already in use/i.test(log) ? new PortTakenError(message) : new Error(message));
    }
    if (Date.now() > deadline) throw fail(new Error(`redis-server did not start on port ${port}`));
    await new Promise((r) => setTimeout(r, 50));
  }
  // What answers may be another process's server on that port, while ours failed to bind it.
  const pid = await serverPid(url, tls);
  if (pid !== child.pid) throw fail(new PortTakenError(`port ${port} is another Redis's (process ${pid ?? 'unknown'}), not the redis-server started here`));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  return { url, port, process: child, dir, stop };
}

/** The last lines redis-server logged, for an error message ('' when it wrote none). */
function readLogTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ').slice(-1000);
  } catch {
    return '';
  }
}

/**
 * Uses the Redis at `url` when it answers; otherwise starts a private redis-server when one is
 * installed; otherwise fails with a message saying how to get one.
 */
export async function ensureRedis(url: string, say: (message: string) => void, tls?: RedisTlsSettings): Promise<LocalRedis> {
  if (await redisAnswers(url, 1500, tls)) return { url, started: false, stop: async () => {} };
  if (!redisServerInstalled()) {
    throw new Error(
      `nothing answers at ${redactRedisUrl(url)} and redis-server is not installed. ` +
        'Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) ' +
        'or point REDIS_URL at a running Redis.',
    );
  }
  const server = await startRedisServer();
  say(`nothing answered at ${redactRedisUrl(url)}: started a private redis-server at ${server.url} (it stops with the fleet)`);
  return { url: server.url, started: true, stop: server.stop };
}

export interface RedisClusterOptions {
  /** Master nodes (no replicas). @default 3 */
  masters?: number;
  /** Extra redis-server arguments for every node. */
  args?: string[];
  /** Longest wait for the cluster to report `cluster_state:ok` on every node, ms. @default 20000 */
  timeoutMs?: number;
}

export interface StartedRedisCluster {
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…`, what `createRedisConnection` takes. */
  url: string;
  /** One plain `redis://127.0.0.1:P` URL per master, in port order. */
  nodeUrls: string[];
  ports: number[];
  dir: string;
  /** Stops every node and removes the data directory (safe to call twice, and after a failed start). */
  stop(): Promise<void>;
}

/**
 * Starts a private Redis Cluster on loopback (tests, local experiments): `masters` redis-servers with
 * `--cluster-enabled yes`, joined with `redis-cli --cluster create`, and waits until every node reports
 * `cluster_state:ok` with all 16384 slots assigned. Bus ports are chosen free (`--cluster-port`), not port+10000.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<StartedRedisCluster> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) throw new RangeError(`masters must be an integer >= 3 (Redis Cluster needs 3), got ${masters}`);
  const dir = mkdtempSync(join(tmpdir(), 'fleet-redis-cluster-'));
  const servers: StartedRedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop().catch(() => {})));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = await distinctFreePorts(masters * 2);
    for (let i = 0; i < masters; i++) {
      const port = ports[i]!;
      servers.push(
        await startRedisServer({
          port,
          dir,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(ports[masters + i]!), '--cluster-node-timeout', '5000', ...(options.args ?? [])],
        }),
      );
    }
    const nodePorts = ports.slice(0, masters);
    await runRedisCli(['--cluster', 'create', ...nodePorts.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitForClusterOk(servers.map((s) => s.url), options.timeoutMs ?? 20_000);
    return {
      url: `redis+cluster://${nodePorts.map((p) => `127.0.0.1:${p}`).join(',')}`,
      nodeUrls: servers.map((s) => s.url),
      ports: nodePorts,
      dir,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function runRedisCli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli ${args.join(' ')} exited ${code}: ${output.slice(-2000)}`))));
  });
}

async function waitForClusterOk(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const clients = urls.map((url) => new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false }));
  for (const client of clients) client.on('error', () => {});
  try {
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.cluster('INFO').catch(() => '')));
      if (infos.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info) && new RegExp(`cluster_known_nodes:${urls.length}\\b`).test(info))) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not ok after ${timeoutMs} ms: ${infos.map((i) => /cluster_state:\w+/.exec(i)?.[0]).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const client of clients) client.disconnect();
  }
}
