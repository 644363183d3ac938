import type { Metric, Registry } from 'prom-client';

/** What prom-client's Registry reads from a metric when it writes the exposition. */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  /** Labels written after `labels` (prom-client's histograms put `le` first this way). */
  sharedLabels?: Record<string, string>;
  metricName?: string;
}

interface BoundMetricConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

/**
 * Hot-path Prometheus metrics: a child is bound to its label values once (`labels()`), after which an
 * observation is a few array increments. prom-client's own metrics hash their labels on every call, and the
 * worker makes seven such calls per job. These register in a prom-client Registry and write
 * the same exposition as prom-client's Counter and Histogram (a unit test compares the two).
 */
abstract class BoundMetric<L extends string, C> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  protected readonly labelNames: readonly L[];
  protected readonly children = new Map<string, { labels: Record<L, string>; child: C }>();

  constructor(config: BoundMetricConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  abstract get type(): 'counter' | 'histogram';

  /** The child for these label values (created on first use and kept). */
  labels(values: Record<L, string | number>): C {
    let key = '';
    for (const name of this.labelNames) key += `${values[name]}\u0000`;
    let entry = this.children.get(key);
    if (entry === undefined) {
      for (const name of this.labelNames) if (typeof values[name] !== 'string' && typeof values[name] !== 'number') throw new TypeError(`${this.name}: label ${name} is missing`);
      const labels = Object.fromEntries(this.labelNames.map((name) => [name, String(values[name])])) as Record<L, string>;
      this.children.set(key, (entry = { labels, child: this.createChild() }));
    }
    return entry.child;
  }

  /** Zeroes every child in place: children bound before a reset (`labels()` results kept by callers) go on counting. */
  reset(): void {
    for (const { child } of this.children.values()) this.zero(child);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const { labels, child } of this.children.values()) this.export(labels, child, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  protected abstract createChild(): C;
  protected abstract zero(child: C): void;
  protected abstract export(labels: Record<L, string>, child: C, into: MetricValue[]): void;
}

export interface CounterChild {
  inc(n?: number): void;
}

/** A counter whose children are bound to their labels: see {@link BoundMetric}. */
export class BoundCounter<L extends string> extends BoundMetric<L, CounterChild & { value: number }> {
  get type(): 'counter' {
    return 'counter';
  }

  protected createChild(): CounterChild & { value: number } {
    return {
      value: 0,
      inc(n = 1) {
        if (!(n >= 0)) throw new RangeError(`a counter only goes up, got ${n}`);
        this.value += n;
      },
    };
  }

  protected zero(child: { value: number }): void {
    child.value = 0;
  }

  protected export(labels: Record<L, string>, child: { value: number }, into: MetricValue[]): void {
    into.push({ value: child.value, labels });
  }
}

export interface HistogramChild {
  observe(value: number): void;
}

interface HistogramState extends HistogramChild {
  counts: number[];
  sum: number;
  count: number;
}

/** A histogram whose children are bound to their labels: see {@link BoundMetric}. */
export class BoundHistogram<L extends string> extends BoundMetric<L, HistogramState> {
  readonly #upperBounds: readonly number[];

  constructor(config: BoundMetricConfig<L> & { buckets: readonly number[] }) {
    super(config);
    this.#upperBounds = [...config.buckets].sort((a, b) => a - b);
  }

  get type(): 'histogram' {
    return 'histogram';
  }

  protected createChild(): HistogramState {
    const bounds = this.#upperBounds;
    return {
      counts: new Array<number>(bounds.length).fill(0),
      sum: 0,
      count: 0,
      observe(value: number) {
        if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        // Above the last bound: only +Inf (the count) holds it.
        if (i < bounds.length) this.counts[i]!++;
        this.sum += value;
        this.count++;
      },
    };
  }

  protected zero(child: HistogramState): void {
    child.counts.fill(0);
    child.sum = 0;
    child.count = 0;
  }

  protected export(labels: Record<L, string>, child: HistogramState, into: MetricValue[]): void {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    this.#upperBounds.forEach((le, i) => {
      cumulative += child.counts[i]!;
      into.push({ value: cumulative, labels: { le }, sharedLabels: labels, metricName: bucket });
    });
    into.push({ value: child.count, labels: { le: '+Inf' }, sharedLabels: labels, metricName: bucket });
    into.push({ value: child.sum, labels: {}, sharedLabels: labels, metricName: `${this.name}_sum` });
    into.push({ value: child.count, labels: {}, sharedLabels: labels, metricName: `${this.name}_count` });
  }
}
