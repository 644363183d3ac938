/** One tile along one axis: where it reads and which part of its output it keeps (input pixels). */
export interface AxisTile {
  /** First input pixel the tile reads. */
  start: number;
  /** Input pixels the tile reads. */
  length: number;
  /** Kept range [keepStart, keepEnd) in image coordinates; the rest is overlap, discarded. */
  keepStart: number;
  keepEnd: number;
}

/**
 * Cuts an axis of `length` pixels into tiles of `tileSize` overlapping by at least `overlap`. Neighbours split their
 * overlap at its midpoint, so as long as half the overlap covers the model's receptive field (scaled to input
 * pixels), the reassembled image equals an untiled run: no seam to blend away.
 */
export function planAxis(length: number, tileSize: number, overlap: number): AxisTile[] {
  if (!Number.isInteger(tileSize) || tileSize < 1) throw new RangeError(`tileSize must be an integer >= 1, got ${tileSize}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= tileSize) {
    throw new RangeError(`overlap must be an integer in [0, tileSize), got ${overlap}`);
  }
  if (length <= tileSize) return [{ start: 0, length, keepStart: 0, keepEnd: length }];
  const stride = tileSize - overlap;
  const starts: number[] = [];
  for (let s = 0; s + tileSize < length; s += stride) starts.push(s);
  starts.push(length - tileSize);
  return starts.map((start, i) => {
    const previous = starts[i - 1];
    const next = starts[i + 1];
    return {
      start,
      length: tileSize,
      keepStart: previous === undefined ? 0 : Math.floor((previous + tileSize + start) / 2),
      keepEnd: next === undefined ? length : Math.floor((start + tileSize + next) / 2),
    };
  });
}
