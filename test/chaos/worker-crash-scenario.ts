// The chaos suite's worker-crash scenario (issue 18, defect 2): worker processes on a private Redis, each replaced
// when it dies (as `fleet up` or systemd would), take a load in which a few jobs kill their worker process mid-batch
// (the test hook FLEET_TEST_HOOK_CRASH_ON_PROMPT: SIGKILL, as a native crash or an OOM kill). The promise checked:
// each such job fails E_WORKER_CRASH, every other job completes (its batch-mates included), none is lost.
// Run alone: node --import tsx test/chaos/worker-crash-scenario.ts [--jobs 60 --poison 2 --workers 2]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedisServer } from '../../cli/local-redis.js';
import { createProducer } from '../../producer/index.js';
import { MODELS_DIR } from '../helpers/worker.js';

export interface WorkerCrashScenarioOptions {
  /** Jobs in all, the poison ones included. */
  jobs: number;
  /** Jobs among them that kill their worker. */
  poison: number;
  /** Worker processes kept running. */
  workers: number;
  /** How long the fleet gets to finish every job, ms. @default 240000 */
  drainTimeoutMs?: number;
  say?: (message: string) => void;
}

export interface WorkerCrashScenarioCounts {
  jobs: number;
  poison: number;
  /** Worker processes killed by their job (each replaced). */
  workerDeaths: number;
  /** Poison jobs that failed E_WORKER_CRASH: must be all of them. */
  poisonFailedWorkerCrash: number;
  /** Jobs that were not poison and completed: must be all of them. */
  othersCompleted: number;
  /** Jobs that were not poison and failed, by code: must be none. */
  othersFailed: Record<string, number>;
  /** Jobs neither completed nor failed when the drain timed out: must be 0. */
  lost: number;
  ok: boolean;
}

const MARKER = 'CHAOS-CRASH-THE-WORKER';
const FLEET_BIN = fileURLToPath(new URL('../../bin/fleet.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runWorkerCrashScenario(options: WorkerCrashScenarioOptions): Promise<WorkerCrashScenarioCounts> {
  const say = options.say ?? (() => {});
  const redis = await startRedisServer();
  const renders = mkdtempSync(join(tmpdir(), 'fleet-chaos-crash-'));
  const prefix = 'crash';
  const children = new Set<ChildProcess>();
  let workerDeaths = 0;
  let stopping = false;
  const startWorker = (): void => {
    const child = spawn(
      process.execPath,
      [FLEET_BIN, 'worker', '--prefix', prefix, '--lanes', 'flash', '--store', `file://${renders}`, '--models', MODELS_DIR, '--metrics-port', '0', '--lock-duration', '2000'],
      { env: { ...process.env, REDIS_URL: redis.url, LOG_LEVEL: 'warn', FLEET_TEST_HOOK_CRASH_ON_PROMPT: MARKER }, stdio: 'ignore' },
    );
    children.add(child);
    child.on('exit', (_code, signal) => {
      children.delete(child);
      if (stopping) return;
      if (signal === 'SIGKILL') workerDeaths++;
      say(`worker pid ${child.pid} ended (${signal ?? 'exit'}); replacement started`);
      startWorker();
    });
  };
  const producer = createProducer({ redis: redis.url, prefix });
  try {
    await producer.ready(10_000);
    // Every few jobs one is poison, so it shares its batch (flash batches 4) with jobs that must survive it.
    const every = Math.max(1, Math.floor(options.jobs / Math.max(1, options.poison)));
    const poisonAt = new Set(Array.from({ length: options.poison }, (_, i) => i * every + Math.floor(every / 2)));
    const receipts = await Promise.all(
      Array.from({ length: options.jobs }, (_, i) =>
        producer.enqueue({ prompt: `${poisonAt.has(i) ? `${MARKER} ` : ''}chaos crash ${i}`, seed: i, width: 256, height: 256, account: { id: `acct-${i % 7}`, tier: 'pro' } }).then((r) => ({ id: r.id, poison: poisonAt.has(i) })),
      ),
    );
    say(`worker crash: ${options.jobs} jobs enqueued (${options.poison} kill their worker); starting ${options.workers} workers`);
    for (let i = 0; i < options.workers; i++) startWorker();

    const final = new Map<string, { state: string; code?: string }>();
    let pending = receipts.map((r) => r.id);
    for (const deadline = Date.now() + (options.drainTimeoutMs ?? 240_000); pending.length > 0 && Date.now() < deadline; ) {
      const views = await Promise.all(pending.map((id) => producer.getJob(id).catch(() => undefined)));
      pending = pending.filter((id, i) => {
        const view = views[i];
        if (view === undefined || (view.state !== 'completed' && view.state !== 'failed')) return true;
        final.set(id, { state: view.state, ...(view.error ? { code: view.error.code } : {}) });
        return false;
      });
      if (pending.length > 0) await sleep(500);
    }
    const poisonFailedWorkerCrash = receipts.filter((r) => r.poison && final.get(r.id)?.code === 'E_WORKER_CRASH').length;
    const others = receipts.filter((r) => !r.poison);
    const othersCompleted = others.filter((r) => final.get(r.id)?.state === 'completed').length;
    const othersFailed: Record<string, number> = {};
    for (const r of others) {
      const view = final.get(r.id);
      if (view?.state === 'failed') othersFailed[view.code ?? 'uncoded'] = (othersFailed[view.code ?? 'uncoded'] ?? 0) + 1;
    }
    return {
      jobs: options.jobs,
      poison: options.poison,
      workerDeaths,
      poisonFailedWorkerCrash,
      othersCompleted,
      othersFailed,
      lost: pending.length,
      ok: pending.length === 0 && poisonFailedWorkerCrash === options.poison && othersCompleted === others.length,
    };
  } finally {
    stopping = true;
    for (const child of children) child.kill('SIGKILL');
    await producer.close();
    await redis.stop().catch(() => {});
    rmSync(renders, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { jobs: { type: 'string', default: '60' }, poison: { type: 'string', default: '2' }, workers: { type: 'string', default: '2' } } });
  const counts = await runWorkerCrashScenario({ jobs: Number(values.jobs), poison: Number(values.poison), workers: Number(values.workers), say: (m) => process.stderr.write(`${m}\n`) });
  console.log(JSON.stringify(counts));
  process.exit(counts.ok ? 0 : 1);
}
