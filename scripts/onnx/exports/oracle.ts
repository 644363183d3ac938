// The oracle behind export-shaped test models: known encoder outputs, a denoiser that returns the exact ε, v, x0
// or flow for a clean latent computed from its conditioning, and a linear VAE. A pipeline that feeds every input
// as its family's diffusers pipeline does lands every pixel on `expectedOraclePixel`; one that reads the wrong
// hidden state, skips the zero negative, mis-scales the sample or treats v as ε lands elsewhere.
import { CLIP_SEQUENCE, ENCODERS, type ExportSpec } from './export-spec.js';

/** Encoder outputs: a token's state is `tokenValue` (special tokens and padding: `specialValue`) times a per-output scale. */
export const ORACLE = {
  tokenValue: 1,
  specialValue: 0.25,
  /** hidden_states.k of an encoder with `layers` layers: the penultimate one (what SDXL and SD3 read) stands out. */
  layerScale: (k: number, layers: number) => (k === layers - 1 ? 0.9 : 0.2 + (0.3 * k) / layers),
  lastHiddenScale: 1.05,
  pooledScale: 0.9,
  t5Scale: 0.6,
} as const;

/** The conditioning signals the oracle denoiser reads, per family, in this order. */
export function signalNames(spec: ExportSpec): string[] {
  if (spec.family === 'sd') return spec.timeCondProjDim === undefined ? ['context'] : ['context', 'guidanceEmbedding'];
  if (spec.family === 'sdxl') return ['contextL', 'contextG', 'pooled', 'timeHeight', 'timeWidth'];
  return ['contextL', 'contextG', 't5', 'pooledL', 'pooledG'];
}

/** Latent channels that carry the signals (others hold a constant). */
const INFORMATIVE = 4;

/** x0[c] = base[c] + Σ_j K[c][j]·signal_j. */
export function oracleCoefficients(channels: number, signals: number): { base: number[]; k: number[][] } {
  const base = Array.from({ length: channels }, (_, c) => (((c * 3) % 7) - 3) * 0.1);
  const k = Array.from({ length: channels }, (_, c) => Array.from({ length: signals }, (_, j) => (c < INFORMATIVE ? ((((c * 7 + j * 3 + 1) % 5) - 2) * 0.18 || 0.09) : 0)));
  return { base, k };
}

/** rgb = M0·x0 + bias0 for a correct pipeline (the VAE's weights fold in the scaling and shift factors). */
export function oracleVaeMatrix(channels: number): { m0: number[][]; bias0: number[] } {
  const head = [
    [0.6, 0.25, -0.35, 0.15],
    [-0.25, 0.5, 0.3, -0.35],
    [0.3, -0.3, 0.25, 0.5],
  ];
  const m0 = head.map((row, r) => Array.from({ length: channels }, (_, c) => (c < INFORMATIVE ? row[c]! : 0.05 * (((r + c) % 3) - 1))));
  return { m0, bias0: [0.05, -0.05, 0.1] };
}

/**
 * The VAE encoder's map, a right inverse of the decoder's: x0 = P·rgb + q with M0·P = I, so the latent an image
 * encodes to decodes back to its colour (P = M0ᵀ(M0·M0ᵀ)⁻¹, q = −P·bias0).
 */
export function oracleVaeEncoderMatrix(channels: number): { p: number[][]; q: number[] } {
  const { m0, bias0 } = oracleVaeMatrix(channels);
  const gram = m0.map((a) => m0.map((b) => a.reduce((sum, v, i) => sum + v * b[i]!, 0)));
  const inverse = invert3(gram);
  const p = Array.from({ length: channels }, (_, c) => [0, 1, 2].map((k) => m0.reduce((sum, row, r) => sum + row[c]! * inverse[r]![k]!, 0)));
  const q = p.map((row) => -row.reduce((sum, v, k) => sum + v * bias0[k]!, 0));
  return { p, q };
}

function invert3(m: number[][]): number[][] {
  const [a, b, c] = m as [number[], number[], number[]];
  const cofactor = (r0: number[], r1: number[], i: number, j: number) => r0[i]! * r1[j]! - r0[j]! * r1[i]!;
  const rows = [
    [cofactor(b, c, 1, 2), -cofactor(a, c, 1, 2), cofactor(a, b, 1, 2)],
    [-cofactor(b, c, 0, 2), cofactor(a, c, 0, 2), -cofactor(a, b, 0, 2)],
    [cofactor(b, c, 0, 1), -cofactor(a, c, 0, 1), cofactor(a, b, 0, 1)],
  ];
  const det = a[0]! * rows[0]![0]! + a[1]! * rows[1]![0]! + a[2]! * rows[2]![0]!;
  return rows.map((row) => row.map((v) => v / det));
}

