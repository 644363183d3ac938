import { FleetError } from '../../contract/index.js';
import type { RawImage } from '../pipelines/raw-image.js';
import type { ResolvedTextSpec } from './text-spec.js';

/** The word drawn to see that a family's font resolves: letters OCR tells apart, with no ambiguous glyphs. */
export const FONT_PROBE_WORD = 'Fleet';

/** What drawing the probe word in one family and reading it back gave. */
export interface FontProbe {
  family: string;
  read: string;
  cer: number;
  passed: boolean;
}

/** The probe word, black on white, filling most of a {@link probeBackground}. */
export function probeSpec(family: string): ResolvedTextSpec {
  return { content: FONT_PROBE_WORD, font: family, weight: 400, align: 'center', color: '#000000', position: { x: 0.05, y: 0.1, width: 0.9, height: 0.8 }, onFail: 'flag', source: 'field' };
}

/** A white canvas for the probe. */
export function probeBackground(): RawImage {
  const width = 320;
  const height = 112;
  return { pixels: Buffer.alloc(width * height * 3, 255), width, height, channels: 3 };
}

/**
 * E_FONT for probes that did not read back: the fonts fontconfig resolves are not the files the lane lays out
 * with (boxes or another font are drawn), so no text this process draws can be trusted.
 */
export function fontError(failed: readonly FontProbe[], fontConfigFile: string | undefined): FleetError {
  const what = failed.map((p) => `${p.family} read back as ${JSON.stringify(p.read)}`).join('; ');
  return new FleetError(
    'E_FONT',
    `the typography fonts do not resolve: "${FONT_PROBE_WORD}" drawn in ${what}; check the fontconfig file ${fontConfigFile ?? '(none)'} and the dejavu-fonts-ttf package`,
    { details: { probes: failed, fontConfigFile } },
  );
}
