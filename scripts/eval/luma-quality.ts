// Luma PSNR and SSIM as super-resolution papers report them: on Y of BT.601 YCbCr (the MATLAB rgb2ycbcr that
// EDSR/RDN/ESRGAN evaluations use, Y in [16, 235]), with `borderPx` cut from every edge.
import type { RawImage } from '../../workers/pipelines/index.js';

/** Y of BT.601 studio-swing YCbCr, per pixel, from 8-bit RGB. */
export function lumaOf(image: RawImage): Float64Array {
  const y = new Float64Array(image.width * image.height);
  for (let i = 0; i < y.length; i++) {
    const o = i * 3;
    y[i] = 16 + (65.481 * image.pixels[o]! + 128.553 * image.pixels[o + 1]! + 24.966 * image.pixels[o + 2]!) / 255;
  }
  return y;
}

function cropped(luma: Float64Array, width: number, height: number, borderPx: number): { values: Float64Array; width: number; height: number } {
  const w = width - 2 * borderPx;
  const h = height - 2 * borderPx;
  const values = new Float64Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) values[y * w + x] = luma[(y + borderPx) * width + x + borderPx]!;
  return { values, width: w, height: h };
}

function sameSize(a: RawImage, b: RawImage): void {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`images differ in size: ${a.width}x${a.height} and ${b.width}x${b.height}`);
}

/** Luma PSNR in dB (peak 255). */
export function lumaPsnr(a: RawImage, b: RawImage, borderPx = 4): number {
  sameSize(a, b);
  const x = cropped(lumaOf(a), a.width, a.height, borderPx).values;
  const y = cropped(lumaOf(b), b.width, b.height, borderPx).values;
  let squared = 0;
  for (let i = 0; i < x.length; i++) squared += (x[i]! - y[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (squared / x.length));
}

/** Luma SSIM (Wang et al. 2004: 11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03, L 255), mean over valid windows. */
export function lumaSsim(a: RawImage, b: RawImage, borderPx = 4): number {
  sameSize(a, b);
  const x = cropped(lumaOf(a), a.width, a.height, borderPx);
  const y = cropped(lumaOf(b), b.width, b.height, borderPx).values;
  const radius = 5;
  const kernel: number[] = [];
  for (let i = -radius; i <= radius; i++) kernel.push(Math.exp(-(i * i) / (2 * 1.5 * 1.5)));
  const norm = kernel.reduce((s, v) => s + v, 0) ** 2;
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let total = 0;
  let windows = 0;
  for (let cy = radius; cy < x.height - radius; cy++) {
    for (let cx = radius; cx < x.width - radius; cx++) {
      let mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
      for (let dy = -radius; dy <= radius; dy++) {
        for (let dx = -radius; dx <= radius; dx++) {
          const w = (kernel[dy + radius]! * kernel[dx + radius]!) / norm;
          const p = (cy + dy) * x.width + cx + dx;
          const u = x.values[p]!;
          const v = y[p]!;
          mx += w * u; my += w * v; xx += w * u * u; yy += w * v * v; xy += w * u * v;
        }
      }
      const vx = xx - mx * mx;
      const vy = yy - my * my;
      const cov = xy - mx * my;
      total += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      windows++;
    }
  }
  return total / windows;
}
