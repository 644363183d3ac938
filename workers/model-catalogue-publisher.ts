import { modelCatalogueKey, type CatalogueEntry, type CatalogueModel, type Lane, type RedisClient } from '../contract/index.js';
import type { ModelDescription } from './models/model-description.js';
import type { ModelRepository } from './models/model-repository.js';

/** How often a worker republishes its catalogue entry (readers drop entries older than `CATALOGUE_MAX_AGE_MS`). */
const PUBLISH_INTERVAL_MS = 5000;

/** A model as the catalogue shows it, on the lanes of `lanes` it may serve; undefined when it serves none of them. */
export function toCatalogueModel(model: ModelDescription, lanes: readonly Lane[]): CatalogueModel | undefined {
  const served = model.lanes.filter((lane) => lanes.includes(lane));
  if (served.length === 0) return undefined;
  const sizes = 'list' in model.sizes ? { list: model.sizes.list.map((s) => ({ ...s })) } : { min: model.sizes.min, max: model.sizes.max, multipleOf: model.sizes.multipleOf };
  if (model.kind === 'upscale') return { name: model.name, kind: 'upscale', lanes: served, costUnitsPerImage: model.costUnitsPerImage, sizes, scale: model.scale };
  const edit = model.vaeEncoder === undefined ? undefined : model.inpainting ? 'inpaint' : 'img2img';
  return { name: model.name, kind: 'diffusion', lanes: served, costUnitsPerImage: model.costUnitsPerImage, sizes, steps: { default: model.defaultSteps, max: model.maxSteps }, ...(edit === undefined ? {} : { edit }) };
}

/** The catalogue models of the named models a worker serves on its lanes (own and overflow). */
export async function describeServedModels(repository: ModelRepository, names: readonly string[], lanes: readonly Lane[]): Promise<CatalogueModel[]> {
  const models: CatalogueModel[] = [];
  for (const name of names) {
    const model = toCatalogueModel(await repository.describe(name), lanes);
    if (model !== undefined) models.push(model);
  }
  return models;
}

/**
 * Publishes the models a worker serves, with their limits, into the catalogue hash (`<prefix>:catalogue`, worker
 * id → entry) every few seconds, and takes its entry out on stop. Producers check requests against it; `fleet
 * policy apply` and `test` check policies.
 */
export class ModelCataloguePublisher {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly workerId: string,
    private readonly models: readonly CatalogueModel[],
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    void this.publish();
    this.timer = setInterval(() => void this.publish(), PUBLISH_INTERVAL_MS);
    this.timer.unref();
  }

  async publish(): Promise<void> {
    const entry: CatalogueEntry = { workerId: this.workerId, publishedAt: this.now(), models: [...this.models] };
    await this.redis.hset(modelCatalogueKey(this.prefix), this.workerId, JSON.stringify(entry)).catch(() => {});
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(modelCatalogueKey(this.prefix), this.workerId).catch(() => {});
  }
}
