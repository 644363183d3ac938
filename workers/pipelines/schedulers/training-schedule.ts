import { f32 } from './numpy-ops.js';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

/** The training noise schedule every DDPM-family scheduler builds in `__init__` (diffusers' config keys). */
export interface TrainingScheduleConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  /** Replaces `beta_start`/`beta_end`/`beta_schedule` when set. */
  trained_betas: readonly number[] | null;
  rescale_betas_zero_snr: boolean;
}

/**
 * ᾱ_t (alphas_cumprod) for t = 0 … T−1, computed as diffusers does: torch float32 tensors on the CPU, so the table
 * agrees with diffusers' to the last float32 bit rather than to float64 (over 1000 products the two drift apart
 * by more than the fixtures' tolerance).
 */
export function trainingAlphasCumprod(config: TrainingScheduleConfig): Float32Array {
  let betas = trainingBetas(config);
  if (config.rescale_betas_zero_snr) betas = rescaleZeroTerminalSnr(betas);
  return cumprodOfOneMinus(betas);
}

/** σ_t = √((1 − ᾱ_t)/ᾱ_t) per training timestep, in float32 as `((1 - ac) / ac) ** 0.5` on a float32 tensor. */
export function sigmaTable(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

function trainingBetas(config: TrainingScheduleConfig): Float32Array {
  const { num_train_timesteps: count, beta_start: start, beta_end: end } = config;
  if (config.trained_betas !== null) return Float32Array.from(config.trained_betas);
  switch (config.beta_schedule) {
    case 'linear':
      return torchLinspaceFloat32(start, end, count);
    case 'scaled_linear':
      return torchLinspaceFloat32(Math.sqrt(start), Math.sqrt(end), count).map((b) => f32(b * b));
    case 'squaredcos_cap_v2':
      return betasForAlphaBar(count);
  }
}

/**
 * torch.linspace in float32 on the CPU: the first half counts up from `start`, the second down from `end`, every
 * product and sum rounded to float32 (ATen's RangeFactoriesKernel.cpp, which has no vectorised path).
 */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const first = f32(start);
  const last = f32(end);
  if (steps === 1) return Float32Array.of(first);
  const step = f32(f32(last - first) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const out = new Float32Array(steps);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? f32(first + f32(step * i)) : f32(last - f32(step * (steps - i - 1)));
  return out;
}

/** Glide's cosine schedule (`squaredcos_cap_v2`): float64 in Python, stored as float32. */
function betasForAlphaBar(count: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  return Float32Array.from({ length: count }, (_, i) => Math.min(1 - alphaBar((i + 1) / count) / alphaBar(i / count), maxBeta));
}

/** torch.cumprod(1 − β) on the CPU: a float64 running product, each output rounded to float32. */
function cumprodOfOneMinus(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= f32(1 - betas[i]!);
    out[i] = product;
  }
  return out;
}

/** Rescales betas to zero terminal SNR (arXiv 2305.08891, Algorithm 1), in float32 as diffusers does. */
function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const root = cumprodOfOneMinus(betas).map((a) => f32(Math.sqrt(a)));
  const first = root[0]!;
  const last = root[root.length - 1]!;
  const scale = f32(first / f32(first - last));
  const alphasBar = root.map((r) => {
    const shifted = f32(f32(r - last) * scale);
    return f32(shifted * shifted);
  });
  const out = new Float32Array(betas.length);
  out[0] = f32(1 - alphasBar[0]!);
  for (let i = 1; i < out.length; i++) out[i] = f32(1 - f32(alphasBar[i]! / alphasBar[i - 1]!));
  return out;
}
