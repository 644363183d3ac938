import { LANE_DEFAULT_SIZE, type Lane } from './lanes.js';
import type { GenerateRequest } from './request.js';

/** An upscale's factor when the request gives none. */
export const DEFAULT_UPSCALE_SCALE = 2;

/** The upscale factor a request asks for: its own, else {@link DEFAULT_UPSCALE_SCALE}; null when it is not an upscale. */
export function effectiveScale(request: Pick<GenerateRequest, 'intent' | 'scale'>): number | null {
  return request.intent === 'upscale' ? (request.scale ?? DEFAULT_UPSCALE_SCALE) : null;
}

/**
 * The size a request's image comes out at on `lane`: the request's own width and height, each side it leaves out
 * taken from the lane's default; for an upscale without a size, the source's size times the scale when the source
 * is known, else null; for an edit, the source's size (null while unknown). Routing features and the job's recorded size both come from here, so they cannot disagree.
 */
export function effectiveOutputSize(
  request: Pick<GenerateRequest, 'intent' | 'scale' | 'width' | 'height'>,
  lane: Lane,
  source?: { width: number; height: number },
): { width: number; height: number } | null {
  const laneSize = LANE_DEFAULT_SIZE[lane];
  if (request.intent === 'edit') return source === undefined ? null : { width: source.width, height: source.height };
  if (request.width !== undefined && request.height !== undefined) return { width: request.width, height: request.height };
  if (request.intent === 'upscale' || laneSize === null) {
    if (source === undefined) return null;
    const scale = effectiveScale(request) ?? DEFAULT_UPSCALE_SCALE;
    return { width: request.width ?? source.width * scale, height: request.height ?? source.height * scale };
  }
  return { width: request.width ?? laneSize.width, height: request.height ?? laneSize.height };
}
