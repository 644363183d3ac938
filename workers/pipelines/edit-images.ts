import { loadSharp } from './sharp-loader.js';
import { EDIT_SOURCE_SIDE, FleetError } from '../../contract/index.js';
import { sharpFromRaw, type RawImage } from './raw-image.js';
import { decodeSource } from './upscale-pipeline.js';

/** Edit sources and masks bigger than the largest allowed side squared are refused before their pixels are decoded. */
const EDIT_MAX_PIXELS = EDIT_SOURCE_SIDE.max * EDIT_SOURCE_SIDE.max;

/** An edit's source and its mask, decoded at the source's own size. */
export interface EditImages {
  source: RawImage;
  /** Repaint weight per pixel in [0, 1] (white 1, black 0, grey between), row-major at the source's size. */
  mask: Float32Array | undefined;
}

/** A single-channel 8-bit image: a mask as sharp decodes it. */
interface GreyImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decodes an edit's source (any format sharp reads; alpha dropped) and mask (read as luminance).
 * @throws FleetError E_SOURCE naming `source.key` or `mask.key` when one is not an image, or when the mask's size is
 *   not the source's (the edge checks that from the stored headers when it can; the worker checks what it decodes).
 */
export async function decodeEditImages(source: Uint8Array, mask: Uint8Array | undefined): Promise<EditImages> {
  const image = await decodeSource(source, { maxPixels: EDIT_MAX_PIXELS, what: 'the edit source', field: 'source.key' });
  if (mask === undefined) return { source: image, mask: undefined };
  const grey = await decodeGrey(mask);
  if (grey.width !== image.width || grey.height !== image.height) {
    throw new FleetError('E_SOURCE', `the mask is ${grey.width}x${grey.height} but its source is ${image.width}x${image.height}; they must be the same size`, { field: 'mask.key' });
  }
  const weights = new Float32Array(grey.pixels.length);
  for (let i = 0; i < weights.length; i++) weights[i] = grey.pixels[i]! / 255;
  return { source: image, mask: weights };
}

async function decodeGrey(bytes: Uint8Array): Promise<GreyImage> {
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: EDIT_MAX_PIXELS }).removeAlpha().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) throw new Error(`decoded to ${info.channels} channels`);
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    throw new FleetError('E_SOURCE', 'the edit mask could not be decoded as an image', { field: 'mask.key', cause: error });
  }
}

/** An RGB image resized to exactly `width`×`height` (fill: no crop, so every pixel keeps its place in the frame). */
export async function resizeToFill(image: RawImage, width: number, height: number): Promise<RawImage> {
  if (image.width === width && image.height === height) return image;
  const { data, info } = await (await sharpFromRaw(image))
    .resize({ width, height, fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
}

/** A mask resized to `width`×`height` (bilinear, so soft edges stay soft). */
export async function resizeMask(mask: Float32Array, fromWidth: number, fromHeight: number, width: number, height: number): Promise<Float32Array> {
  const sharp = await loadSharp();
  if (fromWidth === width && fromHeight === height) return mask;
  const bytes = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) bytes[i] = Math.round(mask[i]! * 255);
  const { data } = await sharp(bytes, { raw: { width: fromWidth, height: fromHeight, channels: 1 } })
    .resize({ width, height, fit: 'fill', kernel: 'linear' })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = data[i]! / 255;
  return out;
}

/**
 * The image as the VAE encoder takes it: planar [3, H, W] in [-1, 1] (diffusers' `2x − 1`), written at `offset`.
 * Where `repaint` is given, pixels it marks (≥ 0.5) are zeroed, as diffusers' inpaint pipelines build the masked
 * image (`image * (mask < 0.5)`).
 */
export function imageToPlanar(image: RawImage, target: Float32Array, offset: number, repaint?: Float32Array): void {
  const plane = image.width * image.height;
  for (let p = 0; p < plane; p++) {
    const kept = repaint === undefined || repaint[p]! < 0.5;
    for (let c = 0; c < 3; c++) target[offset + c * plane + p] = kept ? (image.pixels[p * 3 + c]! / 255) * 2 - 1 : 0;
  }
}

/**
 * The mask at latent resolution, binarised at 0.5 (diffusers' mask processor binarises) and downsampled by nearest
 * neighbour (`torch.nn.functional.interpolate`'s default: cell (i, j) takes pixel (⌊i·H/h⌋, ⌊j·W/w⌋)).
 */
export function latentMask(mask: Float32Array, width: number, height: number, latentWidth: number, latentHeight: number): Float32Array {
  const out = new Float32Array(latentWidth * latentHeight);
  for (let i = 0; i < latentHeight; i++) {
    const y = Math.floor((i * height) / latentHeight);
    for (let j = 0; j < latentWidth; j++) {
      const x = Math.floor((j * width) / latentWidth);
      out[i * latentWidth + j] = mask[y * width + x]! >= 0.5 ? 1 : 0;
    }
  }
  return out;
}

/**
 * The edit's result: the generated image where the mask repaints, the source's own bytes where it does not, and a
 * blend `round(source·(1−m) + generated·m)` where it is grey, so pixels outside a hard mask are untouched.
 */
export function compositeEdit(source: RawImage, generated: RawImage, mask: Float32Array | undefined): RawImage {
  if (mask === undefined) return generated;
  const pixels = new Uint8Array(source.pixels.length);
  for (let p = 0; p < mask.length; p++) {
    const m = mask[p]!;
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c;
      pixels[i] = m === 0 ? source.pixels[i]! : m === 1 ? generated.pixels[i]! : Math.round(source.pixels[i]! * (1 - m) + generated.pixels[i]! * m);
    }
  }
  return { pixels, width: source.width, height: source.height, channels: 3 };
}
