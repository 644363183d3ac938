import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The fonts the typography lane draws with: the DejaVu families from the `dejavu-fonts-ttf` npm package,
 * so every machine that ran `npm ci` has the same files (the system's fonts are not relied on).
 * Layout measures with these files and the SVG names the same family and weight, which fontconfig
 * (pointed at this directory by `ensureFontConfig`) resolves to the same file.
 */
export const FONT_DIRECTORY = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');

/** One font file: the family and weight to name in SVG, and where it is. */
export interface FontFace {
  family: string;
  /** CSS weight, 100–900. */
  weight: number;
  /** Absolute path of the TTF file. */
  file: string;
}

const FAMILIES = {
  'DejaVu Sans': { 200: 'DejaVuSans-ExtraLight.ttf', 400: 'DejaVuSans.ttf', 700: 'DejaVuSans-Bold.ttf' },
  'DejaVu Serif': { 400: 'DejaVuSerif.ttf', 700: 'DejaVuSerif-Bold.ttf' },
  'DejaVu Sans Mono': { 400: 'DejaVuSansMono.ttf', 700: 'DejaVuSansMono-Bold.ttf' },
} as const satisfies Record<string, Partial<Record<number, string>>>;

export type FontFamilyName = keyof typeof FAMILIES;

/** Families the lane has, as requests may name them. */
export const FONT_FAMILIES = Object.keys(FAMILIES) as FontFamilyName[];

/** The family used when a request names none or one the fleet does not have. */
export const DEFAULT_FONT_FAMILY: FontFamilyName = 'DejaVu Sans';

/** Generic names requests may use instead of a family (compared case-insensitively, spaces, `-` and `_` ignored). */
const ALIASES: Record<string, FontFamilyName> = {
  sans: 'DejaVu Sans',
  sansserif: 'DejaVu Sans',
  serif: 'DejaVu Serif',
  mono: 'DejaVu Sans Mono',
  monospace: 'DejaVu Sans Mono',
  dejavusans: 'DejaVu Sans',
  dejavuserif: 'DejaVu Serif',
  dejavusansmono: 'DejaVu Sans Mono',
};

/**
 * The face drawn for a requested family and weight: the family itself when the fleet has it (or an alias:
 * `sans`, `serif`, `mono`), else `DEFAULT_FONT_FAMILY` with `fallback: true`; the weight is the nearest
 * the family has (ties go to the heavier face).
 */
export function resolveFontFace(family: string, weight: number): FontFace & { fallback: boolean } {
  const key = family.toLowerCase().replace(/[\s_-]+/g, '');
  const known = ALIASES[key];
  const name = known ?? DEFAULT_FONT_FAMILY;
  const faces = FAMILIES[name] as Partial<Record<number, string>>;
  const weights = Object.keys(faces).map(Number);
  const nearest = weights.reduce((best, w) => {
    const d = Math.abs(w - weight);
    const bestD = Math.abs(best - weight);
    return d < bestD || (d === bestD && w > best) ? w : best;
  });
  return { family: name, weight: nearest, file: join(FONT_DIRECTORY, faces[nearest]!), fallback: known === undefined };
}
