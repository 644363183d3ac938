import { z } from 'zod';
import { ValidationError } from './errors.js';

/**
 * The generate request: what an editor service sends to `enqueue()` or `POST /generate`.
 * Unknown fields are refused at every level (a typo never silently changes a render).
 */

/** Letters and characters a prompt may hold: anything printable. Control characters (C0, DEL, C1) are refused. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
/** Text to draw may also break lines. */
const CONTROL_CHARACTERS_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

const printable = (schema: z.ZodString, allowNewlines = false) =>
  schema
    .refine((s) => !(allowNewlines ? CONTROL_CHARACTERS_BUT_NEWLINE : CONTROL_CHARACTERS).test(s), {
      message: allowNewlines ? 'must not contain control characters other than line breaks' : 'must not contain control characters',
    })
    .refine((s) => s.isWellFormed(), { message: 'must be well-formed Unicode (no lone surrogates)' });

/** Image side in pixels: an integer multiple of 8 from 64 to 2048 (latents are 1/8 of the image). */
const side = z.number().int().min(64).max(2048).multipleOf(8);

/**
 * Intent of the render: `preview` (default, fast), `export` (high fidelity), `upscale` (super-resolve `source`),
 * `edit` (repaint `source`, inside `mask` when given, by `strength` of the schedule).
 */
export const INTENTS = ['preview', 'export', 'upscale', 'edit'] as const;
export type Intent = (typeof INTENTS)[number];

/** Account tiers; priority follows tier (enterprise first). */
export const TIERS = ['free', 'pro', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];

export const IMAGE_FORMATS = ['png', 'webp'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** A box in fractions of the image: `x`, `y` of the top-left corner, `width`, `height`, each 0–1. */
const boxSchema = z
  .strictObject({
    x: z.number().min(0).max(1),
    y: z.number().min(0).max(1),
    width: z.number().gt(0).max(1),
    height: z.number().gt(0).max(1),
  })
  .refine((b) => b.x + b.width <= 1.000001 && b.y + b.height <= 1.000001, { message: 'box must lie inside the image' });

/**
 * A store key: relative, under the store's prefix. Segments of letters, digits, `.`, `_`, `-`;
 * never absolute, never `..`, never empty segments.
 */
export const storeKeySchema = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, { message: 'must be a relative key of [A-Za-z0-9._-] segments separated by /' })
  .refine((k) => !k.split('/').some((segment) => segment === '..' || segment === '.'), {
    message: 'must not contain . or .. segments',
  });

export const textSpecSchema = z.strictObject({
  /** The text to draw, 1–200 characters; `\n` breaks lines. */
  content: printable(z.string().min(1).max(200), true).refine((s) => s.trim().length > 0, { message: 'must not be blank' }),
  /** Font family; the fleet falls back to its default font when it does not have it. @default the lane's font */
  font: z.string().min(1).max(64).regex(/^[A-Za-z0-9 _-]+$/).optional(),
  /** Font weight: `normal`, `bold` or 100–900. @default 'bold' */
  weight: z.union([z.enum(['normal', 'bold']), z.number().int().min(100).max(900).multipleOf(100)]).optional(),
  /** Horizontal alignment inside the box. @default 'center' */
  align: z.enum(['left', 'center', 'right']).optional(),
  /** Text colour `#rgb` or `#rrggbb`. @default chosen for contrast with the background */
  color: z.string().regex(/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, { message: 'must be #rgb or #rrggbb' }).optional(),
  /** Where the text goes, in fractions of the image. @default a centred box, 80 % wide, 30 % high */
  position: boxSchema.optional(),
  /** What to do when the OCR check still fails after its attempts. @default 'flag' */
  onFail: z.enum(['flag', 'fail']).optional(),
});
export type TextSpec = z.infer<typeof textSpecSchema>;

