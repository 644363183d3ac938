// The models scripts/build-models.ts writes: their manifests and the graph specs behind them.
import type { ModelManifestInput } from '../../workers/models/model-manifest.js';
import type { DiffusionGraphSpec } from './diffusion-graphs.js';

/** Bump when any graph, weight or manifest changes, so existing builds are replaced. */
export const BUILDER_VERSION = 'toy-4';

const GB = 1_000_000_000;

// Upscalers are trained models converted from npm packages: scripts/onnx/upscale-catalog.ts.
export type CatalogEntry = { manifest: ModelManifestInput & { pipeline: 'diffusion' }; graph: Omit<DiffusionGraphSpec, 'vocabSize' | 'padTokenId'> };

const diffusionCommon = {
  schemaVersion: 1,
  pipeline: 'diffusion',
  builderVersion: BUILDER_VERSION,
  vaeScalingFactor: 0.18215,
} as const;

const smallGraph = { hiddenSize: 64, unetChannels: 32, decoderChannels: [16, 8] as [number, number] };
const vivid = { seedGain: 2.3, textGain: 1.1, bandFrequency: 1.6, outputScale: 0.95, outputOffset: 0 };

export const MODEL_CATALOG: CatalogEntry[] = [
  {
    manifest: {
      ...diffusionCommon,
      name: 'flash-v1',
      description: 'Few-step distilled preview model (SD-Turbo-shaped toy).',
      lanes: ['flash'],
      sizes: { min: 256, max: 768, multipleOf: 64 },
      defaultSteps: 4,
      maxSteps: 8,
      scheduler: 'lcm',
      residentBytes: 2.6 * GB,
      activationBytesPerMegapixel: 1.2 * GB,
      costUnitsPerImage: 1,
    },
    graph: { ...smallGraph, weightSeed: 101, timestep: { type: 'int64', shape: 'batch' }, look: vivid },
  },
  {
    manifest: {
      ...diffusionCommon,
      name: 'flash-v2',
      description: 'Canary of flash-v1: same layout, retrained weights.',
      lanes: ['flash'],
      sizes: { min: 256, max: 768, multipleOf: 64 },
      defaultSteps: 4,
      maxSteps: 8,
      scheduler: 'lcm',
      residentBytes: 2.6 * GB,
      activationBytesPerMegapixel: 1.2 * GB,
      costUnitsPerImage: 1,
    },
    graph: { ...smallGraph, weightSeed: 202, timestep: { type: 'int64', shape: 'batch' }, look: { ...vivid, bandFrequency: 1.9 } },
  },
  {
    manifest: {
      ...diffusionCommon,
      name: 'large-v1',
      description: 'High-fidelity model sampled with Euler discrete (SD 1.5-shaped toy).',
      lanes: ['large'],
      sizes: { min: 256, max: 1024, multipleOf: 64 },
      defaultSteps: 24,
      maxSteps: 50,
      scheduler: 'euler',
      guidanceScale: 1,
      residentBytes: 6.9 * GB,
      activationBytesPerMegapixel: 3.5 * GB,
      costUnitsPerImage: 6,
    },
    graph: {
      hiddenSize: 96,
      unetChannels: 32,
      decoderChannels: [16, 8],
      weightSeed: 303,
      timestep: { type: 'float32', shape: 'batch' },
      look: { ...vivid, bandFrequency: 1.3 },
    },
  },
  {
    manifest: {
      ...diffusionCommon,
      name: 'typography-v1',
      description: 'Smooth, low-contrast backgrounds for text layouts, rendered at up to 512² (an SD 1.5-class native size) and resized; the text is drawn afterwards at full size.',
      lanes: ['typography'],
      sizes: { min: 256, max: 512, multipleOf: 64 },
      defaultSteps: 12,
      maxSteps: 40,
      scheduler: 'euler',
      residentBytes: 5 * GB,
      activationBytesPerMegapixel: 2.5 * GB,
      costUnitsPerImage: 4,
    },
    graph: {
      ...smallGraph,
      weightSeed: 404,
      timestep: { type: 'float32', shape: 'one' },
      look: { seedGain: 2, textGain: 0.6, bandFrequency: 0.5, outputScale: 0.3, outputOffset: 0.45 },
    },
  },
];
