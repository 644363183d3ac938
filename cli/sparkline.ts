/** Block characters from low to high, and an ASCII ramp for terminals without UTF-8. */
const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const ASCII = ['_', '.', '-', '~', '=', '+', '*', '#'];

export interface SparklineOptions {
  /** Plain ASCII instead of block characters. @default false */
  ascii?: boolean;
  /** The value drawn as the full height. @default the largest value */
  max?: number;
}

/** One character per value, scaled from 0 to `max`; null (no data) is `·` (a space in ASCII). */
export function sparkline(values: ReadonlyArray<number | null>, options: SparklineOptions = {}): string {
  const glyphs = options.ascii ? ASCII : BLOCKS;
  const max = options.max ?? Math.max(0, ...values.filter((v): v is number => v !== null));
  return values
    .map((v) => {
      if (v === null) return options.ascii ? ' ' : '·';
      if (max <= 0 || v <= 0) return glyphs[0]!;
      const level = Math.ceil((Math.min(v, max) / max) * (glyphs.length - 1));
      return glyphs[Math.max(0, Math.min(glyphs.length - 1, level))]!;
    })
    .join('');
}

/** Shrinks `values` to `width` columns, each the largest value of the samples it covers (peaks stay visible); pads the left with nulls. */
export function fitToWidth(values: ReadonlyArray<number | null>, width: number): Array<number | null> {
  if (values.length <= width) return [...new Array<null>(width - values.length).fill(null), ...values];
  const per = values.length / width;
  return Array.from({ length: width }, (_, i) => {
    const slice = values.slice(Math.floor(i * per), Math.floor((i + 1) * per)).filter((v): v is number => v !== null);
    return slice.length === 0 ? null : Math.max(...slice);
  });
}
