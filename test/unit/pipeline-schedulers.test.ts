import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createScheduler,
  EulerDiscreteScheduler,
  LcmScheduler,
  parseSchedulerConfig,
  planScheduler,
  type DiffusionScheduler,
  type SchedulerPlan,
} from '../../workers/pipelines/schedulers/index.js';
import { ddimSchedule } from '../../workers/pipelines/schedulers/ddim-sampler.js';
import { interpOnIndex } from '../../workers/pipelines/schedulers/numpy-ops.js';
import { sigmaTable, trainingAlphasCumprod } from '../../workers/pipelines/schedulers/training-schedule.js';
import { SeededNoise } from '../../workers/pipelines/seeded-noise.js';

// End-to-end oracle trajectories, as the pipeline's oracle tests will run them: the "denoiser" sees only its
// sample input and timestep and returns the exact ε, v, x0 or flow velocity for a known clean latent, so a
// correct scheduler ends on that latent (to float32 rounding).

const SD_BETAS = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 };
const ITEM_SIZE = 6;
const CLEAN = Float32Array.of(0.4, -1.2, 0.05, 2.5, -0.7, 1.1);

type Oracle = (modelIn: Float32Array, timestep: number) => Float32Array;

/** The denoiser a perfect model of `clean` would be, for the plan's parameterisation. */
function oracleFor(plan: SchedulerPlan, clean: Float32Array): Oracle {
  if (plan.kind === 'flow-match-euler') {
    // x = (1 − σ)·x0 + σ·ε with σ = t/T, so the velocity ε − x0 is (x − x0)/σ.
    return (x, t) => x.map((value, i) => (value - clean[i % clean.length]!) / (t / plan.config.num_train_timesteps));
  }
  const alphas = trainingAlphasCumprod(plan.config);
  if (plan.kind === 'euler-discrete' && plan.config.rescale_betas_zero_snr) alphas[alphas.length - 1] = 2 ** -24;
  const table = sigmaTable(alphas);
  const logTable = table.map(Math.log);
  const alphaAt = (t: number): number => {
    if (plan.kind === 'ddim' || plan.kind === 'lcm') return alphas[t]!;
    let sigma = interpOnIndex(t, table);
    if (plan.kind === 'euler-discrete' && plan.config.timestep_type === 'continuous') sigma = Math.exp(4 * t);
    else if (plan.kind === 'euler-discrete' && (plan.config.use_karras_sigmas || plan.config.use_exponential_sigmas)) sigma = Math.exp(interpOnIndex(t, logTable));
    return 1 / (1 + sigma * sigma);
  };
  // Euler's scaled input x/√(σ²+1) and DDIM/LCM's identity input are both the VP sample √ᾱ·x0 + √(1−ᾱ)·ε.
  return (sample, t) => {
    const alpha = alphaAt(t);
    return sample.map((value, i) => {
      const x0 = clean[i % clean.length]!;
      const epsilon = (value - Math.sqrt(alpha) * x0) / Math.sqrt(1 - alpha);
      if (plan.prediction === 'epsilon') return epsilon;
      if (plan.prediction === 'v_prediction') return Math.sqrt(alpha) * epsilon - Math.sqrt(1 - alpha) * x0;
      return x0;
    });
  };
}

/** The pipeline's loop over a batch of `seeds.length` items; returns the final latents. */
function runBatch(scheduler: DiffusionScheduler, oracle: Oracle, seeds: number[], start?: Float32Array): Float32Array {
  const noises = seeds.map((seed) => new SeededNoise(seed));
  const latents = start ?? new Float32Array(seeds.length * ITEM_SIZE);
  if (start === undefined) {
    noises.forEach((noise, k) => noise.fillNormal(latents.subarray(k * ITEM_SIZE, (k + 1) * ITEM_SIZE), scheduler.initNoiseSigma));
  }
  for (let i = 0; i < scheduler.timesteps.length; i++) {
    const output = oracle(scheduler.scaleModelInput(latents, i), scheduler.timesteps[i]!);
    scheduler.step(output, i, latents, ITEM_SIZE, noises);
  }
  return latents;
}

