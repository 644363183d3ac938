import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redactRedisUrl } from '../contract/index.js';

export interface LocalRedis {
  /** The URL to use: the given one when it answered, else the private server's. */
  url: string;
  /** True when this process started a private redis-server. */
  started: boolean;
  /** Stops the private server (no-op when none was started). */
  stop(): Promise<void>;
}

/** True when a Redis answers PING at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
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
}

/** Starts a private redis-server on loopback and waits until it answers. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<{ url: string; port: number; process: ChildProcess; dir: string; stop(): Promise<void> }> {
  const port = options.port ?? (await freePort());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'fleet-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(url, 500))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
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

/**
 * Uses the Redis at `url` when it answers; otherwise starts a private redis-server when one is
 * installed; otherwise fails with a message saying how to get one.
 */
export async function ensureRedis(url: string, say: (message: string) => void): Promise<LocalRedis> {
  if (await redisAnswers(url)) return { url, started: false, stop: async () => {} };
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
