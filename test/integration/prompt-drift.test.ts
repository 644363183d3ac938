// Acceptance of issue 21: the recorded prompts (../shared/data/prompts.jsonl) replayed through the real ingress as
// the baseline, then a drifted set (long prompts, 40 % CJK text): `fleet drift` and /metrics flag exactly the
// features that moved, and the CJK typography requests get the coded refusal instead of an image of empty boxes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createMetricsRegistry, HOUR, MINUTE, parseGenerateRequest } from '../../contract/index.js';
import { DriftBaselineStore, driftCountsKey, PromptDriftMonitor, readDriftCounts, RequestFeatureCounter } from '../../producer/index.js';
import { CompiledPolicy, DRIFT_FEATURES, driftBinsOf, driftTotal, loadDefaultPolicy, PolicyStore, type DriftFeature } from '../../router/index.js';
import { driftCommand } from '../../cli/commands/drift-command.js';
import { runFleet, waitUntil } from '../helpers/fleet-cli.js';
import { startTestIngress } from '../helpers/ingress.js';
import { PROMPTS_MISSING, PROMPTS_PATH, readPrompts } from '../helpers/prompts.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';

const prompts = readPrompts();

/** `fleet drift …args --json` run in this process (the command's own code; a spawned `fleet` costs seconds of start-up). */
async function fleetDriftJson(args: string[]): Promise<any> {
  const printed: string[] = [];
  const log = console.log;
  console.log = (...values: unknown[]) => void printed.push(values.join(' '));
  try {
    await driftCommand().parseAsync([...args, '--redis', REDIS_URL, '--json'], { from: 'user' });
  } finally {
    console.log = log;
  }
  return JSON.parse(printed.join('\n'));
}

/** Added to every prompt of the drifted set: Latin, no quotes, none of the policy's typographic words. */
const LONG_TAIL =
  ', rendered with soft studio lighting, a balanced composition, gentle film grain, muted natural colours, high dynamic range, fine surface detail and a calm background that leaves room around the subject';
const CJK_TEXTS = ['夏日祭典', '東京タワー', '大売り出し', '新年快乐', '서울 축제'];

/**
 * The drifted set: every recorded request five times (so tier, intent, size and the other untouched features keep
 * their exact shares), each prompt lengthened, and a CJK `text` on 40 % of all requests (upscales cannot carry text).
 */
function driftedSet(records: NonNullable<typeof prompts>): Array<Record<string, unknown>> {
  const requests: Array<Record<string, unknown>> = [];
  let withCjk = 0;
  for (let i = 0; i < records.length * 5; i++) {
    const base = records[i % records.length]!.request;
    const request: Record<string, unknown> = { ...base, prompt: `${base.prompt as string}${LONG_TAIL}` };
    if (base.intent !== 'upscale' && withCjk < Math.round(0.4 * (i + 1))) {
      request.text = { content: CJK_TEXTS[withCjk % CJK_TEXTS.length] };
      withCjk++;
    }
    requests.push(request);
  }
  return requests;
}

/** What the drifted set moves, by construction: every prompt's length, and adding text moves the text's writing
 * system, the text field's presence, and with them the lane and rule the default policy picks. */
const MOVED: DriftFeature[] = ['lane', 'rule', 'promptLength', 'textScript', 'hasText'];

