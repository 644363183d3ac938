import type { Sharp } from 'sharp';
import { loadSharp } from './sharp-loader.js';

/**
 * An 8-bit RGB image, rows top to bottom, pixels interleaved (`r,g,b,r,g,b,…`), no padding: what sharp's `raw`
 * input takes. The one decoded-image type of workers/: pipelines produce it, typography and the finisher take it.
 */
export interface RawImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** A sharp pipeline reading the raw pixels. */
export async function sharpFromRaw(image: RawImage): Promise<Sharp> {
  const sharp = await loadSharp();
  return sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: image.channels } });
}

/** Value range of a float image tensor: VAE decoders emit [-1,1], super-resolution models [0,1]. */
export type TensorRange = 'minus-one-to-one' | 'zero-to-one';

/**
 * Splits a float NCHW batch `[count,3,height,width]` into 8-bit RGB images (clamped, rounded to nearest).
 */
export function tensorToRawImages(data: Float32Array, count: number, width: number, height: number, range: TensorRange): RawImage[] {
  const plane = width * height;
  const [scale, offset] = range === 'minus-one-to-one' ? [127.5, 1] : [255, 0];
  const images: RawImage[] = [];
  for (let n = 0; n < count; n++) {
    // A clamped view rounds and clamps on assignment, in native code: a 1024² image is millions of stores on the
    // main thread. It rounds halves to even (Math.round rounds them up): the same bytes for the same input.
    const pixels = new Uint8Array(plane * 3);
    const clamped = new Uint8ClampedArray(pixels.buffer);
    const base = n * 3 * plane;
    for (let c = 0; c < 3; c++) {
      const channel = base + c * plane;
      for (let p = 0, o = c; p < plane; p++, o += 3) clamped[o] = (data[channel + p]! + offset) * scale;
    }
    images.push({ pixels, width, height, channels: 3 });
  }
  return images;
}

/**
 * A `width`×`height` window of `image` at (left, top) as planar floats in [0, maxValue] (1 unless the model takes
 * [0,255]), written into `target` at `offset`.
 */
export function writeWindowAsPlanar(
  image: RawImage,
  left: number,
  top: number,
  width: number,
  height: number,
  target: Float32Array,
  offset: number,
  maxValue = 1,
): void {
  const plane = width * height;
  const gain = maxValue / 255;
  for (let y = 0; y < height; y++) {
    const row = ((top + y) * image.width + left) * 3;
    for (let x = 0; x < width; x++) {
      const source = row + x * 3;
      const p = offset + y * width + x;
      target[p] = image.pixels[source]! * gain;
      target[p + plane] = image.pixels[source + 1]! * gain;
      target[p + 2 * plane] = image.pixels[source + 2]! * gain;
    }
  }
}

/** Index `i` folded into [0, n) by mirroring at the edges without repeating them (numpy's `reflect`), any distance out. */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const folded = ((i % period) + period) % period;
  return folded < n ? folded : period - folded;
}

/** `image` grown to `width`×`height` by reflecting its right and bottom edges; the image itself when no larger. */
export function reflectPad(image: RawImage, width: number, height: number): RawImage {
  if (width === image.width && height === image.height) return image;
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = reflectIndex(y, image.height) * image.width;
    for (let x = 0; x < width; x++) {
      const from = (row + reflectIndex(x, image.width)) * 3;
      const to = (y * width + x) * 3;
      pixels[to] = image.pixels[from]!;
      pixels[to + 1] = image.pixels[from + 1]!;
      pixels[to + 2] = image.pixels[from + 2]!;
    }
  }
  return { pixels, width, height, channels: 3 };
}
