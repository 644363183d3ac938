import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { InferenceResult } from './inference-bench.js';
import { ingressMarkdown, type IngressFigures } from './ingress-bench.js';
import { scaleMarkdown, type ScaleFigures } from './scale-bench.js';
import type { ModelStepFigures } from './model-step-bench.js';
import type { OverheadResult } from './overhead-bench.js';
import { describePlacement } from './scenario-bench.js';
import type { ScenarioFigures, ScenarioResult } from './scenario-bench.js';

export interface MachineDescription {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  onnxruntime: string;
  bullmq: string;
  platform: string;
}

export interface BenchReport {
  mode: 'quick' | 'full';
  startedAt: string;
  durationS: number;
  commit: string;
  machine: MachineDescription;
  overhead: OverheadResult;
  inference: InferenceResult;
  /** The incident's families (SD3.5-shaped large and distilled flash models) run raw: per step and per image. */
  modelSteps: ModelStepFigures[];
  scenario: ScenarioResult;
  /** `POST /generate` against a bare fastify route doing the same queue.add. */
  ingress: IngressFigures;
  /** Redis memory per job, `fleet status` time against retained jobs, ingress processes on one Redis. */
  scale: ScaleFigures;
  goals: Record<string, { goal: string; value: number; met: boolean }>;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(): MachineDescription {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    onnxruntime: packageVersion('onnxruntime-node'),
    bullmq: packageVersion('bullmq'),
    platform: `${process.platform}-${process.arch}`,
  };
}

/** The checked-out commit, with `-dirty` when the tree has changes (the lead commits; runs happen before). */
export function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export function evaluateGoals(r: Pick<BenchReport, 'overhead' | 'inference' | 'scenario' | 'ingress'>): BenchReport['goals'] {
  const s = r.scenario;
  return {
    overheadRatio: { goal: 'fleet / bare BullMQ (same jobs) ≥ 0.9', value: r.overhead.ratio, met: r.overhead.ratio >= 0.9 },
    inferenceVsRaw: { goal: 'fleet / raw ≥ 0.9', value: r.inference.ratioVsRaw, met: r.inference.ratioVsRaw >= 0.9 },
    inferenceBatchGain: {
      goal: "fleet's batch-4 gain / raw batch-4 gain ≥ 0.9 (same run)",
      value: r.inference.batchGainVsRawGain,
      met: r.inference.batchGainVsRawGain >= 0.9,
    },
    scenarioMedian: { goal: 'after/before median ≤ 1/3', value: s.ratios.p50, met: s.ratios.p50 <= 1 / 3 },
    scenarioP95: { goal: 'after/before p95 ≤ 0.4', value: s.ratios.p95, met: s.ratios.p95 <= 0.4 },
    scenarioOom: { goal: '0 OOM after', value: s.after.oom, met: s.after.oom === 0 },
    scenarioCost: { goal: 'after/before cost per render ≤ 0.55', value: s.ratios.costPerRender, met: s.ratios.costPerRender <= 0.55 },
    scenarioGpuBusy: { goal: 'after GPU busy ≥ 0.9 at saturation', value: s.after.gpuBusySaturated, met: s.after.gpuBusySaturated >= 0.9 },
    ...(s.highLoad === undefined
      ? {}
      : {
          highLoadBatches: {
            goal: `batches form at ${s.highLoad.loadFactor}× the before capacity: after mean batch size ≥ 2`,
            value: s.highLoad.after.meanBatchSize,
            met: s.highLoad.after.meanBatchSize >= 2,
          },
          highLoadP95: {
            goal: `p95 holds at ${s.highLoad.loadFactor}× the before capacity: ≤ the before configuration's p95 at normal load, 0 OOM`,
            value: s.highLoad.p95VsBeforeAtNormalLoad,
            met: s.highLoad.p95VsBeforeAtNormalLoad <= 1 && s.highLoad.after.oom === 0,
          },
        }),
    ingressVsBare: { goal: 'ingress / bare fastify route req/s ≥ 0.8 (lowest over 16, 64, 256 connections)', value: Number(r.ingress.ratio.toFixed(3)), met: r.ingress.ratio >= 0.8 },
  };
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
const ms = (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : '—');
const loopMs = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? `${v} ms` : '—');
const x = (v: number) => `${v.toFixed(2)}×`;
const pct = (v: number) => `${(v * 100).toFixed(0)} %`;

