// Kept so `import … from './schedulers.js'` in diffusion-pipeline.ts still resolves while its rewrite lands
// (NodeNext does not resolve a folder's index); new code imports './schedulers/index.js'.
export * from './schedulers/index.js';
