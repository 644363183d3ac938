// The colour an edit oracle export must land on, worked out without the pipeline: the scheduler (checked against
// diffusers' own numbers in the scheduler fixtures) steps a noise-free latent with the oracle denoiser's prediction
// written out in TypeScript (x0 = T + a·(m − T), see denoiser-graph.ts), blending the source back outside the mask
// after every step as diffusers' StableDiffusionInpaintPipeline does for a 4-channel UNet.
import { sigmaTable } from '../../scripts/onnx/exports/denoiser-graph.js';
import type { ExportSpec } from '../../scripts/onnx/exports/export-spec.js';
import { latentChannels, oracleDecode, oracleEncode, toByte } from '../../scripts/onnx/exports/oracle.js';
import { parseSchedulerConfig, planScheduler, schedulerConfigForPipeline, schedulerFromPlan, SeededNoise } from '../../workers/pipelines/index.js';

/** A colour as 8-bit RGB. */
export type Rgb = readonly [number, number, number];

export interface EditReferenceCase {
  /** The clean latent the prompt steers to (`oracleTarget`). */
  target: readonly number[];
  source: Rgb;
  steps: number;
  strength: number;
  /** Latent cells that repaint (1) or keep (0), `cells` long; undefined: every cell repaints. */
  latentMask?: Float32Array;
  cells: number;
}

/** Runs the reference; returns each latent cell's decoded colour and how many denoiser steps ran. */
export function referenceEdit(spec: ExportSpec, c: EditReferenceCase): { colours: Rgb[]; stepsRun: number } {
  const channels = latentChannels(spec);
  const a = spec.oracleContraction ?? 0;
  const config = parseSchedulerConfig(spec.scheduler, 'scheduler_config.json');
  const scheduler = schedulerFromPlan(planScheduler(schedulerConfigForPipeline(config, spec.pipelineClass)), c.steps, { strength: c.strength });
  const { cells } = c;
  const clean = new Float32Array(channels * cells);
  const encoded = oracleEncode(spec, c.source.map((v) => (v / 255) * 2 - 1));
  for (let ch = 0; ch < channels; ch++) clean.fill(encoded[ch]!, ch * cells, (ch + 1) * cells);
  const zeros = new Float32Array(clean.length);
  const latents = scheduler.addNoise(clean, zeros, 0);
  const sigmas = sigmaTable(spec.scheduler);
  const sigmaAt = (t: number) => {
    if (spec.prediction === 'flow') return t / ((spec.scheduler.num_train_timesteps as number | undefined) ?? 1000);
    const tc = Math.min(Math.max(t, 0), sigmas.length - 1);
    const i0 = Math.floor(tc);
    const i1 = Math.min(i0 + 1, sigmas.length - 1);
    return sigmas[i0]! + (tc - i0) * (sigmas[i1]! - sigmas[i0]!);
  };
  const noises = [new SeededNoise(0)];
  const last = scheduler.timesteps.length - 1;
  for (let i = 0; i <= last; i++) {
    const s = scheduler.scaleModelInput(latents, i);
    const sigma = sigmaAt(scheduler.timesteps[i]!);
    const root = Math.sqrt(1 + sigma * sigma);
    const prediction = new Float32Array(s.length);
    for (let ch = 0; ch < channels; ch++) {
      let sum = 0;
      for (let k = 0; k < cells; k++) sum += spec.prediction === 'flow' ? s[ch * cells + k]! / Math.max(1 - sigma, 1e-3) : s[ch * cells + k]! * root;
      const x0 = c.target[ch]! + a * (sum / cells - c.target[ch]!);
      for (let k = 0; k < cells; k++) {
        const v = s[ch * cells + k]!;
        prediction[ch * cells + k] = spec.prediction === 'flow' ? (v - x0) / sigma : (v * root - x0) / sigma;
      }
    }
    scheduler.step(prediction, i, latents, latents.length, noises);
    if (c.latentMask !== undefined) {
      const proper = i < last ? scheduler.addNoise(clean, zeros, i + 1) : clean;
      for (let k = 0; k < latents.length; k++) {
        const m = c.latentMask[k % cells]!;
        latents[k] = (1 - m) * proper[k]! + m * latents[k]!;
      }
    }
  }
  const colours: Rgb[] = [];
  for (let k = 0; k < cells; k++) {
    const latent = Array.from({ length: channels }, (_, ch) => latents[ch * cells + k]!);
    colours.push(oracleDecode(spec, latent).map(toByte) as unknown as Rgb);
  }
  return { colours, stepsRun: scheduler.timesteps.length };
}
