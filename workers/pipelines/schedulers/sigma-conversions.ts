import { f32, linspace } from './numpy-ops.js';

/** Optional `sigma_min` / `sigma_max` from the config; when null, the ends of the sigmas being converted. */
export interface SigmaRange {
  sigma_min: number | null;
  sigma_max: number | null;
}

/** Karras et al. (arXiv 2206.00364) ρ = 7 spacing between the range's ends: diffusers' `_convert_to_karras`. */
export function karrasSigmas(sigmas: readonly number[], steps: number, range: SigmaRange): number[] {
  const sigmaMin = range.sigma_min ?? sigmas[sigmas.length - 1]!;
  const sigmaMax = range.sigma_max ?? sigmas[0]!;
  const rho = 7;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return linspace(0, 1, steps).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/** Log-uniform spacing between the range's ends: diffusers' `_convert_to_exponential`. */
export function exponentialSigmas(sigmas: readonly number[], steps: number, range: SigmaRange): number[] {
  const sigmaMin = range.sigma_min ?? sigmas[sigmas.length - 1]!;
  const sigmaMax = range.sigma_max ?? sigmas[0]!;
  return linspace(Math.log(sigmaMax), Math.log(sigmaMin), steps).map(Math.exp);
}

/**
 * The fractional training timestep whose σ is `sigma`, interpolating log σ between table neighbours: diffusers'
 * `EulerDiscreteScheduler._sigma_to_t`, including its dtypes (the neighbours' difference is float32, the rest
 * float64) and its choice of the last table entry at or below log σ.
 * @param logSigmas `np.log` of the float32 sigma table (float32).
 */
export function sigmaToTimestep(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let j = 0; j < logSigmas.length; j++) if (logSigma >= logSigmas[j]!) low = j;
  low = Math.min(low, logSigmas.length - 2);
  const lowLog = logSigmas[low]!;
  const highLog = logSigmas[low + 1]!;
  const w = Math.min(Math.max((lowLog - logSigma) / f32(lowLog - highLog), 0), 1);
  return (1 - w) * low + w * (low + 1);
}
