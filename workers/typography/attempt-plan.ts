import { AUTO_TEXT_COLOURS, chooseTextColour, contrastingColour, contrastRatio, parseHexColour, relativeLuminance, WCAG_AA_CONTRAST, worstContrast } from './contrast-colour.js';
import { type FontFace, resolveFontFace } from './font-catalogue.js';
import type { TextStyle } from './text-compositor.js';
import type { PixelBox } from './text-layout.js';
import type { ResolvedTextSpec } from './text-spec.js';

/**
 * How safe an attempt plays it:
 * - `as-requested` (attempt 1): the requested font, weight and colour; an automatic colour is black or
 *   white for contrast, with a thin opposite outline when the background is too mixed for either to
 *   keep 4.5:1 under most of the text.
 * - `plate` (attempt 2): the same, in bold, over a 75 %-opaque plate of the contrasting colour.
 * - `high-contrast` (attempt 3 and later): bold over an opaque plate; the text keeps its colour only if
 *   that still contrasts 4.5:1 with the plate, else it turns black or white; the box grows by 15 % per
 *   side per attempt from the third (within the image), so the text is larger.
 */
export type AttemptSafety = 'as-requested' | 'plate' | 'high-contrast';

export interface AttemptPlan {
  safety: AttemptSafety;
  face: FontFace & { fallback: boolean };
  /** The box to fit the text in, px. */
  box: PixelBox;
}

/** The plan of attempt `attempt` (1-based) for a spec on an image of the given size. */
export function planAttempt(attempt: number, spec: ResolvedTextSpec, imageWidth: number, imageHeight: number): AttemptPlan {
  const safety: AttemptSafety = attempt <= 1 ? 'as-requested' : attempt === 2 ? 'plate' : 'high-contrast';
  const weight = safety === 'as-requested' ? spec.weight : Math.max(spec.weight, 700);
  const box = {
    left: spec.position.x * imageWidth,
    top: spec.position.y * imageHeight,
    width: spec.position.width * imageWidth,
    height: spec.position.height * imageHeight,
  };
  return { safety, face: resolveFontFace(spec.font, weight), box: safety === 'high-contrast' ? grow(box, 0.15 * (attempt - 2), imageWidth, imageHeight) : box };
}

/** Options of `styleFor`. */
export interface StyleChoiceOptions {
  /** Outline automatic colours on mixed backgrounds (see `AttemptSafety`). */
  autoOutline: boolean;
}

/** The paint for an attempt, given the sorted luminances of the background under the text. */
export function styleFor(plan: AttemptPlan, requestedColour: string | null, background: Float32Array, options: StyleChoiceOptions): TextStyle & { contrast: number } {
  const face = { family: plan.face.family, weight: plan.face.weight };
  if (plan.safety === 'as-requested') {
    if (requestedColour !== null) {
      return { face, color: requestedColour, contrast: worstContrast(relativeLuminance(parseHexColour(requestedColour)), background) };
    }
    const chosen = chooseTextColour(background);
    const outlined = options.autoOutline && chosen.contrast < WCAG_AA_CONTRAST;
    return {
      face,
      color: chosen.color,
      contrast: outlined ? 21 : chosen.contrast,
      ...(outlined ? { outline: { color: otherAuto(chosen.color), widthEm: 0.06 } } : {}),
    };
  }
  const colour = requestedColour ?? chooseTextColour(background).color;
  const plateColour = contrastingColour(colour);
  const colourOnPlate = contrastRatio(relativeLuminance(parseHexColour(colour)), relativeLuminance(parseHexColour(plateColour)));
  if (plan.safety === 'plate') {
    return { face, color: colour, contrast: colourOnPlate, plate: { color: plateColour, opacity: 0.75, paddingEm: 0.3 } };
  }
  const color = colourOnPlate >= WCAG_AA_CONTRAST ? colour : contrastingColour(plateColour);
  const contrast = contrastRatio(relativeLuminance(parseHexColour(color)), relativeLuminance(parseHexColour(plateColour)));
  return { face, color, contrast, plate: { color: plateColour, opacity: 1, paddingEm: 0.3 } };
}

function otherAuto(colour: string): string {
  return colour === AUTO_TEXT_COLOURS[0] ? AUTO_TEXT_COLOURS[1] : AUTO_TEXT_COLOURS[0];
}

function grow(box: PixelBox, fraction: number, imageWidth: number, imageHeight: number): PixelBox {
  const left = Math.max(0, box.left - box.width * fraction);
  const top = Math.max(0, box.top - box.height * fraction);
  const right = Math.min(imageWidth, box.left + box.width * (1 + fraction));
  const bottom = Math.min(imageHeight, box.top + box.height * (1 + fraction));
  return { left, top, width: right - left, height: bottom - top };
}
