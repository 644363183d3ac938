import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FleetError } from '../../contract/index.js';
import {
  createScheduler,
  parseSchedulerConfig,
  planScheduler,
  RUN_AS_EULER_DISCRETE,
  schedulerConfigForPipeline,
  startStepForStrength,
} from '../../workers/pipelines/schedulers/index.js';

const FILE = 'models/x/scheduler/scheduler_config.json';
const SD_BETAS = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 };
// runwayml/stable-diffusion-v1-5's file, verbatim.
const SD15_PNDM = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  ...SD_BETAS,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

const plan = (fields: Record<string, unknown>) => planScheduler(parseSchedulerConfig(fields, FILE));

function assertConfigError(run: () => unknown, path: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof FleetError, String(error));
    assert.equal(error.code, 'E_MODEL_SHAPE');
    assert.equal(error.retryable, false);
    assert.equal(error.details?.['file'], FILE);
    assert.equal(error.details?.['path'], path);
    assert.ok(error.message.includes(FILE) && error.message.includes(path), error.message);
    return true;
  });
}

describe('parseSchedulerConfig', () => {
  it('keeps the keys that decide a schedule, drops the rest, and records absence', () => {
    const config = parseSchedulerConfig({ ...SD15_PNDM, solver_order: 2, some_future_key: { a: 1 } }, FILE);
    assert.equal(config.file, FILE);
    assert.equal(config.fields._class_name, 'PNDMScheduler');
    assert.equal(config.fields.steps_offset, 1);
    assert.equal(config.fields.timestep_spacing, undefined);
    assert.ok(!('skip_prk_steps' in config.fields) && !('some_future_key' in config.fields));
  });

  it('refuses bad values with E_MODEL_SHAPE naming the file and the key', () => {
    assertConfigError(() => parseSchedulerConfig({ ...SD15_PNDM, beta_schedule: 'sigmoid' }, FILE), 'beta_schedule');
    assertConfigError(() => parseSchedulerConfig({ ...SD15_PNDM, timestep_spacing: 'even' }, FILE), 'timestep_spacing');
    assertConfigError(() => parseSchedulerConfig({ ...SD15_PNDM, prediction_type: 'flow_prediction' }, FILE), 'prediction_type');
    assertConfigError(() => parseSchedulerConfig({ ...SD15_PNDM, steps_offset: -1 }, FILE), 'steps_offset');
    assertConfigError(() => parseSchedulerConfig({ num_train_timesteps: 1000 }, FILE), '_class_name');
    assertConfigError(() => parseSchedulerConfig([], FILE), '(root)');
  });
});

