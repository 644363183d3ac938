// The chaos suite: a real local fleet (private Redis with AOF, s3rver behind a fault-injecting proxy,
// an ingress process and two or more worker processes) under steady load while faults are injected:
// worker kill -9 mid-batch (several times, each replaced), a Redis restart, S3 503 SlowDown for a while,
// and the Redis frozen for a few seconds under the ingress. Then every accepted job must be completed with
// exactly one stored artifact or failed with a code, none lost, and every refused request must have got a
// coded error. Then a job that kills its worker process (worker-crash-scenario.ts).
// Loopback only; bounded in time. Usage: npm run test:chaos [-- --jobs N --rate R --json]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startRedisServer } from '../../cli/local-redis.js';
import { createProducer } from '../../producer/index.js';
import { S3Store } from '../../workers/index.js';
import { S3_TEST_CREDENTIALS, startS3rver } from '../helpers/s3.js';
import { MODELS_DIR } from '../helpers/worker.js';
import { FaultProxy } from './fault-proxy.js';
import { runRedisFreezeScenario } from './redis-freeze-scenario.js';
import { runWorkerCrashScenario } from './worker-crash-scenario.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1500' },
    rate: { type: 'string', default: '40' },
    workers: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    'drain-timeout': { type: 'string', default: '300' },
    'freeze-requests': { type: 'string', default: '500' },
    'skip-freeze': { type: 'boolean', default: false },
    'crash-jobs': { type: 'string', default: '60' },
    'skip-worker-crash': { type: 'boolean', default: false },
  },
});
const JOBS = Number(args.jobs);
const RATE = Number(args.rate);
const WORKERS = Math.max(2, Number(args.workers));
const say = (message: string) => process.stderr.write(`chaos: ${message}\n`);
/** Synchronous, so nothing is lost to process.exit on a pipe. */
const print = (line: string) => writeSync(1, `${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FLEET_BIN = new URL('../../bin/fleet.js', import.meta.url).pathname;

const work = mkdtempSync(join(tmpdir(), 'fleet-chaos-'));
const redisDir = join(work, 'redis');
const prefix = 'chaos';
const bucket = 'chaos';
const children = new Set<ChildProcess>();
const completions = new Map<string, number>();
mkdirSync(redisDir, { recursive: true });
let redis = await startRedisServer({ dir: redisDir, args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] });
const redisPort = redis.port;
const redisUrl = redis.url;
const s3 = await startS3rver(bucket);
const proxy = new FaultProxy(new URL(s3.endpoint));
const proxyUrl = await proxy.start();
const faults: string[] = [];

function spawnFleet(fleetArgs: string[]): ChildProcess {
  const child = spawn(process.execPath, [FLEET_BIN, ...fleetArgs], {
    env: { ...process.env, FLEET_S3_ENDPOINT: proxyUrl, AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1', LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      // Each job's "job completed" line is at debug level (the batch's info line names its jobs).
      if (!line.includes('"job completed"')) continue;
      const id = /"jobId":"([^"]+)"/.exec(line)?.[1];
      if (id) completions.set(id, (completions.get(id) ?? 0) + 1);
    }
  });
  child.stderr!.on('data', () => {});
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function startWorker(): ChildProcess {
  return spawnFleet([
    'worker', '--redis', redisUrl, '--prefix', prefix, '--lanes', 'flash', '--store', `s3://${bucket}/renders`, '--models', MODELS_DIR,
    '--metrics-port', '0', '--lock-duration', '4000', '--shutdown-timeout', '10',
  ]);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await sleep(100);
  }
}

const ingressPort = await freePort();
spawnFleet(['ingress', '--redis', redisUrl, '--prefix', prefix, '--port', String(ingressPort)]);
const workers: ChildProcess[] = [];
for (let i = 0; i < WORKERS; i++) workers.push(startWorker());
await waitForHttp(`http://127.0.0.1:${ingressPort}/healthz`, 30_000);
await sleep(3000); // workers load their models

type Outcome = { kind: 'accepted'; id: string } | { kind: 'refused'; status: number; code: string | undefined } | { kind: 'unanswered'; error: string };
const outcomes: Outcome[] = [];

