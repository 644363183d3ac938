// Text encoders with the signatures exporters write (see the README table and test/integration/real-exports.test.ts):
//   CLIPTextModel:               input_ids → last_hidden_state, pooler_output[, hidden_states.0..N]
//   CLIPTextModelWithProjection: input_ids → text_embeds, last_hidden_state, hidden_states.0..N
//   T5EncoderModel:              input_ids → last_hidden_state
// The oracle looks up one value per token (special tokens and padding another) and scales it per output; the toy
// look embeds tokens with random weights, as the shipped models always have.
import { SeededNoise } from '../../../workers/pipelines/seeded-noise.js';
import { OnnxGraphBuilder, type Dim, type ElementType } from '../onnx-graph-builder.js';
import { ORACLE } from './oracle.js';

export interface TextEncoderGraphSpec {
  kind: 'clip' | 'clip-projection' | 't5';
  hiddenSize: number;
  layers: number;
  projectionDim: number;
  sequenceLength: number;
  vocabSize: number;
  /** Token ids whose state is the "special" value (BOS, EOS, padding). */
  specialIds: readonly number[];
  idsType: 'int32' | 'int64';
  /** Dims names of `input_ids` (`['batch_size', 'sequence_length']`, or the legacy script's `['batch', 'sequence']`). */
  idsDims: [string, string];
  /** Emit `hidden_states.0..layers` (Optimum does for SDXL and SD3). */
  hiddenStates: boolean;
  float: ElementType;
  target: 'oracle' | 'look';
  weightSeed: number;
}

export function buildTextEncoderGraph(spec: TextEncoderGraphSpec): Uint8Array {
  const g = new OnnxGraphBuilder(spec.kind === 't5' ? 't5_encoder' : 'clip_text_model');
  const d = spec.hiddenSize;
  const [batch, sequence] = spec.idsDims;
  const ids = g.input('input_ids', spec.idsType, [batch, sequence]);
  const noise = new SeededNoise(spec.weightSeed ^ 0x7e47);
  const special = new Set(spec.specialIds);
  const table = new Float32Array(spec.vocabSize * d);
  for (let id = 0; id < spec.vocabSize; id++) {
    for (let j = 0; j < d; j++) {
      table[id * d + j] = spec.target === 'oracle' ? (special.has(id) ? ORACLE.specialValue : ORACLE.tokenValue) : special.has(id) ? 0 : noise.normal();
    }
  }
  const weight = (name: string, dims: number[], values: ArrayLike<number>) => g.op('Cast', [g.weights(name, dims, values, spec.float === 'float16' ? 'float16' : 'float32')], { to: 1 });
  let states = g.op('Gather', [weight('token_embedding', [spec.vocabSize, d], table), ids], { axis: 0 });
  // The toy look's states are its random embeddings squashed: no layers, which would only cost CPU time.
  if (spec.target === 'look') states = g.op('Tanh', [states]);
  const toFloat = (x: string) => (spec.float === 'float16' ? g.op('Cast', [x], { to: 10 }) : x);
  const scaled = (x: string, scale: number, name: string) => g.op('Mul', [x, g.floats(name, [], [scale])]);
  const out = (name: string, value: string, dims: Dim[]) => {
    g.op('Identity', [toFloat(value)], {}, name);
    g.output(name, spec.float, dims);
  };
  const pooledMax = g.op('ReduceMax', [states], { axes: [1], keepdims: 0 });
  const lastHidden = scaled(states, ORACLE.lastHiddenScale, 'last_scale');
  if (spec.kind === 'clip-projection') {
    const p = spec.projectionDim;
    // Every projected feature is the mean of the pooled state's features (the oracle keeps it at the token value).
    const projectionWeights = new Float32Array(d * p).fill(1 / d);
    const projected = g.op('MatMul', [pooledMax, weight('text_projection', [d, p], projectionWeights)]);
    // Optimum declares text_embeds' second axis as sequence_length, though it holds projection_dim.
    out('text_embeds', scaled(projected, ORACLE.pooledScale, 'pooled_scale'), [batch === 'batch' ? 'batch' : 'batch_size', 'sequence_length']);
    out('last_hidden_state', lastHidden, [batch === 'batch' ? 'batch' : 'batch_size', 'sequence_length', d]);
  } else {
    out('last_hidden_state', spec.kind === 't5' ? scaled(states, ORACLE.t5Scale, 't5_scale') : lastHidden, [batch === 'batch' ? 'batch' : 'batch_size', 'sequence_length', d]);
    if (spec.kind === 'clip') out('pooler_output', scaled(pooledMax, ORACLE.pooledScale, 'pooler_scale'), [batch === 'batch' ? 'batch' : 'batch_size', d]);
  }
  if (spec.hiddenStates && spec.kind !== 't5') {
    for (let k = 0; k <= spec.layers; k++) out(`hidden_states.${k}`, scaled(states, ORACLE.layerScale(k, spec.layers), `layer_${k}_scale`), ['batch_size', 'sequence_length', d]);
  }
  return g.toBytes(`image-fleet ${spec.target} ${spec.kind} text encoder`);
}
