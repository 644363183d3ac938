// `npm run bench [-- --quick] [-- --json] [-- --keep]`: fleet overhead, inference and the incident scenario, measured
// side by side in one run. Prints a table (or, with --json, one JSON object and nothing else on stdout); writes
// bench/results/latest.{json,md}, and with --keep also a copy named after the run's start (for a run the README
// cites: bench/results keeps those and latest.*, not every run). Progress goes to stderr. See README "Benchmarks".
// Other flags: --only overhead,inference,scenario,ingress,scale (or --section: runs a subset; results are not written), --seed N,
// --gpus N (simulated GPUs in the scenario, default 2), --placement 'flash,typography,upscale;large' (the after
// configuration's lanes per GPU, `;` between GPUs; default: see defaultPlacement in scenario-bench.ts),
// --seconds N (the scenario's sustained phase, real-time equivalent), --time-scale X (its speed-up) and --high-load X
// (the after configuration's high-load phase at X × the before capacity, default 2.5; 0 skips it).
import { parseArgs } from 'node:util';
import { buildModels } from '../build-models.js';
import { describeMachine, evaluateGoals, gitCommit, toMarkdown, writeResults, type BenchReport } from './bench-report.js';
import { runInferenceBench } from './inference-bench.js';
import { runIngressBench } from './ingress-bench.js';
import { runScaleBench } from './scale-bench.js';
import { runModelStepBench } from './model-step-bench.js';
import { runOverheadBench } from './overhead-bench.js';
import { parsePlacement, runScenarioBench } from './scenario-bench.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    only: { type: 'string' },
    // The same as --only, under the name the issue tracker uses (`--section inference`).
    section: { type: 'string' },
    seed: { type: 'string', default: '7' },
    models: { type: 'string', default: 'models' },
    gpus: { type: 'string', default: '2' },
    placement: { type: 'string' },
    seconds: { type: 'string' },
    'time-scale': { type: 'string' },
    'high-load': { type: 'string' },
  },
});

// With --json stdout carries the one object: anything a library prints goes to stderr instead.
const stdoutWrite = process.stdout.write.bind(process.stdout);
if (values.json) {
  console.log = console.error;
  console.info = console.error;
  console.warn = console.error;
  console.debug = console.error;
}
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const SETTINGS = {
  quick: {
    overhead: { noopJobs: 10_000, finishWorkJobs: 1500, rounds: 3 },
    inference: { fleetImages: 24, rawRounds: 4 },
    scenario: { timeScale: 0.1, sustainedSeconds: 150, saturationJobs: 60 },
    ingress: { durationS: 4 },
    scale: { completedSteps: [10_000, 100_000], ingressSeconds: 4 },
  },
  full: {
    overhead: { noopJobs: 30_000, finishWorkJobs: 3000, rounds: 5 },
    inference: { fleetImages: 96, rawRounds: 12 },
    scenario: { timeScale: 0.25, sustainedSeconds: 600, saturationJobs: 200 },
    ingress: { durationS: 10 },
    scale: { completedSteps: [10_000, 100_000, 1_000_000], ingressSeconds: 10 },
  },
} as const;

async function main(): Promise<void> {
  const mode = values.quick ? 'quick' : 'full';
  const settings = SETTINGS[mode];
  const only = new Set((values.only ?? values.section ?? 'overhead,inference,scenario,ingress,scale').split(',').map((s) => s.trim()));
  const startedAt = new Date();
  const started = performance.now();
  // Idempotent: models already built by this builder version are skipped.
  await buildModels({ outDir: values.models });
  const overhead = only.has('overhead') ? await runOverheadBench({ ...settings.overhead, modelsDir: values.models, log }) : undefined;
  const inference = only.has('inference') ? await runInferenceBench({ ...settings.inference, modelsDir: values.models, log }) : undefined;
  const modelSteps = only.has('inference') ? await runModelStepBench({ modelsDir: values.models, rounds: mode === 'quick' ? 2 : 3, log }) : undefined;
  const placement = values.placement === undefined ? undefined : parsePlacement(values.placement);
  const gpus = placement?.length ?? Number(values.gpus);
  const scenario = only.has('scenario')
    ? await runScenarioBench({
        ...settings.scenario,
        ...(values.seconds === undefined ? {} : { sustainedSeconds: Number(values.seconds) }),
        ...(values['time-scale'] === undefined ? {} : { timeScale: Number(values['time-scale']) }),
        ...(values['high-load'] === undefined ? {} : { highLoadFactor: Number(values['high-load']) }),
        seed: Number(values.seed),
        shippedModelsDir: values.models,
        gpus,
        ...(placement ? { placement } : {}),
        log,
      })
    : undefined;
  const ingress = only.has('ingress') ? await runIngressBench({ ...settings.ingress, redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', log }) : undefined;
  const scale = only.has('scale') ? await runScaleBench({ ...settings.scale, completedSteps: [...settings.scale.completedSteps], modelsDir: values.models, log }) : undefined;
  const durationS = (performance.now() - started) / 1000;
  if (!overhead || !inference || !modelSteps || !scenario || !ingress || !scale) {
    stdoutWrite(`${JSON.stringify({ mode, durationS, overhead, inference, modelSteps, scenario, ingress, scale }, null, values.json ? undefined : 2)}\n`);
    return;
  }
  const report: BenchReport = {
    mode,
    startedAt: startedAt.toISOString(),
    durationS: Math.round(durationS),
    commit: gitCommit(),
    machine: describeMachine(),
    overhead,
    inference,
    modelSteps,
    scenario,
    ingress,
    scale,
    goals: evaluateGoals({ overhead, inference, scenario, ingress }),
  };
  const paths = writeResults(report, { keep: values.keep });
  log(`wrote ${paths.join(', ')} in ${durationS.toFixed(0)} s`);
  stdoutWrite(values.json ? `${JSON.stringify(report)}\n` : toMarkdown(report));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