describe('planScheduler: which class runs what', () => {
  it('runs the five implemented classes as themselves', () => {
    const cases: [string, string][] = [
      ['EulerDiscreteScheduler', 'euler-discrete'],
      ['EulerAncestralDiscreteScheduler', 'euler-ancestral'],
      ['DDIMScheduler', 'ddim'],
      ['LCMScheduler', 'lcm'],
      ['FlowMatchEulerDiscreteScheduler', 'flow-match-euler'],
    ];
    for (const [className, kind] of cases) {
      const result = plan({ _class_name: className, ...(kind === 'flow-match-euler' ? { shift: 3 } : SD_BETAS) });
      assert.equal(result.kind, kind);
      assert.equal(result.name, className);
      assert.equal(result.configuredClass, className);
    }
  });

  it("runs diffusers' Karras-compatible classes as EulerDiscrete, taking the file's keys and Euler's defaults for the rest", () => {
    for (const className of RUN_AS_EULER_DISCRETE) {
      const result = plan({ ...SD15_PNDM, _class_name: className });
      assert.equal(result.kind, 'euler-discrete');
      assert.equal(result.name, `EulerDiscreteScheduler (for ${className})`);
    }
    const sd15 = plan(SD15_PNDM);
    assert.ok(sd15.kind === 'euler-discrete');
    // PNDM's own default would be leading; the file does not say, so EulerDiscrete's default applies, as in from_config.
    assert.equal(sd15.config.timestep_spacing, 'linspace');
    assert.equal(sd15.config.steps_offset, 1);
    assert.equal(sd15.config.beta_schedule, 'scaled_linear');
    assert.equal(sd15.prediction, 'epsilon');
    const karras = plan({ ...SD15_PNDM, _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true, timestep_spacing: 'leading' });
    assert.ok(karras.kind === 'euler-discrete' && karras.config.use_karras_sigmas && karras.config.timestep_spacing === 'leading');
  });

  it('fills in each class its own defaults (DDIM, LCM, Euler differ)', () => {
    const euler = plan({ _class_name: 'EulerDiscreteScheduler' });
    assert.ok(euler.kind === 'euler-discrete' && euler.config.beta_schedule === 'linear' && euler.config.beta_end === 0.02);
    const lcm = plan({ _class_name: 'LCMScheduler' });
    assert.ok(lcm.kind === 'lcm' && lcm.config.beta_schedule === 'scaled_linear' && lcm.config.original_inference_steps === 50);
    const ddim = plan({ _class_name: 'DDIMScheduler' });
    assert.ok(ddim.kind === 'ddim' && ddim.config.clip_sample && ddim.config.set_alpha_to_one && ddim.config.timestep_spacing === 'leading');
  });

  it('reports the prediction type and the step limit', () => {
    assert.equal(plan({ _class_name: 'DDIMScheduler', ...SD_BETAS, prediction_type: 'v_prediction' }).prediction, 'v_prediction');
    assert.equal(plan({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 }).prediction, 'flow_prediction');
    assert.equal(plan({ _class_name: 'LCMScheduler', original_inference_steps: 8 }).maxSteps, 8);
    assert.equal(plan(SD15_PNDM).maxSteps, 1000);
  });

  it('refuses classes it cannot run, naming _class_name', () => {
    for (const className of ['EDMEulerScheduler', 'FlowMatchHeunDiscreteScheduler', 'TCDScheduler', 'MyScheduler']) {
      assertConfigError(() => plan({ _class_name: className }), '_class_name');
    }
    assert.throws(() => plan({ _class_name: 'MyScheduler' }), /MyScheduler is an unknown scheduler class/);
  });

  it('refuses settings it does not implement, naming the key', () => {
    const refusals: [Record<string, unknown>, string][] = [
      [{ _class_name: 'EulerDiscreteScheduler', interpolation_type: 'log_linear' }, 'interpolation_type'],
      [{ _class_name: 'EulerDiscreteScheduler', use_beta_sigmas: true }, 'use_beta_sigmas'],
      [{ _class_name: 'EulerDiscreteScheduler', use_karras_sigmas: true, use_exponential_sigmas: true }, 'use_exponential_sigmas'],
      [{ _class_name: 'EulerDiscreteScheduler', trained_betas: [0.1, 0.2] }, 'trained_betas'],
      [{ _class_name: 'EulerAncestralDiscreteScheduler', prediction_type: 'sample' }, 'prediction_type'],
      [{ _class_name: 'DDIMScheduler', thresholding: true }, 'thresholding'],
      [{ _class_name: 'DDIMScheduler', rescale_betas_zero_snr: true }, 'rescale_betas_zero_snr'],
      [{ _class_name: 'LCMScheduler', thresholding: true }, 'thresholding'],
      [{ _class_name: 'LCMScheduler', original_inference_steps: 2000 }, 'original_inference_steps'],
      [{ _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true }, 'use_dynamic_shifting'],
      [{ _class_name: 'FlowMatchEulerDiscreteScheduler', invert_sigmas: true }, 'invert_sigmas'],
      [{ _class_name: 'UniPCMultistepScheduler', use_flow_sigmas: true }, 'use_flow_sigmas'],
    ];
    for (const [fields, path] of refusals) assertConfigError(() => plan(fields), path);
  });

  it('ignores keys the running class does not read (PNDM has no thresholding; Euler ancestral no Karras sigmas)', () => {
    assert.equal(plan({ ...SD15_PNDM, thresholding: true }).kind, 'euler-discrete');
    assert.equal(plan({ _class_name: 'EulerAncestralDiscreteScheduler', use_karras_sigmas: true }).kind, 'euler-ancestral');
  });
});

