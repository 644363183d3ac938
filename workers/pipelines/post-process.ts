import { sharpFromRaw, type RawImage } from './raw-image.js';

export type ImageFormat = 'png' | 'webp';

export interface EncodeImageOptions {
  /** Container of the full-size image. @default 'png' */
  format?: ImageFormat;
  /** WebP quality 1–100 (PNG is lossless and ignores it). @default 90 */
  quality?: number;
  /** Also produce a WebP preview whose longer side is `thumbnailSizePx`. @default true */
  thumbnail?: boolean;
  /** Longer side of the preview in pixels. @default 256 */
  thumbnailSizePx?: number;
}

export const ENCODE_IMAGE_DEFAULTS = {
  format: 'png',
  quality: 90,
  thumbnail: true,
  thumbnailSizePx: 256,
} satisfies Required<EncodeImageOptions>;

export interface EncodedImage {
  data: Buffer;
  /** `image/png` or `image/webp`. */
  contentType: string;
  width: number;
  height: number;
  /** WebP preview, when asked for. */
  thumbnail?: { data: Buffer; contentType: 'image/webp'; width: number; height: number };
}

/**
 * Encodes an 8-bit RGB image as PNG or WebP, plus a small WebP thumbnail for previews.
 * @throws RangeError for a quality or thumbnail size out of range.
 */
export async function encodeImage(image: RawImage, options: EncodeImageOptions = {}): Promise<EncodedImage> {
  const { format, quality, thumbnail, thumbnailSizePx } = { ...ENCODE_IMAGE_DEFAULTS, ...options };
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`quality must be an integer 1–100, got ${quality}`);
  if (!Number.isInteger(thumbnailSizePx) || thumbnailSizePx < 1) throw new RangeError(`thumbnailSizePx must be an integer >= 1, got ${thumbnailSizePx}`);
  const source = await sharpFromRaw(image);
  const encoded = format === 'png' ? source.png({ compressionLevel: 6 }) : source.webp({ quality });
  const data = await encoded.toBuffer();
  const result: EncodedImage = { data, contentType: `image/${format}`, width: image.width, height: image.height };
  if (thumbnail) {
    const { data: thumbData, info } = await (await sharpFromRaw(image))
      .resize({ width: thumbnailSizePx, height: thumbnailSizePx, fit: 'inside', withoutEnlargement: true })
      // Thumbnails are throwaway previews: the fastest WebP effort costs a fraction of the default's.
      .webp({ quality: 80, effort: 0 })
      .toBuffer({ resolveWithObject: true });
    result.thumbnail = { data: thumbData, contentType: 'image/webp', width: info.width, height: info.height };
  }
  return result;
}

/**
 * Resizes an RGB image to exactly `width`×`height` (cover: scaled to fill, centred, the overflow cropped;
 * Lanczos). Models render sizes they allow; this brings the render to the size the request asked for.
 */
export async function resizeRaw(image: RawImage, width: number, height: number): Promise<RawImage> {
  if (image.width === width && image.height === height) return image;
  const { data, info } = await (await sharpFromRaw(image))
    .resize({ width, height, fit: 'cover', kernel: 'lanczos3' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
}
