// The HTTP ingress under load: `POST /generate` requests/s and latency at several connection counts, against a bare
// fastify route doing the same `queue.add` with the same job options, on the same Redis in the same run. The load
// generator (autocannon) runs in a child process so it does not share the servers' event loop.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { createLogger, createMetricsRegistry, laneQueueName, laneQueuePrefix, LANES } from '../../contract/index.js';
import { createIngress, createProducer, PRODUCER_DEFAULTS, type Producer } from '../../producer/index.js';
import { benchPrefix, deletePrefix } from './bench-fleet.js';

const AUTOCANNON_BIN = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const run = promisify(execFile);

/** A preview request from the editor: routes to `flash` under the default policy. */
const REQUEST = { prompt: 'a quick preview of a logo on a mug', width: 512, height: 512, account: { id: 'acct-bench', tier: 'free' } };
const FREE_PRIORITY = 3;

export interface IngressBenchOptions {
  redisUrl: string;
  /** Connection counts, each measured against both servers. @default [16, 64, 256] */
  connections?: number[];
  /** Seconds per measurement. */
  durationS: number;
  /** The fixed arrival rate whose latency is stated, requests/s. @default 1000 */
  fixedRatePerS?: number;
  log: (line: string) => void;
}

export interface LoadFigures {
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers other than 202 (a refusal, a 5xx), and socket errors. */
  non202: number;
}

export interface IngressFigures {
  durationS: number;
  rows: Array<{ connections: number; fleet: LoadFigures; bare: LoadFigures; ratio: number }>;
  /** The lowest fleet / bare requests/s over the rows (the goal's figure). */
  ratio: number;
  fixedRate: { requestsPerS: number; connections: number; fleet: LoadFigures; bare: LoadFigures };
}

interface Server {
  url: string;
  close(): Promise<void>;
}

async function listen(app: { listen(options: { host: string; port: number }): Promise<unknown>; server: { address(): unknown } }): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number } | null;
  return `http://127.0.0.1:${address?.port ?? 0}`;
}

/** The fleet's ingress as `fleet ingress` runs it: info-level JSON logs (written to a sink), metrics, exact depth check. */
export async function startFleetIngress(redisUrl: string, prefix: string): Promise<Server & { producer: Producer }> {
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const producer = createProducer({ redis: redisUrl, prefix, maxWaiting: Object.fromEntries(LANES.map((lane) => [lane, 100_000_000])) });
  await producer.ready();
  const app = createIngress({ producer, registry: createMetricsRegistry({ role: 'ingress' }), logger: createLogger({ level: 'info', destination: sink }) });
  const url = await listen(app);
  return {
    url,
    producer,
    close: async () => {
      await app.close();
      await producer.close();
    },
  };
}

/** What an ingress must do at least: parse the body and add it to the lane's queue with the fleet's job options. */
async function startBareRoute(redisUrl: string, prefix: string): Promise<Server> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(laneQueueName('flash'), { connection, prefix: laneQueuePrefix(prefix, 'flash') });
  const app = Fastify();
  app.post('/generate', async (request, reply) => {
    const id = randomUUID();
    await queue.add('flash-v1', request.body, {
      jobId: id,
      priority: FREE_PRIORITY,
      attempts: PRODUCER_DEFAULTS.attempts,
      backoff: { type: 'exponential', delay: PRODUCER_DEFAULTS.backoffMs },
      removeOnComplete: { age: PRODUCER_DEFAULTS.keepCompletedSeconds },
      removeOnFail: { age: PRODUCER_DEFAULTS.keepFailedSeconds },
    });
    return reply.code(202).send({ id });
  });
  const url = await listen(app);
  return {
    url,
    close: async () => {
      await app.close();
      await queue.close();
      connection.disconnect();
    },
  };
}

export async function load(url: string, connections: number, durationS: number, ratePerS?: number): Promise<LoadFigures> {
  const args = [AUTOCANNON_BIN, '-j', '-n', '-m', 'POST', '-H', 'content-type=application/json', '-b', JSON.stringify(REQUEST), '-c', String(connections), '-d', String(durationS)];
  if (ratePerS !== undefined) args.push('-R', String(ratePerS));
  const { stdout } = await run(process.execPath, [...args, `${url}/generate`], { maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout) as { requests: { average: number; total: number }; latency: { p50: number; p99: number }; '2xx': number; non2xx: number; errors: number; timeouts: number; duration: number };
  return {
    requestsPerS: Math.round(result['2xx'] / result.duration),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non202: result.non2xx + result.errors + result.timeouts,
  };
}

/** One measurement on a fresh prefix (so a full queue of the last one costs this one nothing). */
async function measure(kind: 'fleet' | 'bare', options: IngressBenchOptions, connections: number, ratePerS?: number): Promise<LoadFigures> {
  const prefix = benchPrefix('ingress');
  const server = kind === 'fleet' ? await startFleetIngress(options.redisUrl, prefix) : await startBareRoute(options.redisUrl, prefix);
  try {
    // A short warm-up: connections, JIT and Redis scripts loaded before the measured seconds.
    await load(server.url, connections, 1);
    return await load(server.url, connections, options.durationS, ratePerS);
  } finally {
    await server.close();
    await deletePrefix(prefix, options.redisUrl);
  }
}

export async function runIngressBench(options: IngressBenchOptions): Promise<IngressFigures> {
  const rows: IngressFigures['rows'] = [];
  for (const [i, connections] of (options.connections ?? [16, 64, 256]).entries()) {
    // Alternating which goes first spreads the machine's drift over both.
    const order: Array<'fleet' | 'bare'> = i % 2 === 0 ? ['fleet', 'bare'] : ['bare', 'fleet'];
    const figures: Partial<Record<'fleet' | 'bare', LoadFigures>> = {};
    for (const kind of order) {
      options.log(`ingress: ${kind}, ${connections} connections, ${options.durationS} s`);
      figures[kind] = await measure(kind, options, connections);
    }
    rows.push({ connections, fleet: figures.fleet!, bare: figures.bare!, ratio: figures.fleet!.requestsPerS / figures.bare!.requestsPerS });
  }
  const rate = options.fixedRatePerS ?? 1000;
  const rateConnections = 64;
  options.log(`ingress: ${rate} requests/s over ${rateConnections} connections, fleet and bare`);
  const fleet = await measure('fleet', options, rateConnections, rate);
  const bare = await measure('bare', options, rateConnections, rate);
  return {
    durationS: options.durationS,
    rows,
    ratio: Math.min(...rows.map((row) => row.ratio)),
    fixedRate: { requestsPerS: rate, connections: rateConnections, fleet, bare },
  };
}

/** The ingress table for bench-report's Markdown. */
export function ingressMarkdown(figures: IngressFigures): string[] {
  const cell = (f: LoadFigures) => `${f.requestsPerS} | ${f.p50Ms} | ${f.p99Ms} | ${f.non202}`;
  return [
    `### Ingress: POST /generate against a bare fastify route doing the same queue.add (${figures.durationS} s each, autocannon in a child process)`,
    '',
    '| connections | fleet req/s | p50 ms | p99 ms | not 202 | bare req/s | p50 ms | p99 ms | not 202 | fleet / bare |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...figures.rows.map((row) => `| ${row.connections} | ${cell(row.fleet)} | ${cell(row.bare)} | ${row.ratio.toFixed(2)} |`),
    `| at ${figures.fixedRate.requestsPerS} req/s, ${figures.fixedRate.connections} connections | ${cell(figures.fixedRate.fleet)} | ${cell(figures.fixedRate.bare)} | |`,
    '',
  ];
}
