// The canary controller on real Redis with a real worker and real models: a model whose text encoder fails inside
// onnxruntime on 30 % of the prompts rolls back by itself at its first step, with the figures in the policy
// history; a healthy one walks every step to 100 %; a controller killed mid-canary (a real `fleet canary run`
// process, SIGKILL) is replaced by another that carries on from the same step and window.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createProducer, type Producer } from '../../producer/index.js';
import { BUCKETS, canaryBucket, CanaryController, CanaryStore, CompiledPolicy, figuresOf, PolicyStore, readModelCounts, startCanary, staticPolicySource, type CanaryState } from '../../router/index.js';
import { writePoisonedCopy, writeSmallFlashModel } from '../helpers/canary-models.js';
import { FLEET_BIN, waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';

const RULE = 'previews';
const CLEAN_PROMPTS = ['a red fox in the snow', 'a quiet harbour at dawn', 'a lighthouse on a cliff', 'a bowl of lemons', 'a city tram at night', 'a field of poppies', 'a violin on a chair'];
const POISON = 'a zebra';
/** Three prompts in ten carry the tokens the poisoned model fails on. */
const PROMPTS = [`${POISON} crossing a river`, `${POISON} at the zoo`, `${POISON} grazing`, ...CLEAN_PROMPTS];

/** Accounts whose bucket for the rule is at the top (on the canary from 5 %) and at the bottom (on the baseline until 50 %). */
function accounts(): { canarySide: string[]; baselineSide: string[] } {
  const canarySide: string[] = [];
  const baselineSide: string[] = [];
  for (let i = 0; canarySide.length < 10 || baselineSide.length < 10; i++) {
    const id = `acct-${i}`;
    const bucket = canaryBucket(id, RULE);
    if (bucket >= 0.95 * BUCKETS && canarySide.length < 10) canarySide.push(id);
    else if (bucket < 0.5 * BUCKETS && baselineSide.length < 10) baselineSide.push(id);
  }
  return { canarySide, baselineSide };
}

describe('canary controller: real models, real worker, real Redis', { concurrency: 1 }, () => {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const policies = new PolicyStore(redis, prefix);
  const canaries = new CanaryStore(redis, prefix);
  const { canarySide, baselineSide } = accounts();
  let modelsDir: string;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  let producer: Producer;
  const children: ChildProcess[] = [];
  let childErrors = '';

  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'fleet-canary-models-'));
    await writeSmallFlashModel(modelsDir, 'flash-base', 11);
    const good = await writeSmallFlashModel(modelsDir, 'flash-good', 12);
    await writePoisonedCopy(good, join(modelsDir, 'flash-bad'), POISON, CLEAN_PROMPTS);
    await policies.apply({ name: 'canary-test', typographicWords: [], rules: [{ id: RULE, lane: 'flash', model: 'flash-base' }] }, { comment: 'test baseline' });
    // One job per batch: a failing prompt never takes a healthy one down with it.
    fleet = await startTestWorker(prefix, { modelsDir, lanes: ['flash'], batching: { flash: { maxBatchSize: 1, maxLatencyMs: 5 } } });
    // A deterministic failure is still retried by default (E_INFERENCE is retryable): one attempt keeps the test short.
    producer = createProducer({ redis: REDIS_URL, prefix, attempts: 1 });
    await producer.ready();
    // Warm every model with experiment jobs (they count in no per-model series): a first load is not the model's latency.
    for (const model of ['flash-base', 'flash-good', 'flash-bad']) {
      const warm = createProducer({ redis: REDIS_URL, prefix, attempts: 1, policy: staticPolicySource(new CompiledPolicy({ name: 'warm', typographicWords: [], rules: [{ id: 'experiment:warm', lane: 'flash', model }] }, 0)) });
      const receipt = await warm.enqueue({ prompt: 'warm up', seed: 1, width: 64, height: 64, account: { id: 'warm', tier: 'pro' } });
      assert.equal((await warm.waitForResult(receipt.id, { timeoutMs: 30_000 })).state, 'completed');
      await warm.close();
    }
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await producer?.close();
    await fleet?.stop();
    redis.disconnect();
    await cleanupPrefix(prefix);
    await rm(modelsDir, { recursive: true, force: true });
  });

  /** Ten jobs from canary-side accounts and ten from baseline-side ones, the same prompts each; waits for all. */
  async function traffic(): Promise<void> {
    const receipts = await Promise.all(
      [...canarySide, ...baselineSide].map((id, i) => producer.enqueue({ prompt: PROMPTS[i % 10]!, seed: 100 + i, width: 64, height: 64, account: { id, tier: 'free' } })),
    );
    await Promise.all(receipts.map((r) => producer.waitForResult(r.id, { timeoutMs: 30_000 }).catch(() => undefined)));
  }

  /** Sends traffic until `done` holds. */
  async function trafficUntil(done: () => Promise<boolean>, what: string, limit = 60): Promise<void> {
    for (let round = 0; round < limit; round++) {
      if (await done()) return;
      await traffic();
    }
    throw new Error(`no ${what} after ${limit} rounds of traffic`);
  }

  const plan = { lane: 'flash' as const, steps: [5, 25, 50, 100], intervalMs: 300, gates: 'p95<=4x,errors<=5%,cost<=1.1x', minSamples: 10 };
  const controllerOptions = { redis, prefix, lane: 'flash' as const, pollIntervalMs: 100, leaseMs: 2000 };

  test('a model failing 30 % of its jobs is rolled back by itself at its first step, the figures in the policy history', async () => {
    const started = await startCanary(redis, prefix, { ...plan, model: 'flash-bad' }, 'test');
    assert.equal(started.plan.fromModel, 'flash-base');
    assert.deepEqual(started.ruleIds, [RULE]);
    const controller = new CanaryController(controllerOptions);
    const run = controller.run({ untilFinished: true });
    await trafficUntil(async () => (await canaries.get('flash'))?.status === 'rolled-back', 'rollback');
    const state = (await run)!;
    assert.equal(state.status, 'rolled-back');
    assert.deepEqual(state.decisions.map((d) => [d.action, d.sharePercent]), [['step', 5], ['rollback', 0]]);

    const history = await policies.history();
    const [step, rollback] = history.slice(-2);
    assert.match(step!.comment, /canary flash-bad on flash: step 1\/4: 5 %/);
    assert.match(rollback!.comment, /rolled back at 5 % \(step 1\/4\) to flash-base: errors<=5%: canary 0\.\d+ vs threshold 0\.05 .*FAILED/);
    const evidence = rollback!.evidence as { canary: { samples: number; errorRate: number; failedByCode: Record<string, number> }; baseline: { errorRate: number; samples: number }; gates: Array<{ gate: string; held: boolean | null }> };
    assert.ok(evidence.canary.samples >= 10, `decided over ${evidence.canary.samples} canary jobs`);
    // Failed jobs end sooner than rendered ones, so the first window over-represents them; over all its traffic the
    // model failed 3 jobs in 10.
    assert.ok(evidence.canary.errorRate >= 0.2, `canary error rate ${evidence.canary.errorRate} when decided`);
    // Workers add their counts to Redis once a second (LatencyRecorder): read them once a flush adds nothing more.
    const readOverall = async () => figuresOf(await readModelCounts(redis, prefix, 'flash', 'flash-bad', started.createdAt, Date.now()));
    let overall = await readOverall();
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const next = await readOverall();
      if (next.samples === overall.samples) break;
      overall = next;
    }
    assert.ok(overall.errorRate! >= 0.25 && overall.errorRate! <= 0.35, `flash-bad failed ${overall.failed} of ${overall.samples} jobs`);
    assert.ok((evidence.canary.failedByCode.E_INFERENCE ?? 0) > 0, 'failures by code: E_INFERENCE from onnxruntime');
    assert.equal(evidence.baseline.errorRate, 0, 'the baseline renders the same prompts');
    assert.equal(evidence.gates.find((g) => g.gate === 'errors<=5%')?.held, false);
    const rule = (await policies.active()).document.rules.find((r) => r.id === RULE)!;
    assert.deepEqual({ lane: rule.lane, model: rule.model, split: rule.split }, { lane: 'flash', model: 'flash-base', split: undefined }, 'all traffic back on the baseline');
  });

  test('a healthy model walks every step to 100 %, each step a policy version with its figures', async () => {
    const before = (await policies.history()).length;
    await startCanary(redis, prefix, { ...plan, model: 'flash-good' }, 'test');
    const run = new CanaryController(controllerOptions).run({ untilFinished: true });
    await trafficUntil(async () => (await canaries.get('flash'))?.status === 'promoted', 'promotion');
    const state = (await run)!;
    assert.deepEqual(state.decisions.map((d) => [d.action, d.sharePercent]), [['step', 5], ['step', 25], ['step', 50], ['promoted', 100]]);
    const steps = (await policies.history()).slice(before);
    assert.equal(steps.length, 4);
    assert.match(steps[3]!.comment, /promoted to 100 %, replacing flash-base \(every gate held at 50 %/);
    for (const activation of steps.slice(1)) {
      const evidence = activation.evidence as { canary: { samples: number; errorRate: number }; gates: Array<{ held: boolean | null }> };
      assert.ok(evidence.canary.samples >= 10 && evidence.canary.errorRate === 0 && evidence.gates.every((g) => g.held !== false), activation.comment);
    }
    const rule = (await policies.active()).document.rules.find((r) => r.id === RULE)!;
    assert.equal(rule.model, 'flash-good');
  });

  test('a controller killed mid-canary is replaced by one that carries on from the same step and window', async () => {
    // From flash-good back to flash-base, controlled by real `fleet canary run` processes.
    await policies.apply({ name: 'canary-test', typographicWords: [], rules: [{ id: RULE, lane: 'flash', model: 'flash-good' }] }, { comment: 'test baseline' });
    await assert.rejects(() => startCanary(redis, prefix, { ...plan, model: 'flash-good' }, 'test'), /already served by flash-good/);
    await startCanary(redis, prefix, { ...plan, model: 'flash-base', intervalMs: 1500 }, 'test');
    const runController = () => {
      const child = spawn(process.execPath, [FLEET_BIN, 'canary', 'run', '--lane', 'flash', '--prefix', prefix, '--redis', REDIS_URL, '--poll', '100ms', '--lease', '1s', '--until-finished'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
      children.push(child);
      child.stderr!.on('data', (d: Buffer) => (childErrors += d));
      return child;
    };
    const first = runController();
    // The CLI takes seconds to start on a busy machine: traffic goes on meanwhile (the baseline takes it all).
    await trafficUntil(async () => ((await canaries.get('flash'))?.step ?? -1) >= 1, `second step (controller stderr: ${childErrors})`, 200);
    assert.ok(await redis.get(canaries.key('flash', 'lock')), 'the first controller holds the lease');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const atKill = (await canaries.get('flash'))!;
    assert.equal(atKill.status, 'running', 'killed mid-canary');
    const versionsAtKill = (await policies.versions()).length;

    const second = runController();
    const exited = new Promise<number | null>((resolve) => second.once('exit', resolve));
    await trafficUntil(async () => (await canaries.get('flash'))?.status === 'promoted', `promotion after the restart (controller stderr: ${childErrors})`, 200);
    assert.equal(await exited, 0);
    const state = (await canaries.get('flash')) as CanaryState;
    const actions = state.decisions.map((d) => [d.action, d.sharePercent]);
    assert.deepEqual(actions, [['step', 5], ['step', 25], ['step', 50], ['promoted', 100]], 'no step applied twice, none skipped');
    const resumedStep = state.decisions[atKill.decisions.length]!;
    assert.equal(resumedStep.evidence?.window.fromMs, atKill.stepStartedAt, "the step after the restart was judged on the killed controller's window");
    assert.equal((await policies.versions()).length, versionsAtKill + (state.decisions.length - atKill.decisions.length), 'one policy version per decision after the restart');
  });

  test('people pause, resume, promote and abort: with no controller running the command takes effect at once', async () => {
    await policies.apply({ name: 'canary-test', typographicWords: [], rules: [{ id: RULE, lane: 'flash', model: 'flash-base' }] }, { comment: 'test baseline' });
    const controller = new CanaryController(controllerOptions);
    const command = async (name: 'pause' | 'resume' | 'abort' | 'promote') => {
      await canaries.pushCommand('flash', name, 'person@test');
      return (await controller.tickIfFree()).state!;
    };
    await startCanary(redis, prefix, { ...plan, model: 'flash-good' }, 'test');
    await assert.rejects(() => startCanary(redis, prefix, { ...plan, model: 'flash-bad' }, 'test'), { code: 'E_CANARY_CONFLICT' });
    assert.equal((await controller.tickIfFree()).state!.step, 0, 'the first tick applies the first step');
    assert.equal((await command('pause')).status, 'paused');
    const resumed = await command('resume');
    assert.equal(resumed.status, 'running');
    const promoted = await command('promote');
    assert.equal(promoted.status, 'promoted');
    assert.deepEqual(promoted.decisions.map((d) => d.action), ['step', 'pause', 'resume', 'promote']);
    assert.equal((await policies.active()).document.rules.find((r) => r.id === RULE)!.model, 'flash-good');

    await startCanary(redis, prefix, { ...plan, model: 'flash-base' }, 'test');
    await controller.tickIfFree();
    const aborted = await command('abort');
    assert.equal(aborted.status, 'aborted');
    assert.equal((await policies.active()).document.rules.find((r) => r.id === RULE)!.model, 'flash-good', 'back on the baseline');
    assert.match((await policies.history()).at(-1)!.comment, /aborted by person@test at 5 %, back to flash-good/);
  });
});