describe('schedulerConfigForPipeline', () => {
  it("applies StableDiffusionPipeline's rewrite (steps_offset 1, clip_sample false) and leaves other pipelines' configs alone", () => {
    const ddim = parseSchedulerConfig({ _class_name: 'DDIMScheduler', ...SD_BETAS }, FILE);
    const fixed = planScheduler(schedulerConfigForPipeline(ddim, 'OnnxStableDiffusionPipeline'));
    assert.ok(fixed.kind === 'ddim' && !fixed.config.clip_sample && fixed.config.steps_offset === 1);
    assert.deepEqual(createScheduler(schedulerConfigForPipeline(ddim, 'StableDiffusionPipeline'), 4).timesteps, [751, 501, 251, 1]);
    assert.equal(schedulerConfigForPipeline(ddim, 'StableDiffusionXLPipeline'), ddim);
    const untouched = planScheduler(schedulerConfigForPipeline(ddim, 'StableDiffusionXLPipeline'));
    assert.ok(untouched.kind === 'ddim' && untouched.config.clip_sample && untouched.config.steps_offset === 0);
  });
});

describe('createScheduler', () => {
  const sd15 = parseSchedulerConfig(SD15_PNDM, FILE);

  it('refuses step counts outside the plan', () => {
    assert.throws(() => createScheduler(sd15, 0), RangeError);
    assert.throws(() => createScheduler(sd15, 2.5), RangeError);
    assert.throws(() => createScheduler(sd15, 1001), RangeError);
    assert.throws(() => createScheduler(parseSchedulerConfig({ _class_name: 'LCMScheduler' }, FILE), 51), /\[1, 50\]/);
    // numpy's arange overshoot would make DDIM read alphas_cumprod[-1]: refused rather than followed.
    assert.throws(() => createScheduler(parseSchedulerConfig({ _class_name: 'DDIMScheduler', timestep_spacing: 'trailing' }, FILE), 61), /timestep -1/);
  });

  it('names the class, substitution included', () => {
    assert.equal(createScheduler(sd15, 4).name, 'EulerDiscreteScheduler (for PNDMScheduler)');
  });

  it('img2img: starts part-way through the same schedule; SD runs ⌊steps·strength⌋ steps, flow matching ⌈steps·strength⌉', () => {
    const full = createScheduler(sd15, 10).timesteps;
    assert.deepEqual(createScheduler(sd15, 10, { strength: 0.25 }).timesteps, full.slice(8));
    const flow = parseSchedulerConfig({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 }, FILE);
    assert.deepEqual(createScheduler(flow, 10, { strength: 0.25 }).timesteps, createScheduler(flow, 10).timesteps.slice(7));
    assert.throws(() => createScheduler(sd15, 10, { strength: 0.05 }), /leaves none/);
    assert.throws(() => createScheduler(sd15, 10, { strength: 0 }), RangeError);
    assert.throws(() => createScheduler(sd15, 10, { strength: 1.5 }), RangeError);
  });

  it('img2img with LCM shortens the distillation grid and runs every step (diffusers LCM img2img)', () => {
    const lcm = parseSchedulerConfig({ _class_name: 'LCMScheduler', ...SD_BETAS }, FILE);
    assert.deepEqual(createScheduler(lcm, 4, { strength: 0.5 }).timesteps, [499, 379, 259, 139]);
    assert.throws(() => createScheduler(lcm, 4, { strength: 0.06 }), RangeError);
  });
});

describe('startStepForStrength', () => {
  it("follows each diffusers family's get_timesteps, float products included", () => {
    assert.equal(startStepForStrength(10, 0.25, 'stable-diffusion'), 8);
    assert.equal(startStepForStrength(10, 0.25, 'flow-match'), 7);
    assert.equal(startStepForStrength(10, 0.3, 'stable-diffusion'), 7);
    assert.equal(startStepForStrength(100, 0.29, 'stable-diffusion'), 72); // 100 × 0.29 = 28.999999999999996
    assert.equal(startStepForStrength(100, 0.29, 'flow-match'), 71);
    assert.equal(startStepForStrength(25, 1, 'stable-diffusion'), 0);
    assert.equal(startStepForStrength(25, 1, 'flow-match'), 0);
  });
});
