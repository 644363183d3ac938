import { FleetError } from '../../contract/index.js';

/** The model families the diffusion pipeline runs; each has its own text conditioning and denoiser contract. */
export type DiffusionFamily = 'sd' | 'sdxl' | 'sd3';

/** What a task a pipeline class performs; the fleet serves text-to-image exports (edits come from the same families). */
export type PipelineTask = 'text-to-image' | 'image-to-image' | 'inpaint';

/** What `model_index.json`'s `_class_name` says about the export. */
export interface PipelineClass {
  /** As written, e.g. `StableDiffusionXLPipeline`, `ORTStableDiffusion3Pipeline`, `OnnxStableDiffusionPipeline`. */
  className: string;
  family: DiffusionFamily;
  task: PipelineTask;
  /** LatentConsistencyModelPipeline: never classifier-free guidance; a guidance embedding when the UNet asks. */
  latentConsistency: boolean;
}

const FAMILY_BY_STEM: Record<string, { family: DiffusionFamily; latentConsistency: boolean }> = {
  StableDiffusion: { family: 'sd', latentConsistency: false },
  LatentConsistencyModel: { family: 'sd', latentConsistency: true },
  StableDiffusionXL: { family: 'sdxl', latentConsistency: false },
  StableDiffusion3: { family: 'sd3', latentConsistency: false },
};

const TASK_BY_SUFFIX: Record<string, PipelineTask> = {
  '': 'text-to-image',
  Text2Img: 'text-to-image',
  Img2Img: 'image-to-image',
  Inpaint: 'inpaint',
};

/**
 * Maps a pipeline class name to its family. Optimum writes the diffusers class (`StableDiffusionXLPipeline`) or, when
 * an ORT pipeline saved itself, the ORT one (`ORTStableDiffusionXLPipeline`); diffusers' legacy ONNX script writes
 * `OnnxStableDiffusionPipeline`.
 * @throws FleetError E_MODEL_SHAPE naming the file when the class is not one the fleet runs.
 */
export function classifyPipeline(className: unknown, file: string): PipelineClass {
  const name = typeof className === 'string' ? className : '';
  const match = /^(?:ORT|Onnx)?(StableDiffusion3|StableDiffusionXL|StableDiffusion|LatentConsistencyModel)(Text2Img|Img2Img|Inpaint)?Pipeline$/.exec(name);
  const stem = match === null ? undefined : FAMILY_BY_STEM[match[1]!];
  if (match === null || stem === undefined) {
    const known = 'StableDiffusion[XL|3][Img2Img|Inpaint]Pipeline, LatentConsistencyModelPipeline (optionally ORT… or Onnx…)';
    throw new FleetError('E_MODEL_SHAPE', `${file}: _class_name ${JSON.stringify(className ?? null)} is not a pipeline the fleet runs; it runs ${known}`, {
      details: { file, path: '_class_name' },
    });
  }
  return { className: name, family: stem.family, task: TASK_BY_SUFFIX[match[2] ?? '']!, latentConsistency: stem.latentConsistency };
}
