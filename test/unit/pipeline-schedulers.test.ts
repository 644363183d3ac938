import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EulerDiscreteScheduler, LcmScheduler } from '../../workers/pipelines/schedulers.js';
import { SeededNoise } from '../../workers/pipelines/seeded-noise.js';

describe('schedulers', () => {
  it('LCM picks diffusers LCMScheduler timesteps and returns the denoised x0 on its last step', () => {
    const lcm = new LcmScheduler(4);
    assert.deepEqual(lcm.timesteps, [999, 759, 499, 259]);
    assert.deepEqual(new LcmScheduler(1).timesteps, [999]);
    // With ε = the true noise, the last step returns x0 (c_skip ≈ 0 at t = 259).
    const x0 = 0.7;
    const noise = 0.3;
    const single = new LcmScheduler(1);
    const a = 0.0047; // ᾱ_999 of SD's schedule, rounded
    const latents = Float32Array.of(Math.sqrt(a) * x0 + Math.sqrt(1 - a) * noise);
    single.step(Float32Array.of(noise), 0, latents, 1, [new SeededNoise(1)]);
    assert.ok(Math.abs(latents[0]! - x0) < 0.05, `x0 ${latents[0]}`);
    assert.throws(() => new LcmScheduler(0), RangeError);
  });

  it('Euler starts at t=999 with σ_max noise and ends at σ=0 on the clean sample', () => {
    const euler = new EulerDiscreteScheduler(20);
    assert.equal(euler.timesteps[0], 999);
    assert.equal(euler.timesteps.length, 20);
    assert.ok(euler.timesteps.every((t, i) => i === 0 || t < euler.timesteps[i - 1]!));
    assert.ok(euler.initNoiseSigma > 14 && euler.initNoiseSigma < 15, `σ_max ${euler.initNoiseSigma}`);
    // A perfect denoiser (ε = (x − x0)/σ) lands exactly on x0.
    const x0 = 0.4;
    const latents = Float32Array.of(x0 + euler.initNoiseSigma * 1.3);
    for (let i = 0; i < euler.timesteps.length; i++) {
      const scaled = euler.scaleModelInput(latents, i);
      assert.ok(Math.abs(scaled[0]!) < 2);
      const sigma = (latents[0]! - x0) / 1.3;
      euler.step(Float32Array.of((latents[0]! - x0) / sigma), i, latents);
    }
    assert.ok(Math.abs(latents[0]! - x0) < 1e-4, `x ${latents[0]}`);
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
