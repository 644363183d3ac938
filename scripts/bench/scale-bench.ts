// Scale figures, printed and never asserted: Redis memory per waiting and per completed job, `fleet status` time as
// completed jobs pile up (it should stay flat), and ingress requests/s with 1, 2 and 4 ingress processes on one
// Redis. A private redis-server, so other clients' keys do not count in its memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { readFleetStatus } from '../../cli/fleet-status.js';
import { startRedisServer } from '../../cli/local-redis.js';
import { LANES } from '../../contract/index.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { LANE_BATCHING_DEFAULTS, type FleetWorker } from '../../workers/index.js';
import { benchPrefix, deletePrefix, inParallel, LaneCounter, startBenchWorker } from './bench-fleet.js';
import { load } from './ingress-bench.js';
import { MemoryStore } from './memory-store.js';
import { noopFinisher } from './noop-finisher.js';
import { loadNoopPipeline } from './noop-pipeline.js';

export interface ScaleBenchOptions {
  /** Completed jobs retained at which `fleet status` is timed, ascending. */
  completedSteps: number[];
  /** Jobs whose memory is measured while waiting. @default 10000 */
  waitingJobs?: number;
  /** Ingress process counts. @default [1, 2, 4] */
  ingressProcesses?: number[];
  ingressSeconds: number;
  modelsDir: string;
  log: (line: string) => void;
}

export interface ScaleFigures {
  waitingBytesPerJob: number;
  completedBytesPerJob: number;
  /** `fleet status` (5-minute window, every lane) with this many completed jobs retained: median of 5 reads, ms. */
  statusMs: Array<{ completedJobs: number; medianMs: number }>;
  /** Sum over the processes of 202s per second, 64 connections per process. */
  ingress: Array<{ processes: number; requestsPerS: number; p99Ms: number }>;
}

const NOOP_BATCHING = { maxBatchSize: 32, maxLatencyMs: 5, prefetchBatches: 2 } as const;

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function enqueue(producer: Producer, from: number, count: number): Promise<void> {
  await inParallel(count, 200, (i) => producer.enqueue({ prompt: `scale preview ${from + i}`, width: 64, height: 64, seed: from + i, account: { id: `a${(from + i) % 50}`, tier: 'pro' } }));
}

async function medianStatusMs(redis: Redis, prefix: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await readFleetStatus(redis, prefix, { lanes: LANES });
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[2]! * 10) / 10;
}

function startIngressProcess(redisUrl: string, prefix: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./ingress-process.ts', import.meta.url).pathname, redisUrl, prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const line = /^(\d+)\n/.exec(output);
      if (line) resolve({ child, url: `http://127.0.0.1:${line[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`an ingress process exited ${code} before listening`)));
  });
}

async function ingressScaling(redisUrl: string, processes: number, seconds: number): Promise<{ requestsPerS: number; p99Ms: number }> {
  const prefix = benchPrefix('scale-ingress');
  const children = await Promise.all(Array.from({ length: processes }, () => startIngressProcess(redisUrl, prefix)));
  try {
    await Promise.all(children.map(({ url }) => load(url, 64, 1)));
    const figures = await Promise.all(children.map(({ url }) => load(url, 64, seconds)));
    return { requestsPerS: figures.reduce((sum, f) => sum + f.requestsPerS, 0), p99Ms: Math.max(...figures.map((f) => f.p99Ms)) };
  } finally {
    for (const { child } of children) child.kill('SIGTERM');
    await deletePrefix(prefix, redisUrl);
  }
}

export async function runScaleBench(options: ScaleBenchOptions): Promise<ScaleFigures> {
  const server = await startRedisServer();
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const prefix = benchPrefix('scale');
  const producer = createProducer({ redis: server.url, prefix, maxWaiting: Object.fromEntries(LANES.map((lane) => [lane, 100_000_000])) });
  const store = new MemoryStore();
  const counter = new LaneCounter(prefix, ['flash'], server.url);
  let worker: FleetWorker | undefined;
  try {
    await producer.ready();
    const waitingJobs = options.waitingJobs ?? 10_000;
    const empty = await usedMemory(redis);
    await enqueue(producer, 0, waitingJobs);
    const waiting = await usedMemory(redis);
    options.log(`scale: ${waitingJobs} jobs waiting hold ${((waiting - empty) / waitingJobs).toFixed(0)} bytes each`);
    worker = await startBenchWorker(prefix, store, {
      redisUrl: server.url,
      lanes: ['flash'],
      modelsDir: options.modelsDir,
      batching: { flash: { ...LANE_BATCHING_DEFAULTS.flash, ...NOOP_BATCHING } },
      pipelineLoader: (entry) => loadNoopPipeline(entry, true),
      finisher: noopFinisher,
    });
    await counter.waitFor(waitingJobs, 600_000, 100);
    const completed = await usedMemory(redis);
    options.log(`scale: completed, ${((completed - empty) / waitingJobs).toFixed(0)} bytes each`);
    const statusMs: ScaleFigures['statusMs'] = [];
    let total = waitingJobs;
    for (const step of options.completedSteps) {
      if (step > total) {
        options.log(`scale: completing ${step - total} more jobs (to ${step})`);
        await enqueue(producer, total, step - total);
        await counter.waitFor(step, 3_600_000, 200);
        total = step;
      }
      statusMs.push({ completedJobs: total, medianMs: await medianStatusMs(redis, prefix) });
      options.log(`scale: fleet status with ${total} completed jobs: ${statusMs.at(-1)!.medianMs} ms`);
    }
    await worker.stop();
    worker = undefined;
    await deletePrefix(prefix, server.url);
    const ingress: ScaleFigures['ingress'] = [];
    for (const processes of options.ingressProcesses ?? [1, 2, 4]) {
      const figures = await ingressScaling(server.url, processes, options.ingressSeconds);
      ingress.push({ processes, ...figures });
      options.log(`scale: ${processes} ingress process(es): ${figures.requestsPerS} req/s, p99 ${figures.p99Ms} ms`);
    }
    return { waitingBytesPerJob: Math.round((waiting - empty) / waitingJobs), completedBytesPerJob: Math.round((completed - empty) / waitingJobs), statusMs, ingress };
  } finally {
    await worker?.stop();
    await counter.close();
    await producer.close();
    await store.close();
    redis.disconnect();
    await server.stop();
  }
}

export function scaleMarkdown(figures: ScaleFigures): string[] {
  return [
    '### Scale (printed, not goals; a private redis-server)',
    '',
    `Redis memory per job: ${figures.waitingBytesPerJob} bytes waiting, ${figures.completedBytesPerJob} bytes completed (job, result and indexes).`,
    '',
    '| completed jobs retained | fleet status, median ms |',
    '|---:|---:|',
    ...figures.statusMs.map((row) => `| ${row.completedJobs.toLocaleString('en-US')} | ${row.medianMs} |`),
    '',
    '| ingress processes | req/s (sum) | worst p99 ms |',
    '|---:|---:|---:|',
    ...figures.ingress.map((row) => `| ${row.processes} | ${row.requestsPerS} | ${row.p99Ms} |`),
    '',
  ];
}
