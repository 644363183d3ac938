import { loadSharp } from '../pipelines/sharp-loader.js';
import type { RawImage } from '../pipelines/raw-image.js';
import type { ImageInput } from './decode-image.js';

/**
 * Supplies the picture the text goes on: the lane's diffusion pipeline, or a stand-in. Same arguments, same pixels.
 * A diffusion pipeline plugs in as `(width, height, seed) => pipeline.run([{ prompt, width, height, seed }]).then(([image]) => image!)`.
 */
export type BackgroundProvider = (width: number, height: number, seed: number) => Promise<ImageInput>;

/**
 * A deterministic stand-in background: a smooth, colourful gradient (a seeded 4 × 4 grid of random
 * colours, bicubically enlarged) with a little seeded grain. Dark, light and mixed areas all occur,
 * so the contrast logic is exercised.
 */
export const gradientBackground = async (width: number, height: number, seed: number): Promise<RawImage> => {
  const sharp = await loadSharp();
  const random = mulberry32(seed);
  const grid = Buffer.alloc(4 * 4 * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = Math.floor(random() * 256);
  const { data } = await sharp(grid, { raw: { width: 4, height: 4, channels: 3 } })
    .resize(width, height, { kernel: 'cubic', fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, data[i]! + Math.round((random() - 0.5) * 16)));
  return { pixels: data, width, height, channels: 3 };
};

/** A uniform background of one colour. */
export function solidBackground(color: { r: number; g: number; b: number }): (width: number, height: number, seed?: number) => Promise<RawImage> {
  return async (width, height) => {
    const data = Buffer.alloc(width * height * 3);
    for (let i = 0; i < data.length; i += 3) {
      data[i] = color.r;
      data[i + 1] = color.g;
      data[i + 2] = color.b;
    }
    return { pixels: data, width, height, channels: 3 };
  };
}

/** Small, fast, seeded PRNG (mulberry32): the same seed gives the same sequence everywhere. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