function scenarioRow(name: string, f: (s: ScenarioFigures) => string, s: ScenarioResult, ratio: string, incident: string): string {
  return `| ${name} | ${f(s.before)} | ${f(s.after)} | ${ratio} | ${incident} |`;
}

/** The results as Markdown: what the README's Benchmarks section shows. */
export function toMarkdown(report: BenchReport): string {
  const { overhead: o, inference: i, scenario: s, machine: m } = report;
  const lines = [
    `Run ${report.startedAt} (${report.mode}, ${report.durationS.toFixed(0)} s), commit \`${report.commit}\`; ${m.cpus} × ${m.cpuModel}, ` +
      `${gib(m.memoryBytes)} RAM, Node ${m.node}, onnxruntime-node ${m.onnxruntime}, BullMQ ${m.bullmq}.`,
    '',
    `**1. Overhead** (jobs/s: completions between the first and the last job's finishedOn, queue pre-filled by the producer; ${o.noopJobsPerRound} jobs a round, ${o.rounds} rounds, each ratio taken within a round; the first three rows are the round with the median ratio, the rest medians over the rounds)`,
    '',
    '| path | jobs/s |',
    '| --- | ---: |',
    `| bare BullMQ Worker, no-op processor, concurrency 100, on the same jobs (the producer's data and options) | ${o.bullmqJobsPerSec} |`,
    `| fleet, no-op lane (no-op pipeline and finisher), concurrency from the batcher's demand as deployed | ${o.fleetJobsPerSec} |`,
    `| **ratio fleet / bare, same jobs** (goal ≥ 0.9; rounds: ${o.roundRatios.map((r) => r.toFixed(2)).join(', ')}) | **${o.ratio.toFixed(3)}** |`,
    `| bare BullMQ on plain \`{ i }\` jobs with no options | ${o.bullmqPlainJobsPerSec} |`,
    `| ratio fleet / bare on plain jobs (also counts what the fleet's job contract costs BullMQ and Redis) | ${o.ratioVsPlainJobs.toFixed(3)} |`,
    `| fleet, no-op lane, fixed concurrency 100 instead of the batcher's demand | ${o.fleetFixedConcurrencyJobsPerSec} |`,
    `| bare BullMQ whose processor does the finisher's image work (resize, PNG + WebP encode, 2 puts) | ${o.bullmqWithFinishWorkJobsPerSec} |`,
    `| fleet with its real finisher on the no-op pipeline's images | ${o.fleetWithFinishWorkJobsPerSec} |`,
    `| that image work alone, no queue, 16 at a time (ceiling on this machine) | ${o.finishWorkOnlyJobsPerSec} |`,
    `| ratio fleet / bare, both doing the image work | ${o.ratioVsBareWithFinishWork.toFixed(2)} |`,
    '',
    `**2. Inference** (${i.model}, ${i.sizePx}², ${i.provider}, ${i.clients} clients each holding one request)`,
    '',
    '| path | images/s | p50 | p95 | mean batch | inference / post-process / store per job | inference only (model time) | event-loop delay p99 |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    `| raw onnxruntime loop on the main thread, batch 1 (before · after the fleet runs: ${i.rawSpread.before.batch1} · ${i.rawSpread.after.batch1}) | ${i.rawBatch1ImagesPerSec} | | | 1 | | ${i.rawBatch1ImagesPerSec} | ${loopMs(i.rawEventLoopDelayP99Ms?.batch1)} |`,
    `| raw onnxruntime loop on the main thread, batch 4 (before · after: ${i.rawSpread.before.batch4} · ${i.rawSpread.after.batch4}) | ${i.rawImagesPerSec} | | | 4 | | ${i.rawImagesPerSec} | ${loopMs(i.rawEventLoopDelayP99Ms?.batch4)} |`,
    `| raw loop with onnxruntime's default session settings (spinning threads), batch 1 · batch 4 | ${i.rawOrtDefaults.batch1ImagesPerSec} · ${i.rawOrtDefaults.batch4ImagesPerSec} | | | | | | |`,
    ...(['batch1', 'fixed4x80', 'adaptive'] as const).map((k) => {
      const c = i.configurations[k];
      const label = { batch1: 'fleet, batch 1', fixed4x80: 'fleet, 4 items / 80 ms', adaptive: 'fleet, 4 / 80 ms adaptive (as deployed)' }[k];
      return `| ${label} | ${c.imagesPerSec} | ${ms(c.p50Ms)} | ${ms(c.p95Ms)} | ${c.meanBatchSize} | ${c.inferenceMs} / ${c.postProcessMs} / ${c.uploadMs} ms | ${c.inferenceOnlyImagesPerSec} | ${loopMs(c.eventLoopDelayP99Ms)} |`;
    }),
    `| **fleet / raw** (goal ≥ 0.9) · fleet / fleet batch 1 ${x(i.ratioVsBatch1)} against raw batch 4 / batch 1 ${x(i.rawImagesPerSec / i.rawBatch1ImagesPerSec)}: **batch gain kept ${x(i.batchGainVsRawGain)}** (goal ≥ 0.9) | **${x(i.ratioVsRaw)}** | | | | | ${x(i.inferenceOnlyRatioVsRaw)} | |`,
    '',
    'The incident\'s families, raw (toy weights in export-shaped graphs: the figures are the pipeline\'s and these graphs\', not a real model\'s):',
    '',
    '| model | family | size | batch | steps | ms per step per MP | images/s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...report.modelSteps.map((m) => `| ${m.model} | ${m.family} ${m.precision} | ${m.sizePx}² | ${m.batch} | ${m.steps} | ${m.msPerStepPerMegapixel} | ${m.imagesPerSec} |`),
    '',
    `**3. Incident scenario** (${s.gpus} simulated 8 GiB GPUs, one FleetWorker each, in both configurations; ` +
      `after placement: ${s.placement.map((p, gpu) => `GPU${gpu} ${describePlacement(p)}`).join(', ')}; ` +
      `${s.requests} requests at ${s.offeredLoadPerSec}/s over ${s.sustainedSeconds} s; times are real-time equivalent, run at time scale ${s.timeScale})`,
    '',
    '| | before | after | after / before | incident |',
    '| --- | ---: | ---: | ---: | --- |',
    scenarioRow('median', (f) => ms(f.p50Ms), s, x(s.ratios.p50), '1.8 s → 0.6 s (0.33×)'),
    scenarioRow('p95', (f) => ms(f.p95Ms), s, x(s.ratios.p95), '−60 % (0.40×)'),
    scenarioRow('p99', (f) => ms(f.p99Ms), s, x(s.ratios.p99), ''),
    scenarioRow('OOM errors', (f) => String(f.oom), s, '', 'eliminated'),
    scenarioRow('retries', (f) => String(f.retries), s, '', ''),
    scenarioRow('failed / unfinished jobs', (f) => `${f.failed} / ${f.unfinished}`, s, '', ''),
    scenarioRow('GPU busy, sustained load (per GPU)', (f) => `${pct(f.gpuBusy)} (${f.gpus.map((g) => pct(g.gpuBusy)).join(' / ')})`, s, '', ''),
    scenarioRow('GPU busy, saturated (per GPU)', (f) => `${pct(f.gpuBusySaturated)} (${f.gpus.map((g) => pct(g.gpuBusySaturated)).join(' / ')})`, s, '', 'goal ≥ 90 %'),
    scenarioRow('capacity estimate, requests/s (offered ÷ GPU busy, sustained load)', (f) => f.capacityPerSec.toFixed(2), s, x(s.after.capacityPerSec / s.before.capacityPerSec), ''),
    scenarioRow('cost units per render', (f) => f.costPerRender.toFixed(2), s, x(s.ratios.costPerRender), '−45 % (0.55×)'),
    scenarioRow('VRAM peak per GPU (demand)', (f) => f.gpus.map((g) => `${gib(g.vramPeakBytes)} (${gib(g.vramDemandPeakBytes)})`).join(' / '), s, '', ''),
    scenarioRow('VRAM budget per worker', (f) => gib(f.vramBudgetBytes), s, '', ''),
    scenarioRow('OOM per GPU', (f) => f.gpus.map((g) => String(g.oom)).join(' / '), s, '', ''),
    scenarioRow('mean batch size', (f) => f.meanBatchSize.toFixed(2), s, '', ''),
    scenarioRow('model loads per GPU', (f) => f.gpus.map((g) => String(g.modelLoads)).join(' / '), s, '', ''),
    '',
    '| request kind | before p50 / p95 | after p50 / p95 | after: queue / batch wait / inference / finish (mean) | after mean batch |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...Object.keys(s.before.byKind).map((k) => {
      const b = s.before.byKind[k]!;
      const a = s.after.byKind[k]!;
      return `| ${k} | ${ms(b.p50Ms)} / ${ms(b.p95Ms)} | ${ms(a.p50Ms)} / ${ms(a.p95Ms)} | ${[a.queueWaitMs, a.batchWaitMs, a.inferenceMs, a.finishMs].map(ms).join(' / ')} | ${a.meanBatchSize.toFixed(2)} |`;
    }),
    '',
    ...highLoadMarkdown(s),
    ...ingressMarkdown(report.ingress),
    ...scaleMarkdown(report.scale),
    '**Goals**',
    '',
    '| goal | value | met |',
    '| --- | ---: | --- |',
    ...Object.values(report.goals).map((g) => `| ${g.goal} | ${g.value} | ${g.met ? 'yes' : 'no'} |`),
  ];
  return `${lines.join('\n')}\n`;
}

