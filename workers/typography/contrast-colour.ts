import type { RawImage } from '../pipelines/raw-image.js';
import type { PixelBox } from './text-layout.js';

/** An sRGB colour, 0–255 per channel. */
export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** WCAG 2 minimum contrast for normal text (AA). */
export const WCAG_AA_CONTRAST = 4.5;

const LINEAR = Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

/** `#rrggbb` (or `#rgb`) to channels. */
export function parseHexColour(colour: string): Rgb {
  let hex = colour.replace(/^#/, '');
  if (hex.length === 3) hex = Array.from(hex, (c) => c + c).join('');
  if (!/^[0-9a-fA-F]{6}$/.test(hex)) throw new RangeError(`colour must be #rgb or #rrggbb, got ${JSON.stringify(colour)}`);
  const n = Number.parseInt(hex, 16);
  return { r: (n >> 16) & 255, g: (n >> 8) & 255, b: n & 255 };
}

/** WCAG relative luminance, 0 (black) to 1 (white). */
export function relativeLuminance({ r, g, b }: Rgb): number {
  return 0.2126 * LINEAR[Math.round(r)]! + 0.7152 * LINEAR[Math.round(g)]! + 0.0722 * LINEAR[Math.round(b)]!;
}

/** WCAG contrast ratio of two relative luminances, 1 to 21. */
export function contrastRatio(luminanceA: number, luminanceB: number): number {
  const [light, dark] = luminanceA >= luminanceB ? [luminanceA, luminanceB] : [luminanceB, luminanceA];
  return (light + 0.05) / (dark + 0.05);
}

/** Relative luminances of the pixels under `box` (sampled to at most ~20,000), sorted ascending. */
export function luminancesUnder(image: RawImage, box: PixelBox): Float32Array {
  const left = clamp(Math.floor(box.left), 0, image.width - 1);
  const top = clamp(Math.floor(box.top), 0, image.height - 1);
  const right = clamp(Math.ceil(box.left + box.width), left + 1, image.width);
  const bottom = clamp(Math.ceil(box.top + box.height), top + 1, image.height);
  const stride = Math.max(1, Math.ceil(Math.sqrt(((right - left) * (bottom - top)) / 20_000)));
  const values: number[] = [];
  for (let y = top; y < bottom; y += stride) {
    for (let x = left; x < right; x += stride) {
      const i = (y * image.width + x) * 3;
      values.push(0.2126 * LINEAR[image.pixels[i]!]! + 0.7152 * LINEAR[image.pixels[i + 1]!]! + 0.0722 * LINEAR[image.pixels[i + 2]!]!);
    }
  }
  return Float32Array.from(values).sort();
}

/**
 * The contrast a text colour keeps against most of a background: the ratio against the background
 * luminance at the given quantile on the unfavourable side (the darker pixels for dark text, the lighter
 * for light text), so a few stray pixels do not decide it but a patch of similar colour does.
 */
export function worstContrast(textLuminance: number, sortedBackground: Float32Array, quantile = 0.1): number {
  if (sortedBackground.length === 0) return 21;
  const lowIndex = Math.floor(quantile * (sortedBackground.length - 1));
  const darkest = sortedBackground[lowIndex]!;
  const lightest = sortedBackground[sortedBackground.length - 1 - lowIndex]!;
  return Math.min(contrastRatio(textLuminance, darkest), contrastRatio(textLuminance, lightest));
}

/** Dark and light candidates for an automatic text colour. */
export const AUTO_TEXT_COLOURS = ['#000000', '#ffffff'] as const;

/**
 * Black or white, whichever keeps the higher `worstContrast` against the background.
 * One of the two always reaches 4.5 against a uniform background (black on luminance ≥ 0.175, white below 0.183).
 */
export function chooseTextColour(sortedBackground: Float32Array): { color: string; contrast: number } {
  const [dark, light] = AUTO_TEXT_COLOURS.map((color) => ({
    color,
    contrast: worstContrast(relativeLuminance(parseHexColour(color)), sortedBackground),
  })) as [{ color: string; contrast: number }, { color: string; contrast: number }];
  return dark.contrast >= light.contrast ? dark : light;
}

/** Black or white, whichever contrasts more with `colour` (for a plate behind text of that colour). */
export function contrastingColour(colour: string): string {
  const luminance = relativeLuminance(parseHexColour(colour));
  return contrastRatio(luminance, 0) >= contrastRatio(luminance, 1) ? '#000000' : '#ffffff';
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
