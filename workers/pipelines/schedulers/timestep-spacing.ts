import { arange, f32, linspace, roundHalfEven } from './numpy-ops.js';

/** How inference timesteps sit on the training grid (arXiv 2305.08891, Table 2). */
export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';

/**
 * The `timestep_spacing` block of diffusers' `set_timesteps`, first (noisiest) to last.
 *
 * - `linspace`: `np.linspace(0, T − 1, n)`. Euler keeps the fractions (cast to float32); DDIM rounds half to even.
 * - `leading`: `arange(n) · (T // n) + steps_offset` (integer products, so `.round()` changes nothing).
 * - `trailing`: `round(np.arange(T, 0, −T/n)) − 1` with numpy's half-to-even rounding, and numpy's arange length
 *   (at some n, 61 the first, one element more than n, the last −1).
 *
 * @param linspaceValues `float32` (Euler, Euler ancestral) or `rounded` (DDIM's `.round().astype(np.int64)`).
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  trainTimesteps: number,
  steps: number,
  stepsOffset: number,
  linspaceValues: 'float32' | 'rounded',
): number[] {
  switch (spacing) {
    case 'linspace': {
      const values = linspace(0, trainTimesteps - 1, steps).map(linspaceValues === 'float32' ? f32 : roundHalfEven);
      return values.reverse();
    }
    case 'leading': {
      const ratio = Math.floor(trainTimesteps / steps);
      return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + stepsOffset);
    }
    case 'trailing':
      return arange(trainTimesteps, 0, -trainTimesteps / steps).map((t) => roundHalfEven(t) - 1);
  }
}
