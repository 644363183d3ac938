import { describeModelSizes, EDIT_SOURCE_SIDE, effectiveScale, FleetError, modelSizesAllow, ValidationError, type CatalogueModel, type GenerateRequest, type Lane } from '../contract/index.js';

/**
 * Checks a routed request against the model it routes to, before anything is enqueued: what the model's
 * pipeline would refuse later (more steps than it runs, a source size it does not take, a scale it does not do)
 * is a 400 naming the field and the allowed range instead of a job that fails. Sizes of text-to-image requests are
 * not refused: a model renders the nearest size it allows and the image is resized to the size asked.
 * @throws ValidationError (E_VALIDATION) with `details.allowed`.
 */
export function checkRequestAgainstModel(request: GenerateRequest, lane: Lane, model: CatalogueModel, source?: { width: number; height: number }): void {
  if (!model.lanes.includes(lane)) {
    // The policy put the request on a lane the model is not served on: a routing fault, not the client's.
    throw new FleetError('E_MODEL_LOAD', `the policy routes this request to model ${model.name} on lane ${lane}, but workers serve ${model.name} only on ${model.lanes.join(', ')}`);
  }
  if (model.kind === 'diffusion' && model.steps !== undefined && request.steps !== undefined && request.steps > model.steps.max) {
    throw new ValidationError(`steps: model ${model.name} runs 1–${model.steps.max} steps, got ${request.steps}`, 'steps', { details: { allowed: { min: 1, max: model.steps.max } } });
  }
  if (model.kind === 'diffusion') {
    if (request.intent === 'edit' && model.edit === undefined) {
      throw new FleetError('E_MODEL_LOAD', `the policy routes this edit to model ${model.name}, which has no VAE encoder and so cannot edit; route intent 'edit' to a model with a vae_encoder`);
    }
    if (request.intent !== 'edit' && model.edit === 'inpaint') {
      throw new FleetError('E_MODEL_LOAD', `the policy routes this ${request.intent} to model ${model.name}, an inpainting model that only edits; route only intent 'edit' to it`);
    }
    return;
  }
  const scale = effectiveScale(request);
  if (model.scale !== undefined && scale !== null && scale !== model.scale) {
    throw new ValidationError(`scale: model ${model.name} upscales ×${model.scale}, got ×${scale}${request.scale === undefined ? ' (the default)' : ''}`, 'scale', { details: { allowed: [model.scale] } });
  }
  if (source !== undefined && !modelSizesAllow(model.sizes, source.width, source.height)) {
    throw new ValidationError(`source.key: model ${model.name} takes sources of ${describeModelSizes(model.sizes)}, got ${source.width}x${source.height}`, 'source.key', {
      details: { allowed: model.sizes, got: source },
    });
  }
}

/**
 * An edit's source and mask as their stored headers give them: the source within the sides a request may ask for,
 * the mask exactly the source's size (a mask is read pixel for pixel against its source, never resized to fit).
 * @throws ValidationError (E_VALIDATION) naming `source.key` or `mask.key`.
 */
export function checkEditImages(source: { width: number; height: number }, mask: { width: number; height: number } | undefined): void {
  const { min, max } = EDIT_SOURCE_SIDE;
  if (source.width < min || source.height < min || source.width > max || source.height > max) {
    throw new ValidationError(`source.key: an edit's source must be ${min}–${max} px per side, got ${source.width}x${source.height}`, 'source.key', { details: { allowed: EDIT_SOURCE_SIDE, got: source } });
  }
  if (mask !== undefined && (mask.width !== source.width || mask.height !== source.height)) {
    throw new ValidationError(`mask.key: the mask is ${mask.width}x${mask.height} but its source is ${source.width}x${source.height}; they must be the same size`, 'mask.key', {
      details: { got: mask, source },
    });
  }
}
