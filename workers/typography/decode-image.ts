import { loadSharp } from '../pipelines/sharp-loader.js';
import type { RawImage } from '../pipelines/raw-image.js';

/** An image as the lane receives it: anything sharp reads (PNG, JPEG, WebP…), or decoded RGB (a pipeline's output as it is). */
export type ImageInput = Uint8Array | RawImage;

/** Decodes to 8-bit sRGB without alpha (transparent pixels are flattened onto white). */
export async function decodeImage(input: ImageInput): Promise<RawImage> {
  const sharp = await loadSharp();
  if (!(input instanceof Uint8Array)) {
    if (input.channels !== 3 || input.pixels.length !== input.width * input.height * 3) {
      throw new RangeError(`raw image must be 3-channel with width × height × 3 = ${input.width * input.height * 3} bytes, got ${input.channels} channels and ${input.pixels.length} bytes`);
    }
    return input;
  }
  const { data, info } = await sharp(input).flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height, channels: 3 };
}
