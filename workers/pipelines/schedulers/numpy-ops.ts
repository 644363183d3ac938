/**
 * The numpy operations diffusers' schedulers pick timesteps with, reproduced operation for operation in float64,
 * so that timesteps come out identical to diffusers' rather than merely close (a timestep one off is a different
 * noise level for the denoiser).
 */

/** Rounds to float32, as every elementwise op on a torch float32 tensor does. */
export const f32 = Math.fround;

/** `np.round(x)` / `ndarray.round()`: halves go to the even neighbour (62.5 → 62, 63.5 → 64). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor; // exact for doubles
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `np.linspace(start, stop, num, endpoint=endpoint)` in float64: `i·step + start`, the last one exactly `stop`. */
export function linspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  // numpy: a single point with endpoint has an undefined step and is `start` (np.linspace(0, 999, 1) is [0]).
  if (div <= 0) return num >= 1 ? [start] : [];
  const step = (stop - start) / div;
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` in float64. numpy sizes it `ceil((stop − start) / step)` and fills
 * `start + i·((start + step) − start)`, so a fractional step can give one element more than the ratio suggests
 * (`np.arange(1000, 0, -1000/61)` has 62 elements, the last −5.7e-13).
 */
export function arange(start: number, stop: number, step: number): number[] {
  const length = Math.ceil((stop - start) / step);
  if (!(length > 0)) return [];
  const out = [start];
  if (length > 1) out.push(start + step);
  const delta = start + step - start;
  for (let i = 2; i < length; i++) out.push(start + i * delta);
  return out;
}

/** `np.interp(x, np.arange(len(table)), table)` in float64 (clamped at both ends, exact at integers). */
export function interpOnIndex(x: number, table: ArrayLike<number>): number {
  const last = table.length - 1;
  if (Number.isNaN(x)) return x;
  if (x <= 0) return table[0]!;
  if (x >= last) return table[last]!;
  const j = Math.floor(x);
  if (j === x) return table[j]!;
  const slope = table[j + 1]! - table[j]!;
  return slope * (x - j) + table[j]!;
}
