/**
 * Lanes: one BullMQ queue each.
 * - `flash`: fast previews on distilled few-step models.
 * - `large`: high-fidelity exports on the big model.
 * - `typography`: renders whose text must read right, checked by OCR.
 * - `upscale`: super-resolution of a stored image.
 */
export const LANES = ['flash', 'large', 'typography', 'upscale'] as const;
export type Lane = (typeof LANES)[number];

export function isLane(value: unknown): value is Lane {
  return typeof value === 'string' && (LANES as readonly string[]).includes(value);
}

/** Image size a lane renders when the request gives none. Upscale (null) takes its size from the source × scale. */
export const LANE_DEFAULT_SIZE = {
  flash: { width: 512, height: 512 },
  large: { width: 1024, height: 1024 },
  typography: { width: 1024, height: 1024 },
  upscale: null,
} as const satisfies Record<Lane, { width: number; height: number } | null>;
