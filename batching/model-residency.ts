import type { ModelResidencyState } from './batcher-stats.js';

interface ResidentModel {
  state: 'loading' | 'ready' | 'unloading';
  weightBytes: number;
  /** Batches holding the model (running, or waiting for the load): never evicted while above 0. */
  pins: number;
  lastUsedMs: number;
  ready: Promise<void>;
}

export interface ModelResidencyHooks {
  load: (model: string) => Promise<void>;
  unload: (model: string) => Promise<void>;
  /** Called after a load or unload settles, so the owner can schedule again. */
  onChange: () => void;
  onLoad: (model: string, weightBytes: number) => void;
  onLoadError: (model: string, error: unknown) => void;
  onEvict: (model: string, weightBytes: number) => void;
  onUnloadError: (model: string, error: unknown) => void;
}

/**
 * Which models' weights are on the GPU. Weights count against the budget from the moment a load starts
 * until an unload has finished. Models load on first need and are evicted least recently used first,
 * never while pinned by a batch.
 */
export class ModelResidency {
  readonly #models = new Map<string, ResidentModel>();
  readonly #hooks: ModelResidencyHooks;

  constructor(hooks: ModelResidencyHooks) {
    this.#hooks = hooks;
  }

  state(model: string): ModelResidencyState {
    return this.#models.get(model)?.state ?? 'unloaded';
  }

  pins(model: string): number {
    return this.#models.get(model)?.pins ?? 0;
  }

  /** Weights of every model loading, ready or still unloading, bytes. */
  residentWeightBytes(): number {
    let total = 0;
    for (const entry of this.#models.values()) total += entry.weightBytes;
    return total;
  }

  /** Weights of models being unloaded: still counted, free soon. */
  unloadingWeightBytes(): number {
    let total = 0;
    for (const entry of this.#models.values()) if (entry.state === 'unloading') total += entry.weightBytes;
    return total;
  }

  /** Models in the order they would be evicted (least recently used first), with their bytes. */
  evictable(except: string): { model: string; weightBytes: number }[] {
    return [...this.#models]
      .filter(([name, entry]) => name !== except && entry.state === 'ready' && entry.pins === 0)
      .sort(([, a], [, b]) => a.lastUsedMs - b.lastUsedMs)
      .map(([model, entry]) => ({ model, weightBytes: entry.weightBytes }));
  }

  /**
   * Pins `model` for one batch, starting its load when absent. The promise settles when the weights are
   * ready (or rejects with the load's error, after which the model is absent again).
   * Must not be called while the model is unloading.
   */
  pin(model: string, weightBytes: number, nowMs: number): Promise<void> {
    let entry = this.#models.get(model);
    if (entry?.state === 'unloading') throw new Error(`model ${model} is unloading; wait before pinning it`);
    if (!entry) {
      const ready = this.#startLoad(model);
      entry = { state: 'loading', weightBytes, pins: 0, lastUsedMs: nowMs, ready };
      this.#models.set(model, entry);
    }
    entry.pins++;
    entry.lastUsedMs = nowMs;
    return entry.ready;
  }

  /** Ends one batch's pin; the model becomes evictable when no batch holds it. */
  unpin(model: string, nowMs: number): void {
    const entry = this.#models.get(model);
    if (!entry) return;
    entry.pins = Math.max(0, entry.pins - 1);
    entry.lastUsedMs = nowMs;
  }

  /** Starts unloading an idle ready model; its bytes stay counted until the unload settles. */
  evict(model: string): void {
    const entry = this.#models.get(model);
    if (!entry || entry.state !== 'ready' || entry.pins > 0) return;
    entry.state = 'unloading';
    const weightBytes = entry.weightBytes;
    Promise.resolve()
      .then(() => this.#hooks.unload(model))
      .then(
        () => this.#hooks.onEvict(model, weightBytes),
        // The runtime said the unload failed; the memory state is unknown, but keeping the entry forever
        // would wedge the budget, so it is dropped and reported.
        (error: unknown) => this.#hooks.onUnloadError(model, error),
      )
      .finally(() => {
        if (this.#models.get(model) === entry) this.#models.delete(model);
        this.#hooks.onChange();
      });
  }

  /** Names of models loading or ready (not unloading). */
  loadedModels(): string[] {
    return [...this.#models].filter(([, entry]) => entry.state !== 'unloading').map(([name]) => name);
  }

  /** True while any load or unload is outstanding. */
  busy(): boolean {
    for (const entry of this.#models.values()) if (entry.state !== 'ready') return true;
    return false;
  }

  #startLoad(model: string): Promise<void> {
    const ready = Promise.resolve()
      .then(() => this.#hooks.load(model))
      .then(
        () => {
          const entry = this.#models.get(model);
          if (entry) entry.state = 'ready';
          this.#hooks.onLoad(model, entry?.weightBytes ?? 0);
        },
        (error: unknown) => {
          this.#models.delete(model);
          this.#hooks.onLoadError(model, error);
          throw error;
        },
      );
    // The pinning batches observe the rejection; this keeps it from being reported as unhandled.
    ready.catch(() => {}).finally(() => this.#hooks.onChange());
    return ready;
  }
}