function assertEndsOnClean(latents: Float32Array, what: string, tolerance = 2e-5): void {
  latents.forEach((value, i) => {
    const expected = CLEAN[i % ITEM_SIZE]!;
    assert.ok(Math.abs(value - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${what}: [${i}] ${value} vs ${expected}`);
  });
}

const CONFIGS: [string, Record<string, unknown>, number[]][] = [
  ['SD 1.5 (PNDM as Euler, linspace)', { _class_name: 'PNDMScheduler', ...SD_BETAS, steps_offset: 1 }, [1, 4, 25]],
  ['SD 2 (Euler, v)', { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, prediction_type: 'v_prediction' }, [4, 25]],
  ['SDXL (Euler, leading)', { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, timestep_spacing: 'leading', steps_offset: 1 }, [1, 4, 30]],
  ['Turbo (Euler, trailing)', { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, timestep_spacing: 'trailing' }, [1, 2, 4, 61]],
  ['Euler, x0 prediction', { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, prediction_type: 'sample', timestep_spacing: 'trailing' }, [4]],
  ['DPM++ Karras as Euler', { _class_name: 'DPMSolverMultistepScheduler', ...SD_BETAS, use_karras_sigmas: true, timestep_spacing: 'leading', steps_offset: 1 }, [4, 25]],
  ['Euler, continuous v (SVD)', { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, prediction_type: 'v_prediction', timestep_type: 'continuous', use_karras_sigmas: true, sigma_min: 0.002, sigma_max: 700 }, [4, 25]],
  ['Euler, zero terminal SNR, v', { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, prediction_type: 'v_prediction', rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, [4, 25]],
  ['Euler ancestral, ε', { _class_name: 'EulerAncestralDiscreteScheduler', ...SD_BETAS, timestep_spacing: 'leading', steps_offset: 1 }, [1, 4, 25]],
  ['Euler ancestral, v', { _class_name: 'EulerAncestralDiscreteScheduler', ...SD_BETAS, prediction_type: 'v_prediction' }, [4]],
  ['DDIM, ε, set_alpha_to_one', { _class_name: 'DDIMScheduler', ...SD_BETAS, clip_sample: false, steps_offset: 1 }, [1, 4, 25]],
  ['DDIM, x0, linspace', { _class_name: 'DDIMScheduler', ...SD_BETAS, clip_sample: false, prediction_type: 'sample', timestep_spacing: 'linspace' }, [5]],
  ['DDIM, v, zero SNR, trailing', { _class_name: 'DDIMScheduler', ...SD_BETAS, clip_sample: false, prediction_type: 'v_prediction', rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, [3, 4]],
  ['LCM, ε', { _class_name: 'LCMScheduler', ...SD_BETAS }, [1, 2, 4, 8]],
  ['LCM, v', { _class_name: 'LCMScheduler', ...SD_BETAS, prediction_type: 'v_prediction' }, [4]],
  ['LCM, x0', { _class_name: 'LCMScheduler', ...SD_BETAS, prediction_type: 'sample' }, [4]],
  ['SD3 (flow, shift 3)', { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 }, [1, 4, 28]],
  ['flow, stochastic', { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3, stochastic_sampling: true }, [4]],
];

describe('oracle trajectories end on the clean latent', () => {
  for (const [label, fields, stepCounts] of CONFIGS) {
    it(label, () => {
      const config = parseSchedulerConfig(fields, `${label}/scheduler_config.json`);
      const plan = planScheduler(config);
      for (const steps of stepCounts) {
        const latents = runBatch(createScheduler(config, steps), oracleFor(plan, CLEAN), [7, 8]);
        assertEndsOnClean(latents, `${label} × ${steps}`);
      }
    });
  }

  it('DDIM without set_alpha_to_one (SD 2.1) stops √ᾱ_0 short of x0, exactly as diffusers', () => {
    const fields = { _class_name: 'DDIMScheduler', ...SD_BETAS, clip_sample: false, prediction_type: 'v_prediction', set_alpha_to_one: false, steps_offset: 1 };
    const config = parseSchedulerConfig(fields, 'sd21');
    const plan = planScheduler(config);
    assert.ok(plan.kind === 'ddim');
    const scheduler = createScheduler(config, 4);
    const oracle = oracleFor(plan, CLEAN);
    const noises = [new SeededNoise(3)];
    const latents = noises[0]!.fillNormal(new Float32Array(ITEM_SIZE));
    for (let i = 0; i < 3; i++) scheduler.step(oracle(latents, scheduler.timesteps[i]!), i, latents, ITEM_SIZE, noises);
    const { alphasCumprod, prevAlphasCumprod } = ddimSchedule(plan.config, 4);
    const [alpha, finalAlpha] = [alphasCumprod[3]!, prevAlphasCumprod[3]!];
    const epsilon = latents.map((x, i) => (x - Math.sqrt(alpha) * CLEAN[i]!) / Math.sqrt(1 - alpha));
    scheduler.step(oracle(latents, scheduler.timesteps[3]!), 3, latents, ITEM_SIZE, noises);
    assert.equal(finalAlpha, trainingAlphasCumprod(plan.config)[0]);
    latents.forEach((x, i) => {
      const expected = Math.sqrt(finalAlpha) * CLEAN[i]! + Math.sqrt(1 - finalAlpha) * epsilon[i]!;
      assert.ok(Math.abs(x - expected) < 1e-5, `[${i}] ${x} vs ${expected}`);
      assert.ok(Math.abs(x - CLEAN[i]!) > 1e-4, 'a trace of noise remains');
    });
  });

  it('img2img: addNoise at the first step of a strength-shortened schedule, then the same loop, ends on the clean latent', () => {
    const image = Float32Array.of(-0.3, 0.9, 1.4, 0, 0.2, -2);
    for (const fields of [
      { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, timestep_spacing: 'leading', steps_offset: 1 },
      { _class_name: 'DDIMScheduler', ...SD_BETAS, clip_sample: false, steps_offset: 1 },
      { _class_name: 'LCMScheduler', ...SD_BETAS },
      { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 },
    ]) {
      const config = parseSchedulerConfig(fields, fields._class_name);
      const scheduler = createScheduler(config, 8, { strength: 0.6 });
      const noise = new SeededNoise(11).fillNormal(new Float32Array(ITEM_SIZE));
      const start = scheduler.addNoise(image, noise);
      assertEndsOnClean(runBatch(scheduler, oracleFor(planScheduler(config), CLEAN), [11], start), fields._class_name);
    }
  });
});

describe('noise injection and batches', () => {
  it('each item draws only from its own generator: a batch gives what each item gives alone', () => {
    for (const fields of [
      { _class_name: 'EulerAncestralDiscreteScheduler', ...SD_BETAS },
      { _class_name: 'LCMScheduler', ...SD_BETAS },
      { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3, stochastic_sampling: true },
    ]) {
      const config = parseSchedulerConfig(fields, fields._class_name);
      // A deliberately wrong model, so the end state depends on the injected noise.
      const biased: Oracle = (x) => x.map((v) => v * 0.1 + 0.3);
      const pair = runBatch(createScheduler(config, 4), biased, [21, 22]);
      const first = runBatch(createScheduler(config, 4), biased, [21]);
      const second = runBatch(createScheduler(config, 4), biased, [22]);
      assert.deepEqual(pair, Float32Array.from([...first, ...second]), fields._class_name);
      assert.notDeepEqual(first, second);
    }
  });

  it('the schedulers that inject noise ask for a generator per item; the deterministic ones do not', () => {
    const ancestral = createScheduler(parseSchedulerConfig({ _class_name: 'EulerAncestralDiscreteScheduler' }, 'ea'), 4);
    assert.throws(() => ancestral.step(new Float32Array(12), 0, new Float32Array(12), ITEM_SIZE, [new SeededNoise(1)]), /one generator per item/);
    const euler = createScheduler(parseSchedulerConfig({ _class_name: 'EulerDiscreteScheduler' }, 'e'), 4);
    euler.step(new Float32Array(12), 0, new Float32Array(12), ITEM_SIZE, []);
    assert.throws(() => euler.step(new Float32Array(6), 0, new Float32Array(12), ITEM_SIZE, []), /model output has 6 values/);
    assert.throws(() => euler.step(new Float32Array(12), 4, new Float32Array(12), ITEM_SIZE, []), /stepIndex/);
  });

  it('addNoise follows each family: x0 + σ·n (Euler), √ᾱ·x0 + √(1−ᾱ)·n (DDIM, LCM), σ·n + (1−σ)·x0 (flow)', () => {
    const clean = Float32Array.of(1);
    const noise = Float32Array.of(2);
    const euler = createScheduler(parseSchedulerConfig({ _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, timestep_spacing: 'trailing' }, 'e'), 4);
    assert.ok(Math.abs(euler.addNoise(clean, noise)[0]! - (1 + 2 * 14.614647)) < 1e-4);
    const ddim = createScheduler(parseSchedulerConfig({ _class_name: 'DDIMScheduler', ...SD_BETAS, timestep_spacing: 'trailing' }, 'd'), 4);
    const alpha = trainingAlphasCumprod({ ...SD_BETAS, beta_schedule: 'scaled_linear', trained_betas: null, rescale_betas_zero_snr: false })[749]!;
    assert.ok(Math.abs(ddim.addNoise(clean, noise, 1)[0]! - (Math.sqrt(alpha) + 2 * Math.sqrt(1 - alpha))) < 1e-6);
    const flow = createScheduler(parseSchedulerConfig({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 1 }, 'f'), 4);
    assert.ok(Math.abs(flow.addNoise(clean, noise, 1)[0]! - (0.667 * 2 + 0.333)) < 1e-5);
  });

  it('scaleModelInput returns a new array and leaves the latents alone', () => {
    for (const className of ['EulerDiscreteScheduler', 'DDIMScheduler', 'LCMScheduler', 'FlowMatchEulerDiscreteScheduler']) {
      const scheduler = createScheduler(parseSchedulerConfig({ _class_name: className }, className), 2);
      const latents = Float32Array.of(1, 2);
      const input = scheduler.scaleModelInput(latents, 0);
      input[0] = 99;
      assert.deepEqual(latents, Float32Array.of(1, 2), className);
    }
  });
});

describe('deprecated constructors (until diffusion-pipeline.ts switches to createScheduler)', () => {
  it('EulerDiscreteScheduler: trailing spacing on the manifest schedule, now with round-half-even', () => {
    const euler = new EulerDiscreteScheduler(16);
    assert.equal(euler.name, 'EulerDiscreteScheduler');
    assert.equal(euler.timesteps[0], 999);
    assert.deepEqual([euler.timesteps[3], euler.timesteps[7], euler.timesteps[11], euler.timesteps[15]], [811, 561, 311, 61]);
    assert.ok(euler.initNoiseSigma > 14 && euler.initNoiseSigma < 15, `σ_max ${euler.initNoiseSigma}`);
    const latents = Float32Array.of(CLEAN[0]! + euler.initNoiseSigma * 1.3);
    for (let i = 0; i < euler.timesteps.length; i++) {
      const sigma = (latents[0]! - CLEAN[0]!) / 1.3;
      euler.step(Float32Array.of((latents[0]! - CLEAN[0]!) / sigma), i, latents);
    }
    assert.ok(Math.abs(latents[0]! - CLEAN[0]!) < 1e-4, `x ${latents[0]}`);
    assert.throws(() => new EulerDiscreteScheduler(0), RangeError);
  });

  it('LcmScheduler: diffusers LCMScheduler timesteps for the given distillation grid', () => {
    assert.deepEqual(new LcmScheduler(4).timesteps, [999, 759, 499, 259]);
    assert.deepEqual(new LcmScheduler(1).timesteps, [999]);
    assert.deepEqual(new LcmScheduler(2, {}, 4).timesteps, [999, 499]);
    assert.throws(() => new LcmScheduler(0), RangeError);
    assert.throws(() => new LcmScheduler(5, {}, 4), RangeError);
  });
});

describe('seeded noise', () => {
  it('repeats per seed, differs across seeds, and is standard normal', () => {
    const a = new SeededNoise(7).fillNormal(new Float32Array(20000));
    const b = new SeededNoise(7).fillNormal(new Float32Array(20000));
    const c = new SeededNoise(8).fillNormal(new Float32Array(20000));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
  });
});
