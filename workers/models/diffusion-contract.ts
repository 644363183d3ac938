import type { DiffusionModel, ExportComponent } from './model-description.js';
import type { DeclaredTensor } from './onnx-signature.js';

/** One way an export contradicts what its pipeline feeds and reads. */
export interface ContractProblem {
  /** The ONNX (or config) file at fault. */
  file: string;
  /** The tensor (or config field) at fault. */
  tensor: string;
  message: string;
}

const FLOAT = ['float32', 'float16'];
const IDS = ['int32', 'int64'];
const TIMESTEP = ['int64', 'float32', 'float16'];

interface InputRule {
  name: string;
  types: readonly string[];
  /** Fixed dims the pipeline relies on, by axis: a declared number must equal it. */
  dims?: Record<number, number | undefined>;
  /** Fed only when declared. */
  optional?: boolean;
}

function checkComponent(component: ExportComponent, inputs: readonly InputRule[], outputs: ReadonlyArray<{ name: string; dims?: Record<number, number | undefined> }>): ContractProblem[] {
  const problems: ContractProblem[] = [];
  const { file } = component;
  const declared = new Map(component.signature.inputs.map((t) => [t.name, t]));
  const checkDims = (tensor: DeclaredTensor, dims: Record<number, number | undefined> | undefined, what: string) => {
    for (const [axis, wanted] of Object.entries(dims ?? {})) {
      const got = tensor.dims[Number(axis)];
      if (wanted !== undefined && typeof got === 'number' && got !== wanted) {
        problems.push({ file, tensor: tensor.name, message: `${what} ${tensor.name} has ${got} at axis ${axis} where the pipeline needs ${wanted} (${describeDims(tensor)})` });
      }
    }
  };
  for (const rule of inputs) {
    const tensor = declared.get(rule.name);
    if (tensor === undefined) {
      if (!rule.optional) problems.push({ file, tensor: rule.name, message: `input ${rule.name} is missing (inputs: ${[...declared.keys()].join(', ') || 'none'})` });
      continue;
    }
    if (!rule.types.includes(tensor.type)) problems.push({ file, tensor: rule.name, message: `input ${rule.name} is ${tensor.type}, expected ${rule.types.join(' or ')}` });
    checkDims(tensor, rule.dims, 'input');
  }
  for (const name of declared.keys()) {
    if (!inputs.some((rule) => rule.name === name)) problems.push({ file, tensor: name, message: `input ${name} is one the pipeline does not feed (it feeds ${inputs.map((r) => r.name).join(', ')})` });
  }
  for (const output of outputs) {
    const tensor = component.signature.outputs.find((t) => t.name === output.name);
    if (tensor === undefined) {
      problems.push({ file, tensor: output.name, message: `output ${output.name} is missing (outputs: ${component.signature.outputs.map((t) => t.name).join(', ')})` });
      continue;
    }
    if (!FLOAT.includes(tensor.type)) problems.push({ file, tensor: output.name, message: `output ${output.name} is ${tensor.type}, expected float32 or float16` });
    checkDims(tensor, output.dims, 'output');
  }
  return problems;
}

function describeDims(tensor: DeclaredTensor): string {
  return `${tensor.name} is ${tensor.type}[${tensor.dims.join(', ')}]`;
}

/**
 * Checks every component of a described export against what its family's pipeline feeds and reads: input and
 * output names and types, and the fixed dims that tie components together (context width against the encoders'
 * hidden sizes, latent channels between denoiser and VAE, pooled widths, RGB out of the VAE). Symbolic dims pass.
 * @returns every problem found (empty when the export will run).
 */