/** The latent an [-1, 1] RGB colour encodes to (after the pipeline's scaling and shift). */
export function oracleEncode(spec: ExportSpec, rgb: readonly number[]): number[] {
  const { p, q } = oracleVaeEncoderMatrix(latentChannels(spec));
  return p.map((row, c) => row.reduce((sum, v, k) => sum + v * rgb[k]!, q[c]!));
}

/** The [-1, 1] RGB a latent decodes to, unclamped. */
export function oracleDecode(spec: ExportSpec, latent: readonly number[]): number[] {
  const { m0, bias0 } = oracleVaeMatrix(latentChannels(spec));
  return m0.map((row, r) => row.reduce((sum, m, i) => sum + m * latent[i]!, bias0[r]!));
}

/** An 8-bit channel value from [-1, 1], as the pipeline rounds it. */
export function toByte(value: number): number {
  return Math.min(255, Math.max(0, Math.round((Math.min(1, Math.max(-1, value)) + 1) * 127.5)));
}

/** The inpainting oracle's weight on the masked image's latents inside the mask: x0 = T + β·masked (see denoiser-graph.ts). */
export const INPAINT_MASKED_WEIGHT = 0.5;

export interface OracleCase {
  /** What the prompt rows hold: a prompt's tokens. */
  guidanceScale: number;
  /** Classifier-free guidance runs (the pipeline batches an unconditional pass). */
  guided: boolean;
  /** What the negative rows hold: the encoded empty prompt, or zeros (SDXL's force_zeros_for_empty_prompt). */
  negative: 'empty' | 'zeros';
  width: number;
  height: number;
}

/** The signal values for rows holding a prompt (`value` 1), the empty prompt (0.25) or zero embeddings (0). */
export function oracleSignals(spec: ExportSpec, row: 'prompt' | 'empty' | 'zeros', c: OracleCase): number[] {
  const v = row === 'prompt' ? ORACLE.tokenValue : row === 'empty' ? ORACLE.specialValue : 0;
  const penultimate = (e: { layers: number }) => ORACLE.layerScale(e.layers - 1, e.layers) * v;
  if (spec.family === 'sd') {
    const context = ORACLE.lastHiddenScale * v;
    if (spec.timeCondProjDim === undefined) return [context];
    return [context, Math.sin((c.guidanceScale - 1) * 1000 * Math.exp(-Math.log(10000)))];
  }
  if (spec.family === 'sdxl') return [penultimate(ENCODERS.clipL), penultimate(ENCODERS.clipG), ORACLE.pooledScale * v, c.height / 1024, c.width / 1024];
  const t5 = spec.withT5 ? ORACLE.t5Scale * (row === 'zeros' ? 0 : v) : 0;
  return [penultimate(ENCODERS.clipL), penultimate(ENCODERS.clipG), t5, ORACLE.pooledScale * v, ORACLE.pooledScale * v];
}

/** Latent channels of a family. */
export function latentChannels(spec: ExportSpec): number {
  return spec.family === 'sd3' ? 16 : 4;
}

/** The clean latent the denoiser steers to for a row's signals. */
export function oracleX0(spec: ExportSpec, signals: readonly number[]): number[] {
  const { base, k } = oracleCoefficients(latentChannels(spec), signals.length);
  return base.map((b, c) => b + k[c]!.reduce((sum, kc, j) => sum + kc * signals[j]!, 0));
}

/** The clean latent a correct pipeline steers to for a case: the prompt's, guided against the negative's. */
export function oracleTarget(spec: ExportSpec, c: OracleCase): number[] {
  const cond = oracleX0(spec, oracleSignals(spec, 'prompt', c));
  if (!c.guided) return cond;
  const uncond = oracleX0(spec, oracleSignals(spec, c.negative, c));
  return cond.map((value, i) => uncond[i]! + c.guidanceScale * (value - uncond[i]!));
}

/** The 8-bit RGB every pixel of a correct render lands on. */
export function expectedOraclePixel(spec: ExportSpec, c: OracleCase): [number, number, number] {
  return oracleDecode(spec, oracleTarget(spec, c)).map(toByte) as [number, number, number];
}

export { CLIP_SEQUENCE };
