import { loadSharp } from '../pipelines/sharp-loader.js';
import type { FontFace } from './font-catalogue.js';
import { type RawImage, sharpFromRaw } from '../pipelines/raw-image.js';
import type { PixelBox, TextLayout } from './text-layout.js';
import { escapeXml } from './xml-escape.js';

/** How the laid-out text is painted. */
export interface TextStyle {
  /** The face to draw (family and weight as fontconfig knows them). */
  face: Pick<FontFace, 'family' | 'weight'>;
  /** Fill colour, `#rrggbb`. */
  color: string;
  /** A rounded rectangle behind the text block, or none. */
  plate?: {
    /** `#rrggbb`. */
    color: string;
    /** 0 (invisible) to 1 (opaque). */
    opacity: number;
    /** Space between the text block and the plate's edge, in em. */
    paddingEm: number;
  };
  /** A contrasting outline drawn under each glyph's fill (SVG `paint-order: stroke`), or none. */
  outline?: {
    /** `#rrggbb`. */
    color: string;
    /** Stroke width, in em. */
    widthEm: number;
  };
}

/** The part of the image the text (with its plate and outline) may touch, in whole pixels, clipped to the image. */
export function textRegion(layout: TextLayout, style: TextStyle, imageWidth: number, imageHeight: number): PixelBox {
  // Glyph ink may overhang the advance box a little (italic-like shapes, accents); a fifth of an em covers it.
  const marginPx = layout.fontSizePx * Math.max(0.2, style.plate?.paddingEm ?? 0, style.outline?.widthEm ?? 0) + 2;
  const left = Math.max(0, Math.floor(layout.block.left - marginPx));
  const top = Math.max(0, Math.floor(layout.block.top - marginPx));
  const right = Math.min(imageWidth, Math.ceil(layout.block.left + layout.block.width + marginPx));
  const bottom = Math.min(imageHeight, Math.ceil(layout.block.top + layout.block.height + marginPx));
  return { left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) };
}

/**
 * The SVG document drawing `layout` in `style`, with its origin at `region`'s top-left corner.
 * Every piece of text and every attribute value is XML-escaped.
 */
export function buildTextSvg(layout: TextLayout, style: TextStyle, region: PixelBox): string {
  const px = (value: number): string => (Math.round(value * 100) / 100).toString();
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${region.width}" height="${region.height}" viewBox="0 0 ${region.width} ${region.height}">`,
  ];
  if (style.plate !== undefined) {
    const pad = style.plate.paddingEm * layout.fontSizePx;
    parts.push(
      `<rect x="${px(layout.block.left - pad - region.left)}" y="${px(layout.block.top - pad - region.top)}"` +
        ` width="${px(layout.block.width + 2 * pad)}" height="${px(layout.block.height + 2 * pad)}"` +
        ` rx="${px(pad)}" fill="${escapeXml(style.plate.color)}" fill-opacity="${style.plate.opacity}"/>`,
    );
  }
  const outline =
    style.outline === undefined
      ? ''
      : ` stroke="${escapeXml(style.outline.color)}" stroke-width="${px(style.outline.widthEm * layout.fontSizePx)}" stroke-linejoin="round" paint-order="stroke"`;
  for (const line of layout.lines) {
    if (line.text.length === 0) continue;
    parts.push(
      `<text x="${px(line.x - region.left)}" y="${px(line.baselineY - region.top)}" font-family="${escapeXml(style.face.family)}"` +
        ` font-size="${px(layout.fontSizePx)}" font-weight="${style.face.weight}" fill="${escapeXml(style.color)}"${outline}` +
        ` xml:space="preserve">${escapeXml(line.text)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Draws the text over the background (which is not modified) and returns the new pixels. */
export async function compositeText(background: RawImage, layout: TextLayout, style: TextStyle): Promise<RawImage> {
  const sharp = await loadSharp();
  const region = textRegion(layout, style, background.width, background.height);
  const svg = Buffer.from(buildTextSvg(layout, style, region));
  const layer = await sharp(svg).png({ compressionLevel: 0 }).toBuffer();
  const { data, info } = await (await sharpFromRaw(background))
    .composite([{ input: layer, left: region.left, top: region.top }])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height, channels: 3 };
}
