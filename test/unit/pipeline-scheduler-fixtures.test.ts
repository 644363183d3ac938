import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createScheduler, parseSchedulerConfig, planScheduler } from '../../workers/pipelines/schedulers/index.js';
import { ddimSchedule } from '../../workers/pipelines/schedulers/ddim-sampler.js';
import { eulerAncestralSchedule } from '../../workers/pipelines/schedulers/euler-ancestral-sampler.js';
import { eulerDiscreteSchedule, type SigmaSchedule } from '../../workers/pipelines/schedulers/euler-discrete-sampler.js';
import { flowMatchEulerSchedule } from '../../workers/pipelines/schedulers/flow-match-euler-sampler.js';
import { lcmBoundaryScalings } from '../../workers/pipelines/schedulers/lcm-sampler.js';
import { trainingAlphasCumprod, type TrainingScheduleConfig } from '../../workers/pipelines/schedulers/training-schedule.js';

// Written by scripts/fixtures/diffusers-schedules.py, a numpy port of diffusers' set_timesteps code (the commit
// it read is in the file). Compared within 1e-6 relative as asked; in fact all are bit-identical except the
// fractional timesteps that _sigma_to_t derives from Karras/exponential sigmas and the continuous 0.25·ln σ
// ones, which go through numpy's float32 log.

interface FixtureSchedule {
  steps: number;
  strength?: number;
  timesteps: number[];
  sigmas?: number[];
  initNoiseSigma: number;
  alphasCumprod?: number[];
  prevAlphasCumprod?: number[];
  cSkip?: number[];
  cOut?: number[];
}
interface Fixture {
  diffusersCommit: string;
  cases: { name: string; runs: string; config: Record<string, unknown>; schedules: FixtureSchedule[] }[];
  trainingSchedules: { name: string; config: TrainingScheduleConfig; indices: number[]; alphasCumprod: number[] }[];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/diffusers-schedules.json', import.meta.url), 'utf8')) as Fixture;

function assertClose(actual: readonly number[], expected: readonly number[], what: string, relative = 1e-6): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((value, i) => {
    const scale = Math.max(Math.abs(expected[i]!), 1e-12);
    assert.ok(Math.abs(value - expected[i]!) <= relative * scale, `${what}[${i}]: ${value} vs diffusers ${expected[i]}`);
  });
}

describe('scheduler fixtures (diffusers timesteps and sigmas)', () => {
  it('were generated from a pinned diffusers commit', () => {
    assert.match(fixture.diffusersCommit, /^[0-9a-f]{40}$/);
    assert.ok(fixture.cases.length >= 15);
  });

  for (const fixtureCase of fixture.cases) {
    it(`${fixtureCase.name}: ${String(fixtureCase.config['_class_name'])} runs as ${fixtureCase.runs}`, () => {
      const config = parseSchedulerConfig(fixtureCase.config, `${fixtureCase.name}/scheduler_config.json`);
      const plan = planScheduler(config);
      assert.ok(plan.name.startsWith(fixtureCase.runs), plan.name);
      for (const expected of fixtureCase.schedules) {
        const label = `${fixtureCase.name} × ${expected.steps}${expected.strength === undefined ? '' : ` @${expected.strength}`}`;
        const scheduler = createScheduler(config, expected.steps, { strength: expected.strength });
        // Sigma-derived fractional timesteps (Karras, exponential, continuous) pass through a float32 log.
        const derived = plan.kind === 'euler-discrete' && (plan.config.use_karras_sigmas || plan.config.use_exponential_sigmas || plan.config.timestep_type === 'continuous');
        if (derived) assertClose(scheduler.timesteps, expected.timesteps, `${label} timesteps`);
        else assert.deepEqual(scheduler.timesteps, expected.timesteps, `${label} timesteps`);
        assertClose([scheduler.initNoiseSigma], [expected.initNoiseSigma], `${label} initNoiseSigma`);

        let sigmaSchedule: SigmaSchedule | undefined;
        if (plan.kind === 'euler-discrete') sigmaSchedule = eulerDiscreteSchedule(plan.config, expected.steps);
        if (plan.kind === 'euler-ancestral') sigmaSchedule = eulerAncestralSchedule(plan.config, expected.steps);
        if (plan.kind === 'flow-match-euler') sigmaSchedule = flowMatchEulerSchedule(plan.config, expected.steps);
        if (sigmaSchedule !== undefined) assertClose(sigmaSchedule.sigmas, expected.sigmas!, `${label} sigmas`);
        if (plan.kind === 'ddim') {
          const ddim = ddimSchedule(plan.config, expected.steps);
          assertClose(ddim.alphasCumprod, expected.alphasCumprod!, `${label} ᾱ_t`);
          assertClose(ddim.prevAlphasCumprod, expected.prevAlphasCumprod!, `${label} ᾱ_prev`);
        }
        if (plan.kind === 'lcm') {
          const alphas = trainingAlphasCumprod(plan.config);
          const scalings = scheduler.timesteps.map((t) => lcmBoundaryScalings(t, plan.config.timestep_scaling));
          assertClose(scalings.map((s) => s.cSkip), expected.cSkip!, `${label} c_skip`);
          assertClose(scalings.map((s) => s.cOut), expected.cOut!, `${label} c_out`);
          assertClose(scheduler.timesteps.map((t) => alphas[t]!), expected.alphasCumprod!, `${label} ᾱ_t`);
        }
      }
    });
  }

  it('reproduce the reference points: trailing at 16 steps rounds half to even (811/561/311/61), leading counts up from steps_offset', () => {
    const turbo = fixture.cases.find((c) => c.name === 'sd-turbo')!;
    const sixteen = createScheduler(parseSchedulerConfig(turbo.config, 'sd-turbo'), 16).timesteps;
    for (const t of [811, 561, 311, 61]) assert.ok(sixteen.includes(t), `${t} in ${sixteen.join(',')}`);
    for (const t of [812, 562, 312, 62]) assert.ok(!sixteen.includes(t), `${t} (round half up) in ${sixteen.join(',')}`);
    const sdxl = fixture.cases.find((c) => c.name === 'sdxl')!;
    assert.deepEqual(createScheduler(parseSchedulerConfig(sdxl.config, 'sdxl'), 4).timesteps, [751, 501, 251, 1]);
    const lcm = fixture.cases.find((c) => c.name === 'lcm')!;
    assert.deepEqual(createScheduler(parseSchedulerConfig(lcm.config, 'lcm'), 4).timesteps, [999, 759, 499, 259]);
  });

  it('reproduce diffusers where it does not run the requested step count: trailing at 61 steps runs 62, the last at t = -1', () => {
    const turbo = fixture.cases.find((c) => c.name === 'sd-turbo')!;
    const timesteps = createScheduler(parseSchedulerConfig(turbo.config, 'sd-turbo'), 61).timesteps;
    assert.equal(timesteps.length, 62);
    assert.equal(timesteps.at(-1), -1);
  });

  for (const training of fixture.trainingSchedules) {
    it(`training ᾱ table ${training.name} matches torch's float32 computation`, () => {
      const alphas = trainingAlphasCumprod(training.config);
      assertClose(
        training.indices.map((i) => alphas[i]!),
        training.alphasCumprod,
        training.name,
      );
    });
  }
});