export const generateRequestSchema = z
  .strictObject({
    /** What to draw, 1–2,000 characters, no control characters. */
    prompt: printable(z.string().min(1).max(2000)).refine((s) => s.trim().length > 0, { message: 'must not be blank' }),
    /** What to keep out of the image. */
    negativePrompt: printable(z.string().max(2000)).optional(),
    /** @default 'preview' */
    intent: z.enum(INTENTS).default('preview'),
    /** Pixels; multiple of 8, 64–2048. @default the lane's size (flash 512, large and typography 1024) */
    width: side.optional(),
    /** Pixels; multiple of 8, 64–2048. @default the lane's size */
    height: side.optional(),
    /** Denoising steps, 1–100. @default the model's */
    steps: z.number().int().min(1).max(100).optional(),
    /** Seed of the initial noise (uint32); the same request and seed give the same bytes. @default random */
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    /** @default 'png' */
    format: z.enum(IMAGE_FORMATS).default('png'),
    account: z.strictObject({
      id: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@-]+$/, { message: 'must be 1–128 characters of [A-Za-z0-9._:@-]' }),
      tier: z.enum(TIERS),
    }),
    /** Text the typography lane draws and checks by OCR. */
    text: textSpecSchema.optional(),
    /** For `intent: 'upscale'` and `'edit'`: the stored image to upscale or edit, a key under the store's prefix. */
    source: z.strictObject({ key: storeKeySchema }).optional(),
    /**
     * For `intent: 'edit'`: a stored image of the source's size, white where the model repaints, black where the
     * source stays (grey values blend; any format sharp reads, colour is read as luminance). @default the whole image
     */
    mask: z.strictObject({ key: storeKeySchema }).optional(),
    /**
     * For `intent: 'edit'`: the share of the denoising schedule that runs, in (0, 1]: near 0 keeps the source, 1
     * repaints from noise. @default {@link DEFAULT_EDIT_STRENGTH}
     */
    strength: z.number().gt(0, { message: 'must be greater than 0 (a strength of 0 runs no step)' }).max(1, { message: 'must be at most 1 (the whole schedule)' }).optional(),
    /** Upscale factor, with `intent: 'upscale'`. @default 2 */
    scale: z.union([z.literal(2), z.literal(4)]).optional(),
    /** The same key (per account) returns the same job, never a second one. */
    idempotencyKey: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, { message: 'must be 1–128 printable ASCII characters' }).optional(),
  })
  .superRefine((r, ctx) => {
    const fromSource = r.intent === 'upscale' || r.intent === 'edit';
    if (fromSource && r.source === undefined) {
      ctx.addIssue({ code: 'custom', path: ['source'], message: `is required when intent is '${r.intent}'${r.mask === undefined ? '' : ' (a mask needs the source it masks)'}` });
    }
    if (!fromSource && r.source !== undefined) ctx.addIssue({ code: 'custom', path: ['source'], message: "is only allowed when intent is 'upscale' or 'edit'" });
    if (r.intent !== 'upscale' && r.scale !== undefined) ctx.addIssue({ code: 'custom', path: ['scale'], message: "is only allowed when intent is 'upscale'" });
    if (r.intent !== 'edit') {
      for (const field of ['mask', 'strength'] as const) {
        if (r[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: "is only allowed when intent is 'edit'" });
      }
    }
    if (fromSource && r.text !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: `is not allowed when intent is '${r.intent}'` });
    }
    if (r.intent === 'edit') {
      // An edit comes out at its source's size, so the pixels outside the mask can stay the source's own bytes.
      for (const field of ['width', 'height'] as const) {
        if (r[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: "is not allowed when intent is 'edit' (an edit comes out at its source's size)" });
      }
    }
  });

/** An edit's strength when the request gives none: diffusers' image-to-image default, and its inpainting one (1) with a mask. */
export const DEFAULT_EDIT_STRENGTH = { withoutMask: 0.8, withMask: 1 } as const;

/** The strength an edit runs at (the request's, else {@link DEFAULT_EDIT_STRENGTH}); null when it is not an edit. */
export function effectiveStrength(request: Pick<GenerateRequest, 'intent' | 'strength' | 'mask'>): number | null {
  if (request.intent !== 'edit') return null;
  return request.strength ?? (request.mask === undefined ? DEFAULT_EDIT_STRENGTH.withoutMask : DEFAULT_EDIT_STRENGTH.withMask);
}

/** The sides an edit's source (and its mask) may have, in pixels: the range a request's own size may take. */
export const EDIT_SOURCE_SIDE = { min: 64, max: 2048 } as const;

/** A request as sent (defaults not yet applied). */
export type GenerateRequestInput = z.input<typeof generateRequestSchema>;
/** A validated request, with `intent` and `format` filled in. */
export type GenerateRequest = z.output<typeof generateRequestSchema>;

/**
 * Validates a request. Throws `ValidationError` (code `E_VALIDATION`) naming the first offending field
 * as a dot path (`account.tier`, `text.position.x`); all issues are in `details.issues`.
 */
export function parseGenerateRequest(input: unknown): GenerateRequest {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError('request must be a JSON object', '(body)');
  }
  const parsed = generateRequestSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = [...issue.path.map(String), ...(keys.length > 0 ? [keys[0]!] : [])].join('.') || '(body)';
    const message = issue.code === 'unrecognized_keys' ? `unknown field ${keys.map((k) => JSON.stringify(k)).join(', ')}` : issue.message;
    return { field: path, message };
  });
  const first = issues[0]!;
  throw new ValidationError(`${first.field}: ${first.message}`, first.field, { details: { issues } });
}