async function send(i: number): Promise<void> {
  const body = JSON.stringify({
    prompt: `chaos preview ${i % 97}, watercolor`,
    seed: i,
    width: 256,
    height: 256,
    idempotencyKey: `chaos-${i}`,
    account: { id: `acct-${i % 50}`, tier: (['free', 'pro', 'enterprise'] as const)[i % 3] },
  });
  try {
    const response = await fetch(`http://127.0.0.1:${ingressPort}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(15_000) });
    const payload = (await response.json()) as { id?: string; error?: { code?: string } };
    if (response.status === 202 && payload.id) outcomes.push({ kind: 'accepted', id: payload.id });
    else outcomes.push({ kind: 'refused', status: response.status, code: payload.error?.code });
  } catch (error) {
    outcomes.push({ kind: 'unanswered', error: String(error) });
  }
}

async function injectFaults(loadMs: number): Promise<void> {
  const at = (fraction: number) => sleep(Math.max(0, fraction * loadMs));
  const started = Date.now();
  const until = async (fraction: number) => at(fraction - (Date.now() - started) / loadMs);
  for (const [fraction, action] of [
    [0.1, 'kill'],
    [0.25, 'slowdown'],
    [0.35, 'kill'],
    [0.5, 'restart-redis'],
    [0.65, 'kill'],
    [0.8, 'freeze-redis'],
  ] as const) {
    await until(fraction);
    if (action === 'kill') {
      const victim = workers.shift()!;
      victim.kill('SIGKILL');
      workers.push(startWorker());
      faults.push(`kill -9 worker pid ${victim.pid} at ${((Date.now() - started) / 1000).toFixed(1)} s, replacement started`);
    } else if (action === 'slowdown') {
      proxy.slowDownFor(4000);
      faults.push(`S3 503 SlowDown for 4 s at ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } else if (action === 'restart-redis') {
      const downAt = Date.now();
      await redis.stop();
      await sleep(1500);
      redis = await startRedisServer({ port: redisPort, dir: redisDir, args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] });
      faults.push(`Redis restarted (AOF everysec) at ${((downAt - started) / 1000).toFixed(1)} s, down ${((Date.now() - downAt) / 1000).toFixed(1)} s`);
    } else {
      process.kill(redis.process.pid!, 'SIGSTOP');
      await sleep(4000);
      process.kill(redis.process.pid!, 'SIGCONT');
      faults.push(`Redis frozen (SIGSTOP) 4 s under the ingress at ${((Date.now() - started) / 1000 - 4).toFixed(1)} s`);
    }
    say(faults.at(-1)!);
  }
}

