import type { AllowedSizes } from '../models/model-manifest.js';

/**
 * The size a model renders for a requested output size. Models accept only some sizes (multiples of 64
 * within a range, or a list); the request may ask any multiple of 8 from 64 to 2048. The model renders the
 * nearest allowed size of about the same aspect and pixel count (never above its maximum), and
 * post-processing resizes to exactly what was asked.
 */
export function planRenderSize(sizes: AllowedSizes, width: number, height: number): { width: number; height: number } {
  if ('list' in sizes) {
    const aspect = width / height;
    const pixels = width * height;
    const score = (s: { width: number; height: number }) => Math.abs(Math.log(s.width / s.height / aspect)) * 4 + Math.abs(Math.log((s.width * s.height) / pixels));
    return [...sizes.list].sort((a, b) => score(a) - score(b))[0]!;
  }
  const { max } = sizes;
  // Scale down uniformly when a side is over the maximum, so the aspect survives.
  const shrink = Math.min(1, max / width, max / height);
  return { width: fitSide(width, shrink, sizes), height: fitSide(height, shrink, sizes) };
}

function fitSide(side: number, shrink: number, { min, max, multipleOf }: { min: number; max: number; multipleOf: number }): number {
  return Math.min(max, Math.max(min, Math.round((side * shrink) / multipleOf) * multipleOf));
}
