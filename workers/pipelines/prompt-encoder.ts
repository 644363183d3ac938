import ort from 'onnxruntime-node';
import type { DiffusionModel, TextEncoderPart } from '../models/model-description.js';
import { sharedFloat32Array } from '../engine/engine-protocol.js';
import type { ModelSession } from '../engine/onnx-session-factory.js';
import type { PromptTokenizer } from './clip-tokenizer.js';
import { runForFloatOutputs } from './run-session.js';

/** What the denoiser is conditioned on, for `rows` prompts (row-major). */
export interface PromptConditioning {
  rows: number;
  /** `encoder_hidden_states`: [rows, sequence, width]. */
  context: Float32Array;
  sequence: number;
  width: number;
  /** SDXL `text_embeds`, SD3 `pooled_projections`: [rows, pooledWidth]; undefined for SD 1.x/2.x. */
  pooled: Float32Array | undefined;
  pooledWidth: number;
}

/** One text encoder with its tokenizer and session. */
export interface LoadedTextEncoder {
  part: TextEncoderPart;
  tokenizer: PromptTokenizer;
  session: ModelSession;
}

interface EncodedPart {
  states: Float32Array;
  sequence: number;
  width: number;
  pooled: Float32Array | undefined;
  pooledWidth: number;
}

async function encodePart(encoder: LoadedTextEncoder, texts: readonly string[]): Promise<EncodedPart> {
  const { part, tokenizer, session } = encoder;
  const ids = tokenizer.encode(texts);
  const idsInfo = session.inputs.find((t) => t.name === 'input_ids');
  const dims = [texts.length, tokenizer.sequenceLength];
  const feed = idsInfo?.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), dims) : new ort.Tensor('int32', Int32Array.from(ids), dims);
  const names = part.pooledOutput === undefined ? [part.statesOutput] : [part.statesOutput, part.pooledOutput];
  const outputs = await runForFloatOutputs(session, { input_ids: feed }, names);
  const states = outputs[part.statesOutput]!;
  const pooled = part.pooledOutput === undefined ? undefined : outputs[part.pooledOutput];
  return {
    states: states.data,
    sequence: states.dims[1]!,
    width: states.dims[2]!,
    pooled: pooled?.data,
    pooledWidth: pooled?.dims[1] ?? 0,
  };
}

/** Concatenates [rows, seq, a] and [rows, seq, b] along the last axis, then zero-pads it to `width`. */
function concatFeatures(parts: readonly EncodedPart[], rows: number, width: number): Float32Array {
  const sequence = parts[0]!.sequence;
  const out = sharedFloat32Array(rows * sequence * width);
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < sequence; s++) {
      let offset = (r * sequence + s) * width;
      for (const part of parts) {
        const from = (r * sequence + s) * part.width;
        out.set(part.states.subarray(from, from + part.width), offset);
        offset += part.width;
      }
    }
  }
  return out;
}

function concatPooled(parts: readonly EncodedPart[], rows: number): { pooled: Float32Array; width: number } {
  const withPooled = parts.filter((p) => p.pooled !== undefined);
  const width = withPooled.reduce((sum, p) => sum + p.pooledWidth, 0);
  const pooled = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let offset = r * width;
    for (const part of withPooled) {
      pooled.set(part.pooled!.subarray(r * part.pooledWidth, (r + 1) * part.pooledWidth), offset);
      offset += part.pooledWidth;
    }
  }
  return { pooled, width };
}

/**
 * Prompt conditioning as each family's diffusers pipeline builds it:
 * - SD 1.x/2.x: the encoder's `last_hidden_state`.
 * - SDXL: both encoders' penultimate hidden states side by side (768 + 1280), pooled `text_embeds` of encoder 2.
 * - SD3: CLIP-L and CLIP-G penultimate states side by side, zero-padded to the T5 width, then T5's states (zeros
 *   when the export has no `text_encoder_3`, as diffusers allows) after them along the sequence; pooled = both
 *   CLIPs' `text_embeds` side by side.
 */
export async function encodePrompts(model: DiffusionModel, encoders: readonly LoadedTextEncoder[], texts: readonly string[]): Promise<PromptConditioning> {
  const rows = texts.length;
  const clips = encoders.filter((e) => e.part.kind !== 't5');
  const encoded = await Promise.all(clips.map((e) => encodePart(e, texts)));
  if (model.family === 'sd') {
    const only = encoded[0]!;
    return { rows, context: only.states, sequence: only.sequence, width: only.width, pooled: undefined, pooledWidth: 0 };
  }
  const { pooled, width: pooledWidth } = concatPooled(encoded, rows);
  if (model.family === 'sdxl') {
    const width = encoded.reduce((sum, p) => sum + p.width, 0);
    return { rows, context: concatFeatures(encoded, rows, width), sequence: encoded[0]!.sequence, width, pooled, pooledWidth };
  }
  const joint = (model.denoiser.config?.joint_attention_dim as number | undefined) ?? 4096;
  const clipStates = concatFeatures(encoded, rows, joint);
  const clipSequence = encoded[0]!.sequence;
  const t5Encoder = encoders.find((e) => e.part.kind === 't5');
  const t5 = t5Encoder === undefined ? undefined : await encodePart(t5Encoder, texts);
  const t5Sequence = t5?.sequence ?? model.textEncoders.find((t) => t.kind === 't5')?.sequenceLength ?? 256;
  const sequence = clipSequence + t5Sequence;
  // Fed at every step: in shared memory, so the engine reads it without a copy on the main thread.
  const context = sharedFloat32Array(rows * sequence * joint);
  for (let r = 0; r < rows; r++) {
    context.set(clipStates.subarray(r * clipSequence * joint, (r + 1) * clipSequence * joint), r * sequence * joint);
    if (t5 !== undefined) context.set(t5.states.subarray(r * t5Sequence * joint, (r + 1) * t5Sequence * joint), (r * sequence + clipSequence) * joint);
  }
  return { rows, context, sequence, width: joint, pooled, pooledWidth };
}

/** Zero conditioning of the same shape (SDXL's `force_zeros_for_empty_prompt` negative). */
export function zeroConditioning(like: PromptConditioning, rows: number): PromptConditioning {
  return {
    rows,
    context: new Float32Array(rows * like.sequence * like.width),
    sequence: like.sequence,
    width: like.width,
    pooled: like.pooled === undefined ? undefined : new Float32Array(rows * like.pooledWidth),
    pooledWidth: like.pooledWidth,
  };
}

/** Rows of `a` then rows of `b` (diffusers' `cat([negative, positive])`). */
export function stackConditioning(a: PromptConditioning, b: PromptConditioning): PromptConditioning {
  const context = sharedFloat32Array(a.context.length + b.context.length);
  context.set(a.context, 0);
  context.set(b.context, a.context.length);
  let pooled: Float32Array | undefined;
  if (a.pooled !== undefined && b.pooled !== undefined) {
    pooled = new Float32Array(a.pooled.length + b.pooled.length);
    pooled.set(a.pooled, 0);
    pooled.set(b.pooled, a.pooled.length);
  }
  return { rows: a.rows + b.rows, context, sequence: a.sequence, width: a.width, pooled, pooledWidth: a.pooledWidth };
}