let exitCode = 1;
try {
  const loadMs = (JOBS / RATE) * 1000;
  say(`load: ${JOBS} requests at ${RATE}/s through the ingress; ${WORKERS} workers; faults during the load`);
  const faulting = injectFaults(loadMs);
  const inFlight: Array<Promise<void>> = [];
  const started = Date.now();
  for (let i = 0; i < JOBS; i++) {
    const due = started + (i * 1000) / RATE;
    if (due > Date.now()) await sleep(due - Date.now());
    inFlight.push(send(i));
  }
  await Promise.all(inFlight);
  await faulting;

  const accepted = outcomes.filter((o): o is Extract<Outcome, { kind: 'accepted' }> => o.kind === 'accepted');
  const producer = createProducer({ redis: redisUrl, prefix });
  await producer.ready(10_000);
  const final = new Map<string, { state: string; code?: string }>();
  const deadline = Date.now() + Number(args['drain-timeout']) * 1000;
  let pending = [...new Set(accepted.map((a) => a.id))];
  say(`load done: ${accepted.length} accepted; waiting for the fleet to finish them`);
  while (pending.length > 0 && Date.now() < deadline) {
    const views = await Promise.all(pending.map((id) => producer.getJob(id).catch(() => undefined)));
    pending = pending.filter((id, i) => {
      const view = views[i];
      if (view && (view.state === 'completed' || view.state === 'failed')) {
        final.set(id, { state: view.state, ...(view.error ? { code: view.error.code } : {}) });
        return false;
      }
      return true;
    });
    if (pending.length > 0) await sleep(1000);
  }
  await producer.close();

  const store = new S3Store({ bucket, prefix: 'renders', endpoint: s3.endpoint, credentials: S3_TEST_CREDENTIALS });
  const keys = await store.list('flash/');
  await store.close();
  const imagesByJob = new Map<string, number>();
  for (const key of keys) {
    const match = /^flash\/(.+)\.(png|webp)$/.exec(key);
    if (match && !match[1]!.endsWith('.thumb')) imagesByJob.set(match[1]!, (imagesByJob.get(match[1]!) ?? 0) + 1);
  }
  const completed = [...final].filter(([, v]) => v.state === 'completed');
  const failed = [...final].filter(([, v]) => v.state === 'failed');
  const missingArtifact = completed.filter(([id]) => imagesByJob.get(id) !== 1).length;
  const failedWithoutCode = failed.filter(([, v]) => !v.code).length;
  const duplicateArtifacts = [...imagesByJob.values()].filter((n) => n > 1).length;
  const refused = outcomes.filter((o) => o.kind === 'refused') as Array<Extract<Outcome, { kind: 'refused' }>>;
  const refusedWithoutCode = refused.filter((r) => !r.code).length;
  const unanswered = outcomes.filter((o) => o.kind === 'unanswered').length;
  const ranTwice = [...completions.values()].filter((n) => n > 1).length;
  const summary = {
    requests: outcomes.length,
    accepted: accepted.length,
    completed: completed.length,
    failed: failed.length,
    lost: pending.length,
    duplicateArtifacts,
    missingArtifacts: missingArtifact,
    failedWithoutCode,
    failedCodes: countBy(failed.map(([, v]) => v.code ?? '(none)')),
    refused: refused.length,
    refusedCodes: countBy(refused.map((r) => `${r.status} ${r.code}`)),
    refusedWithoutCode,
    unanswered,
    completedTwiceSameArtifact: ranTwice,
    s3SlowDownAnswers: proxy.refused,
    faults,
  };
  const ok = summary.lost === 0 && duplicateArtifacts === 0 && missingArtifact === 0 && failedWithoutCode === 0 && refusedWithoutCode === 0 && unanswered === 0 && accepted.length > 0;
  if (args.json) print(JSON.stringify({ ok, ...summary }));
  else {
    for (const fault of faults) print(`fault: ${fault}`);
    print(`refused: ${JSON.stringify(summary.refusedCodes)}; S3 SlowDown answers: ${proxy.refused}; jobs run twice (same artifact key): ${ranTwice}`);
    print(
      `chaos ${ok ? 'passed' : 'FAILED'}: accepted ${summary.accepted}, completed ${summary.completed}, failed ${summary.failed} ${JSON.stringify(summary.failedCodes)}, lost ${summary.lost}, duplicate artifacts ${duplicateArtifacts}, missing artifacts ${missingArtifact}, refused ${summary.refused} (without a code: ${refusedWithoutCode}), unanswered ${unanswered}`,
    );
  }
  exitCode = ok ? 0 : 1;
} catch (error) {
  say(`run failed: ${(error as Error).stack ?? error}`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  await proxy.stop();
  await s3.stop();
  await redis.stop().catch(() => {});
  rmSync(work, { recursive: true, force: true });
}

// ---- Scenario: requests WITHOUT idempotency keys while Redis is frozen (issue 18, defect 1) ----
// Its own private Redis and ingress process (redis-freeze-scenario.ts); every answer is counted against what Redis
// holds afterwards: no job may sit behind a 503 that said "not enqueued".
if (!args['skip-freeze']) {
  try {
    const freeze = await runRedisFreezeScenario({ requests: Number(args['freeze-requests']), rate: 100, freezeAtSeconds: 2.5, freezeForSeconds: 5, say });
    if (args.json) print(JSON.stringify({ scenario: 'redis-freeze-without-keys', ...freeze }));
    else {
      print(
        `freeze ${freeze.ok ? 'passed' : 'FAILED'}: ${freeze.requests} requests without idempotency keys, Redis frozen 5 s; answers ${JSON.stringify(freeze.answers)}; jobs in Redis ${freeze.jobsInRedis}; ` +
          `enqueued behind a "not enqueued" 503: ${freeze.enqueuedBehindNotEnqueued}; 202 not in Redis: ${freeze.acceptedMissing}; outcome unknown then found: ${freeze.unknownThenFound}; uncoded ${freeze.uncoded}, unanswered ${freeze.unanswered}`,
      );
    }
    if (!freeze.ok) exitCode = 1;
  } catch (error) {
    say(`freeze scenario failed to run: ${(error as Error).stack ?? error}`);
    exitCode = 1;
  }
}
// ---- Scenario: a job that kills its worker process (issue 18, defect 2) ----
// Its own private Redis and worker processes (worker-crash-scenario.ts), each replaced when it dies: the poison
// jobs fail E_WORKER_CRASH, their batch-mates and every other job complete.
if (!args['skip-worker-crash']) {
  try {
    const crash = await runWorkerCrashScenario({ jobs: Number(args['crash-jobs']), poison: 2, workers: 2, say });
    if (args.json) print(JSON.stringify({ scenario: 'worker-killed-by-its-job', ...crash }));
    else {
      print(
        `worker crash ${crash.ok ? 'passed' : 'FAILED'}: ${crash.jobs} jobs, ${crash.poison} of them kill their worker; worker processes killed ${crash.workerDeaths}; ` +
          `poison failed E_WORKER_CRASH ${crash.poisonFailedWorkerCrash}/${crash.poison}; others completed ${crash.othersCompleted}/${crash.jobs - crash.poison}, failed ${JSON.stringify(crash.othersFailed)}; lost ${crash.lost}`,
      );
    }
    if (!crash.ok) exitCode = 1;
  } catch (error) {
    say(`worker crash scenario failed to run: ${(error as Error).stack ?? error}`);
    exitCode = 1;
  }
}
process.exit(exitCode);

/** How many times each value occurs, for the summary line. */
function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