describe('prompt drift, through the real ingress', { skip: prompts === undefined ? PROMPTS_MISSING : false }, () => {
  const prefix = testPrefix();
  const started = Date.now();
  // The baseline traffic is replayed "90 minutes ago" on the ingress's clock; the drifted set now.
  let clock = started - 90 * MINUTE;
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;
  const drifted = driftedSet(prompts ?? []);
  const answers: Array<{ status: number; body: any }> = [];

  async function replay(requests: Array<Record<string, unknown>>): Promise<Array<{ status: number; body: any }>> {
    const out: Array<{ status: number; body: any }> = [];
    for (let i = 0; i < requests.length; i += 16) {
      const chunk = await Promise.all(requests.slice(i, i + 16).map(async (r) => {
        const response = await ingress.post('/generate', r);
        return { status: response.status, body: await response.json() };
      }));
      out.push(...chunk);
    }
    await ingress.producer.flushFeatureCounts();
    return out;
  }

  before(async () => {
    ingress = await startTestIngress({ redis: REDIS_URL, prefix, now: () => clock, ingress: { drift: { now: () => clock, intervalMs: 100 } } });
  });
  after(async () => {
    await ingress.close();
    await cleanupPrefix(prefix);
  });

  test('the ingress counts the replayed prompts as a file of the same requests reads: both baselines are equal', async () => {
    const replayed = await replay(prompts!.map((p) => p.request));
    assert.deepEqual(replayed.filter((a) => a.status !== 202), [], 'every recorded request is accepted');
    const fromTraffic = await fleetDriftJson(['baseline', 'save', '--window', '2h', '--name', 'replayed', '--prefix', prefix]);
    const fromFile = await fleetDriftJson(['baseline', 'save', '--from', PROMPTS_PATH, '--name', 'tested', '--prefix', prefix]);
    assert.equal(fromTraffic.requests, prompts!.length);
    assert.deepEqual(fromTraffic.counts, fromFile.counts);
    const list = await new DriftBaselineStore(ingress.producer.redis, prefix).list();
    assert.deepEqual([list.active, list.baselines.map((b) => b.name)], ['tested', ['replayed', 'tested']]);
  });

  test('the drifted set: every CJK typography request is refused with E_FONT_COVERAGE naming its characters, nothing of it enqueued', async () => {
    clock = Date.now();
    answers.push(...(await replay(drifted)));
    const cjk = drifted.map((r, i) => ({ r, a: answers[i]! })).filter(({ r }) => r.text !== undefined && CJK_TEXTS.includes((r.text as { content: string }).content));
    assert.equal(cjk.length, Math.round(0.4 * drifted.length));
    for (const { r, a } of cjk) {
      assert.equal(a.status, 422, JSON.stringify(a.body));
      assert.equal(a.body.error.code, 'E_FONT_COVERAGE');
      assert.equal(a.body.error.field, 'text.content');
      assert.deepEqual(a.body.error.characters, [...new Set([...(r.text as { content: string }).content.replace(/\s/g, '')])]);
    }
    const accepted = answers.filter((a) => a.status === 202);
    assert.equal(accepted.length, drifted.length - cjk.length);
    const typography = await ingress.producer.laneQueue('typography').getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    const typographyAccepted = accepted.filter((a) => a.body.lane === 'typography').length + prompts!.filter((p) => p.lane === 'typography').length;
    assert.equal(Object.values(typography).reduce((s, n) => s + n, 0), typographyAccepted);
  });

  test('`fleet drift` scores exactly the moved features as significant, the others stable, and draws their bars in 100 columns', async () => {
    const report = await fleetDriftJson(['--window', '30m', '--prefix', prefix]);
    assert.equal(report.baseline.name, 'tested');
    assert.equal(report.window.requests, drifted.length);
    const byFeature = new Map<string, { psi: number; verdict: string }>(report.features.map((f: { feature: string; psi: number; verdict: string }) => [f.feature, f]));
    assert.deepEqual(DRIFT_FEATURES.filter((f) => byFeature.get(f)!.verdict === 'significant'), MOVED);
    for (const feature of DRIFT_FEATURES.filter((f) => !MOVED.includes(f))) assert.ok(byFeature.get(feature)!.psi < 0.1, `${feature}: ${byFeature.get(feature)!.psi}`);
    const textScript = report.features.find((f: { feature: string }) => f.feature === 'textScript');
    assert.deepEqual(textScript.bins[0], { bin: 'cjk', baseline: 0, now: 0.4 });

    const text = await runFleet(['drift', '--window', '30m', '--prefix', prefix]);
    assert.equal(text.code, 0, text.stderr);
    for (const feature of MOVED) {
      assert.match(text.stdout, new RegExp(`^${feature} +\\d+\\.\\d{3}  significant$`, 'm'));
      assert.match(text.stdout, new RegExp(`^${feature}: PSI \\d+\\.\\d{3}, significant\\n +baseline +now\\n`, 'm'));
    }
    assert.match(text.stdout, /^ {2}cjk +0\.0% +40\.0% █{11}$/m);
    const wide = text.stdout.split('\n').filter((line) => [...line].length > 100);
    assert.deepEqual(wide, []);
  });

  test('/metrics: fleet_prompt_drift{feature} against the active baseline, over the threshold for the moved features only', async () => {
    const scores = async () => {
      const exposition = await (await ingress.get('/metrics')).text();
      return new Map([...exposition.matchAll(/^fleet_prompt_drift\{feature="(\w+)"[^}]*\} (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
    };
    await waitUntil('the drift gauges to score the drifted window', async () => ((await scores()).get('textScript') ?? 0) > 0.25, 10_000);
    const psi = await scores();
    assert.deepEqual(DRIFT_FEATURES.filter((f) => psi.get(f)! > 0.25), MOVED);
    assert.deepEqual(DRIFT_FEATURES.filter((f) => !(psi.get(f)! < 0.1)), MOVED);
    const exposition = await (await ingress.get('/metrics')).text();
    const requests = /^fleet_prompt_drift_window_requests\{[^}]*\} (\S+)$/m.exec(exposition);
    assert.equal(Number(requests?.[1]), drifted.length);
    const promtool = spawnSync('promtool', ['check', 'metrics'], { encoding: 'utf8', input: exposition });
    if (promtool.error === undefined) assert.equal(promtool.stdout + promtool.stderr, '', 'promtool check metrics on the exposition with drift scores');
  });
});

test('a policy rule on `script` routes CJK text away from the typography lane, and the ingress follows it', async () => {
  const prefix = testPrefix();
  const ingress = await startTestIngress({ redis: REDIS_URL, prefix });
  try {
    const policy = { name: 'cjk-elsewhere', rules: [{ id: 'cjk-text', when: { script: ['cjk'] }, lane: 'flash', model: 'flash-v1' }, { id: 'text', when: { hasText: true }, lane: 'typography', model: 'typography-v1' }, { id: 'rest', lane: 'flash', model: 'flash-v1' }] };
    await new PolicyStore(ingress.producer.redis, prefix).apply(policy, { author: 'test' });
    await waitUntil('the ingress to route with the new policy', async () => (await ingress.producer.route({ prompt: 'p', text: { content: '夏' }, account: { id: 'a', tier: 'pro' } })).rule === 'cjk-text', 5000);
    const cjk = await ingress.post('/generate', { prompt: 'festival poster', text: { content: '夏日祭典' }, account: { id: 'a', tier: 'pro' } });
    assert.equal(cjk.status, 202);
    const latin = await ingress.post('/generate', { prompt: 'poster', text: { content: 'SALE' }, account: { id: 'a', tier: 'pro' } });
    const lanes = [((await cjk.json()) as { lane: string }).lane, ((await latin.json()) as { lane: string }).lane];
    assert.deepEqual(lanes, ['flash', 'typography']);
  } finally {
    await ingress.close();
    await cleanupPrefix(prefix);
  }
});

test('the drift monitor on an injected clock: no series without a baseline or traffic, PSI 0 for traffic like the baseline', async () => {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL);
  let clock = Date.UTC(2026, 0, 1, 12);
  const registry = createMetricsRegistry();
  const monitor = new PromptDriftMonitor({ redis, prefix, registry, now: () => clock });
  const series = async () => (await registry.getSingleMetric('fleet_prompt_drift')!.get()).values.map((v) => [v.labels.feature, v.value]);
  const windowRequests = async () => (await registry.getSingleMetric('fleet_prompt_drift_window_requests')!.get()).values[0]?.value;
  try {
    await monitor.refresh();
    assert.deepEqual([await series(), await windowRequests()], [[], 0]);
    const counter = new RequestFeatureCounter(redis, prefix, () => clock);
    const policy = new CompiledPolicy(loadDefaultPolicy(), 1);
    for (const prompt of ['a fox', 'a poster "SALE"', 'a mug']) counter.count(driftBinsOf(policy.evaluate(parseGenerateRequest({ prompt, account: { id: 'a', tier: 'pro' } }))));
    assert.equal(driftTotal(await readDriftCounts(redis, prefix, HOUR, clock)), 0, 'counts wait in the process until flushed');
    await counter.flush();
    // Without a flush, the counts go out on their own once the flush interval passes.
    const timed = new RequestFeatureCounter(redis, prefix, () => clock, undefined, 20);
    timed.count(driftBinsOf(policy.evaluate(parseGenerateRequest({ prompt: 'a fox', account: { id: 'a', tier: 'pro' } }))));
    await waitUntil('the timed flush to write its count', async () => driftTotal(await readDriftCounts(redis, prefix, HOUR, clock)) === 4, 5000, 20);
    const counts = await readDriftCounts(redis, prefix, HOUR, clock);
    assert.equal(driftTotal(counts), 4);
    await monitor.refresh();
    assert.deepEqual([await series(), await windowRequests()], [[], 4], 'no baseline: no score');
    await new DriftBaselineStore(redis, prefix).save({ name: 'b', savedAt: clock, source: { kind: 'window', windowMs: HOUR }, requests: 4, counts });
    await monitor.refresh();
    assert.deepEqual(await series(), DRIFT_FEATURES.map((f) => [f, 0]));
    // The counts age out of the one-hour window as the clock moves on: nothing to score.
    clock += 61 * MINUTE;
    await monitor.refresh();
    assert.deepEqual([await series(), await windowRequests()], [[], 0]);
    assert.ok((await redis.ttl(driftCountsKey(prefix, Math.floor((clock - 61 * MINUTE) / MINUTE)))) > 24 * 3600, 'a minute of counts is kept for a day');
  } finally {
    monitor.stop();
    redis.disconnect();
    await cleanupPrefix(prefix);
  }
});
