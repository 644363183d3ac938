import { readModelCatalogue, type ModelCatalogue, type RedisClient } from '../contract/index.js';

/** Where the producer gets the catalogue of the models workers serve (see `contract/model-catalogue.ts`). */
export interface ModelCatalogueSource {
  /** The catalogue, fresh to within the source's refresh interval; the last one read when Redis fails. */
  current(): Promise<ModelCatalogue>;
}

/** No catalogue: nothing is checked against models (tests of routing alone, tools). */
export const NO_CATALOGUE: ModelCatalogueSource = { current: async () => ({ models: {}, workers: 0 }) };

/**
 * The catalogue in Redis, read at most every `refreshMs` and shared by the requests meanwhile. A read that fails
 * keeps the last catalogue: a check against a slightly old catalogue beats refusing every request.
 */
export class RedisModelCatalogue implements ModelCatalogueSource {
  private catalogue: ModelCatalogue = { models: {}, workers: 0 };
  private readAt = -Infinity;
  private reading: Promise<ModelCatalogue> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly refreshMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  current(): Promise<ModelCatalogue> {
    if (this.now() - this.readAt < this.refreshMs) return Promise.resolve(this.catalogue);
    this.reading ??= readModelCatalogue(this.redis, this.prefix, this.now())
      .then(
        (catalogue) => {
          this.catalogue = catalogue;
          this.readAt = this.now();
          return catalogue;
        },
        () => this.catalogue,
      )
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}
