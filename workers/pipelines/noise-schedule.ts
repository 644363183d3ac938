/**
 * The DDPM training noise schedule that Stable Diffusion checkpoints were trained with. Schedulers read it;
 * the model builder bakes the same table into its toy denoiser so the two agree.
 */
export interface NoiseScheduleOptions {
  /** Training timesteps. @default 1000 */
  trainTimesteps?: number;
  /** First beta. @default 0.00085 */
  betaStart?: number;
  /** Last beta. @default 0.012 */
  betaEnd?: number;
  /** `scaled_linear` (SD 1.x/2.x) interpolates sqrt(beta) linearly; `linear` interpolates beta. @default 'scaled_linear' */
  betaSchedule?: 'scaled_linear' | 'linear';
}

export const NOISE_SCHEDULE_DEFAULTS = {
  trainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
} as const satisfies Required<NoiseScheduleOptions>;

/** ᾱ_t (alphas_cumprod) for t = 0 … trainTimesteps−1, as float64. */
export function alphasCumprod(options: NoiseScheduleOptions = {}): Float64Array {
  const { trainTimesteps, betaStart, betaEnd, betaSchedule } = { ...NOISE_SCHEDULE_DEFAULTS, ...options };
  const out = new Float64Array(trainTimesteps);
  let product = 1;
  for (let t = 0; t < trainTimesteps; t++) {
    const fraction = trainTimesteps === 1 ? 0 : t / (trainTimesteps - 1);
    const beta =
      betaSchedule === 'scaled_linear'
        ? (Math.sqrt(betaStart) + fraction * (Math.sqrt(betaEnd) - Math.sqrt(betaStart))) ** 2
        : betaStart + fraction * (betaEnd - betaStart);
    product *= 1 - beta;
    out[t] = product;
  }
  return out;
}
