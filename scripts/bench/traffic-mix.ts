import type { GenerateRequestInput } from '../../contract/index.js';

/** One kind of editor request in the blended mix. */
export interface TrafficClass {
  name: 'thumbnail' | 'preview' | 'export' | 'typography' | 'upscale' | 'edit';
  /** Share of requests, 0–1. */
  share: number;
}

/**
 * The editor traffic the scenario replays: mostly previews, a fifth exports, a tenth edits (a stored photo repainted
 * whole or inside a mask, at one of two strengths). Typography requests name a
 * typographic word ("poster", "logo"…) without quoted text or a `text` field, so the default policy places
 * them on the typography lane by its `typographicWords` rule and the lane's OCR text stage has no text to
 * draw (it reports "unchecked" at no cost): the simulated backend renders no glyphs an OCR could read.
 */
export const TRAFFIC_MIX: readonly TrafficClass[] = [
  { name: 'thumbnail', share: 0.22 },
  { name: 'preview', share: 0.3 },
  { name: 'export', share: 0.2 },
  { name: 'typography', share: 0.12 },
  { name: 'upscale', share: 0.06 },
  { name: 'edit', share: 0.1 },
];

/** Keys of the upscale sources the scenario stores before it starts (512×512 PNGs). */
export const UPSCALE_SOURCE_KEYS = ['sources/photo-0.png', 'sources/photo-1.png', 'sources/photo-2.png'] as const;
export const UPSCALE_SOURCE_SIDE_PX = 512;
/** The mask half of the edits carry: the upscale sources' size, white over their centre. */
export const EDIT_MASK_KEY = 'masks/photo-centre.png';
/** The strengths edits ask for (each batches only with its own). */
const EDIT_STRENGTHS = [0.6, 0.8] as const;

const SUBJECTS = ['a red fox in the snow', 'isometric coffee shop', 'lighthouse at dusk', 'ceramic vase on linen', 'mountain lake, morning mist', 'neon city street in the rain'];
const TYPOGRAPHIC = ['poster for a jazz night', 'logo for a bakery', 'banner for a summer sale', 'menu for a ramen bar', 'flyer for a book fair'];

/** The next request of the mix, drawn with `random` (a seeded PRNG), for account `a<n>`. */
export function nextRequest(random: () => number): { kind: TrafficClass['name']; request: GenerateRequestInput } {
  let pick = random();
  let kind: TrafficClass['name'] = 'preview';
  for (const c of TRAFFIC_MIX) {
    if (pick < c.share) {
      kind = c.name;
      break;
    }
    pick -= c.share;
  }
  const tierDraw = random();
  const account = { id: `acct-${Math.floor(random() * 400)}`, tier: tierDraw < 0.5 ? ('free' as const) : tierDraw < 0.85 ? ('pro' as const) : ('enterprise' as const) };
  const subject = SUBJECTS[Math.floor(random() * SUBJECTS.length)]!;
  const seed = Math.floor(random() * 2 ** 32);
  switch (kind) {
    case 'thumbnail':
      return { kind, request: { prompt: `${subject}, thumbnail`, width: 256, height: 256, format: 'webp', seed, account } };
    case 'preview':
      return { kind, request: { prompt: subject, width: 512, height: 512, seed, account } };
    case 'export':
      return { kind, request: { prompt: `${subject}, high detail`, intent: 'export', width: 1024, height: 1024, seed, account } };
    case 'typography':
      return { kind, request: { prompt: TYPOGRAPHIC[Math.floor(random() * TYPOGRAPHIC.length)]!, seed, account } };
    case 'edit': {
      const source = { key: UPSCALE_SOURCE_KEYS[Math.floor(random() * UPSCALE_SOURCE_KEYS.length)]! };
      const mask = random() < 0.5 ? { mask: { key: EDIT_MASK_KEY } } : {};
      return { kind, request: { prompt: `${subject}, repainted`, intent: 'edit', source, ...mask, strength: EDIT_STRENGTHS[Math.floor(random() * EDIT_STRENGTHS.length)]!, seed, account } };
    }
    case 'upscale':
      return { kind, request: { prompt: 'upscale', intent: 'upscale', source: { key: UPSCALE_SOURCE_KEYS[Math.floor(random() * UPSCALE_SOURCE_KEYS.length)]! }, scale: 2, account } };
  }
}