export function checkDiffusionContract(model: DiffusionModel): ContractProblem[] {
  const problems: ContractProblem[] = [];
  const clips = model.textEncoders.filter((t) => t.kind !== 't5');
  for (const part of model.textEncoders) {
    problems.push(
      ...checkComponent(part.encoder, [{ name: 'input_ids', types: IDS, dims: { 1: part.sequenceLength } }], [
        { name: part.statesOutput, dims: { 2: part.hiddenSize || undefined } },
        ...(part.pooledOutput === undefined ? [] : [{ name: part.pooledOutput }]),
      ]),
    );
    if (part.hiddenSize === 0) problems.push({ file: part.encoder.file, tensor: 'last_hidden_state', message: 'hidden size unknown: no config.json hidden_size and no fixed last dim' });
  }
  const latent = model.latentChannels;
  const { denoiser } = model;
  // An inpainting denoiser takes latents, mask and masked-image latents (diffusers' torch.cat order), and returns latents.
  const denoiserIn = model.inpainting ? 2 * latent + 1 : latent;
  if (model.family === 'sd3') {
    const joint = (denoiser.config?.joint_attention_dim as number | undefined) ?? 4096;
    const clipWidth = clips.reduce((sum, t) => sum + t.hiddenSize, 0);
    if (clipWidth > joint) problems.push({ file: denoiser.file, tensor: 'encoder_hidden_states', message: `the CLIP encoders' hidden states are ${clipWidth} wide, more than joint_attention_dim ${joint}` });
    const t5 = model.textEncoders.find((t) => t.kind === 't5');
    if (t5 !== undefined && t5.hiddenSize !== joint) problems.push({ file: t5.encoder.file, tensor: 'last_hidden_state', message: `T5 hidden size ${t5.hiddenSize} differs from the transformer's joint_attention_dim ${joint}` });
    const pooled = clips.reduce((sum, t) => sum + (t.pooledSize ?? 0), 0);
    problems.push(
      ...checkComponent(
        denoiser,
        [
          { name: 'hidden_states', types: FLOAT, dims: { 1: denoiserIn } },
          { name: 'timestep', types: TIMESTEP },
          { name: 'encoder_hidden_states', types: FLOAT, dims: { 2: joint } },
          { name: 'pooled_projections', types: FLOAT, dims: { 1: pooled || undefined } },
        ],
        [{ name: 'out_hidden_states', dims: { 1: latent } }],
      ),
    );
  } else {
    const context = clips.reduce((sum, t) => sum + t.hiddenSize, 0);
    const pooled = model.textEncoders.find((t) => t.pooledOutput !== undefined)?.pooledSize;
    const sdxl = model.family === 'sdxl';
    problems.push(
      ...checkComponent(
        denoiser,
        [
          { name: 'sample', types: FLOAT, dims: { 1: denoiserIn } },
          { name: 'timestep', types: TIMESTEP },
          { name: 'encoder_hidden_states', types: FLOAT, dims: { 2: context || undefined } },
          { name: 'timestep_cond', types: FLOAT, dims: { 1: model.timestepCondDim !== undefined && model.timestepCondDim > 0 ? model.timestepCondDim : undefined }, optional: true },
          ...(sdxl
            ? [
                { name: 'text_embeds', types: FLOAT, dims: { 1: pooled } },
                // 5 would be the refiner's aesthetic score, which the fleet does not feed.
                { name: 'time_ids', types: FLOAT, dims: { 1: 6 } },
              ]
            : []),
        ],
        [{ name: 'out_sample', dims: { 1: latent } }],
      ),
    );
    const cross = denoiser.config?.cross_attention_dim;
    if (typeof cross === 'number' && context > 0 && cross !== context) {
      problems.push({ file: denoiser.file, tensor: 'encoder_hidden_states', message: `cross_attention_dim ${cross} in config.json differs from the text encoders' hidden size ${context}` });
    }
    if (model.timestepCondDim === -1) problems.push({ file: denoiser.file, tensor: 'timestep_cond', message: 'timestep_cond width unknown: no time_cond_proj_dim in config.json and no fixed dim' });
  }
  const inChannels = denoiser.config?.in_channels;
  if (typeof inChannels === 'number' && inChannels !== denoiserIn) {
    const wanted = model.inpainting ? `${denoiserIn} (an inpainting denoiser: ${latent} latent channels, the mask and ${latent} masked-image channels)` : `the VAE's ${latent} latent channels`;
    problems.push({ file: denoiser.file, tensor: model.family === 'sd3' ? 'hidden_states' : 'sample', message: `in_channels ${inChannels} differs from ${wanted}` });
  }
  if (model.inpainting && model.vaeEncoder === undefined) {
    problems.push({ file: denoiser.file, tensor: 'sample', message: 'an inpainting denoiser needs vae_encoder/model.onnx to encode the masked image, and the export has none' });
  }
  problems.push(...checkComponent(model.vaeDecoder, [{ name: 'latent_sample', types: FLOAT, dims: { 1: latent } }], [{ name: 'sample', dims: { 1: 3 } }]));
  if (model.vaeEncoder !== undefined) {
    const encoder = model.vaeEncoder;
    const output = vaeEncoderOutput(encoder);
    problems.push(
      ...checkComponent(encoder, [{ name: 'sample', types: FLOAT, dims: { 1: 3 } }], output === undefined ? [{ name: 'latent_parameters' }] : [{ name: output.name, dims: { 1: output.channels(latent) } }]),
    );
  }
  return problems;
}

/**
 * The VAE encoder's output as its exporter names it: `latent_parameters` (the diagonal Gaussian's mean and
 * log-variance stacked on the channel axis, 2 × latent channels: Optimum ≥ 1.23) or `latent_sample` (a sample of it:
 * diffusers' script and Optimum before 1.23). Undefined when it has neither.
 */
export function vaeEncoderOutput(encoder: ExportComponent): { name: 'latent_parameters' | 'latent_sample'; channels: (latent: number) => number } | undefined {
  const names = new Set(encoder.signature.outputs.map((t) => t.name));
  if (names.has('latent_parameters')) return { name: 'latent_parameters', channels: (latent) => 2 * latent };
  if (names.has('latent_sample')) return { name: 'latent_sample', channels: (latent) => latent };
  return undefined;
}