/** The after configuration alone at a load the before configuration cannot serve. */
function highLoadMarkdown(s: ScenarioResult): string[] {
  const h = s.highLoad;
  if (h === undefined) return [];
  const a = h.after;
  return [
    `**3b. High load** (the after configuration alone, open loop, at ${h.loadFactor}× the before configuration's capacity: ` +
      `${h.requests} requests at ${h.offeredLoadPerSec}/s over ${h.seconds} s; the before configuration's queue only grows there). ` +
      `That is ${x(h.offeredLoadPerSec / s.after.capacityPerSec)} the after configuration's capacity estimate at normal load ` +
      `(${s.after.capacityPerSec.toFixed(2)}/s); above 1× no queue can hold its p95.`,
    '',
    '| | normal load (after) | high load (after) | high / normal |',
    '| --- | ---: | ---: | ---: |',
    `| median | ${ms(s.after.p50Ms)} | ${ms(a.p50Ms)} | ${x(a.p50Ms / s.after.p50Ms)} |`,
    `| p95 | ${ms(s.after.p95Ms)} | ${ms(a.p95Ms)} | ${x(h.p95VsNormalLoad)} |`,
    `| p95 against the before configuration at normal load (${ms(s.before.p95Ms)}) | | | ${x(h.p95VsBeforeAtNormalLoad)} |`,
    `| mean batch size | ${s.after.meanBatchSize.toFixed(2)} | ${a.meanBatchSize.toFixed(2)} | |`,
    `| GPU busy per GPU (its lanes) | ${s.after.gpus.map((g) => pct(g.gpuBusy)).join(' / ')} | ${a.gpus.map((g) => `${pct(g.gpuBusy)} (${g.lanes.join('+')})`).join(' / ')} | |`,
    `| OOM · failed / unfinished | ${s.after.oom} · ${s.after.failed} / ${s.after.unfinished} | ${a.oom} · ${a.failed} / ${a.unfinished} | |`,
    '',
    '| request kind (high load) | p50 / p95 | queue / batch wait / inference / finish (mean) | mean batch |',
    '| --- | ---: | ---: | ---: |',
    ...Object.entries(a.byKind).map(([k, f]) => `| ${k} | ${ms(f.p50Ms)} / ${ms(f.p95Ms)} | ${[f.queueWaitMs, f.batchWaitMs, f.inferenceMs, f.finishMs].map(ms).join(' / ')} | ${f.meanBatchSize.toFixed(2)} |`),
    '',
  ];
}

/**
 * Writes `bench/results/latest.{json,md}` and, with `keep` (a run the README is to cite), a copy of each named
 * after the run's start and mode; returns the paths.
 */
export function writeResults(report: BenchReport, { keep = false, dir = join('bench', 'results') }: { keep?: boolean; dir?: string } = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const md = `# Benchmark results\n\n${toMarkdown(report)}`;
  const names = ['latest', ...(keep ? [`${stamp}-${report.mode}`] : [])];
  const paths = names.flatMap((name) => [join(dir, `${name}.json`), join(dir, `${name}.md`)]);
  for (const path of paths) writeFileSync(path, path.endsWith('.json') ? json : md);
  return paths;
}
