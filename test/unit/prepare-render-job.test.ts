import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobData } from '../../contract/index.js';
import type { DiffusionModel, UpscaleModel } from '../../workers/models/model-description.js';
import { prepareRenderJob } from '../../workers/consumer/prepare-render-job.js';

const diffusion = { kind: 'diffusion', name: 'flash-v1', sizes: { min: 256, max: 768, multipleOf: 64 }, defaultSteps: 4, maxSteps: 8, guidanceScale: 1 } as unknown as DiffusionModel;
const upscaler = { kind: 'upscale', name: 'upscale-x2', sizes: { min: 16, max: 1024, multipleOf: 1 }, tile: { sizePx: 128 } } as unknown as UpscaleModel;
const data = (fields: Partial<Omit<JobData, 'request'>> & { request: Partial<JobData['request']> }) => ({ lane: 'flash', model: 'flash-v1', size: { width: 1000, height: 500 }, ...fields, request: { prompt: 'p', seed: 1, ...fields.request } }) as unknown as JobData;

test('diffusion: the model renders an allowed size of the same aspect, the artifact keeps the requested size, steps default to the model', () => {
  const plan = prepareRenderJob(data({ request: {} }), 'flash.1', diffusion);
  assert.deepEqual(plan, { render: { width: 768, height: 384 }, output: { width: 1000, height: 500 }, steps: 4, guidanceScale: 1, batchKey: '4|1' });
  assert.equal(prepareRenderJob(data({ request: { steps: 6 } }), 'flash.1', diffusion).batchKey, '6|1', 'jobs of other step counts do not share a batch');
  assert.equal(prepareRenderJob(data({ request: {} }), 'flash.1', diffusion, true).batchKey, 'alone:flash.1');
});

test('diffusion: more steps than the model runs is E_VALIDATION naming steps', () => {
  assert.throws(() => prepareRenderJob(data({ request: { steps: 9 } }), 'flash.1', diffusion), (error: { code?: string; field?: string }) => error.code === 'E_VALIDATION' && error.field === 'steps');
});

test("upscale: the model renders tiles, the artifact is the model's output unless a size was asked, each job a batch of its own", () => {
  const plan = prepareRenderJob(data({ lane: 'upscale', size: null, request: { source: { key: 'sources/a.png' } } }), 'upscale.1', upscaler);
  assert.deepEqual(plan, { render: { width: 128, height: 128 }, output: undefined, batchKey: 'source:upscale.1' });
  assert.throws(() => prepareRenderJob(data({ lane: 'upscale', size: null, request: {} }), 'upscale.1', upscaler), { code: 'E_VALIDATION' });
});
