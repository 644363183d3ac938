import sharp, { type Sharp } from 'sharp';

/** Decoded pixels: 8-bit sRGB, 3 channels, row-major, no padding. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

/** Decoded pixels as the lane's pipelines produce them (`workers/pipelines`' `RawImage`): 8-bit RGB, interleaved. */
export interface PipelineRawImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/**
 * An image as the lane receives it: anything sharp reads (PNG, JPEG, WebP…), or decoded RGB in either
 * this module's shape or the pipelines' (so a diffusion pipeline's output goes in as it is).
 */
export type ImageInput = Uint8Array | RawImage | PipelineRawImage;

/** Decodes to 8-bit sRGB without alpha (transparent pixels are flattened onto white). */
export async function decodeImage(input: ImageInput): Promise<RawImage> {
  if (!(input instanceof Uint8Array)) {
    const data = 'data' in input ? input.data : Buffer.from(input.pixels.buffer, input.pixels.byteOffset, input.pixels.byteLength);
    if (input.channels !== 3 || data.length !== input.width * input.height * 3) {
      throw new RangeError(`raw image must be 3-channel with width × height × 3 = ${input.width * input.height * 3} bytes, got ${input.channels} channels and ${data.length} bytes`);
    }
    return { data, width: input.width, height: input.height, channels: 3 };
  }
  const { data, info } = await sharp(input).flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

/** A sharp pipeline reading the raw pixels. */
export function sharpFromRaw(image: RawImage): Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
}

/** PNG bytes of the raw pixels. */
export function encodePng(image: RawImage): Promise<Buffer> {
  return sharpFromRaw(image).png().toBuffer();
}
