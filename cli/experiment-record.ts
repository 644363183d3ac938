import { groupKey, type CatalogueModel, type ErrorCode, type Lane, type RedisClient, type StageTimings, type TextCheckReport } from '../contract/index.js';

/** One prompt × seed × model of an experiment: its job and how it came out. */
export interface ExperimentCell {
  /** Index into `ExperimentRecord.inputs`. */
  input: number;
  seed: number;
  model: string;
  jobId: string;
  state: 'completed' | 'failed';
  error?: { code: ErrorCode; message: string };
  timings?: StageTimings;
  costUnits?: number;
  /** The typography lane's OCR report, for prompts with text. */
  text?: TextCheckReport;
  /** The rendered image in the artifact store, and its SHA-256 (what a rerun is compared on). */
  image?: { key: string; sha256: string; bytes: number; width: number; height: number };
}

/** Per model figures over an experiment's cells. */
export interface ExperimentModelSummary {
  jobs: number;
  completed: number;
  failed: number;
  failuresByCode: Record<string, number>;
  /** Exact (nearest-rank) percentiles of the completed jobs, ms; null with none. */
  endToEndMs: { p50: number | null; p95: number | null };
  inferenceMs: { p50: number | null; p95: number | null };
  costUnits: { total: number; perImage: number | null };
  /** Prompts with text only: OCR checks made, mean character error rate, share passed. */
  text: { checked: number; meanCer: number | null; passRate: number | null };
}

/** An experiment as stored: enough to run it again exactly (inputs, seeds, models, lane) and its results. */
export interface ExperimentRecord {
  id: string;
  name: string;
  lane: Lane;
  models: string[];
  /** What the workers' catalogue said of each model when the experiment ran. */
  modelVersions: Record<string, CatalogueModel | null>;
  /** The requests as read from the prompts file (without account and seed, which the experiment sets). */
  inputs: Array<Record<string, unknown>>;
  seeds: number[];
  createdAt: number;
  finishedAt: number;
  createdBy: string;
  /** The experiment this one reran. */
  rerunOf?: string;
  cells: ExperimentCell[];
  summary: Record<string, ExperimentModelSummary>;
  /** A rerun's images against the original's, cell by cell. */
  reproduced?: { identical: number; differing: number; missing: number };
}

/** Experiments in Redis: `{<prefix>:experiments}:<id>` (the record, kept until deleted) and `:index` (ids by time). */
export class ExperimentStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async save(record: ExperimentRecord): Promise<void> {
    await this.redis.multi().set(this.key(record.id), JSON.stringify(record)).zadd(this.key('index'), record.createdAt, record.id).exec();
  }

  async get(id: string): Promise<ExperimentRecord | null> {
    const raw = await this.redis.get(this.key(id));
    return raw === null ? null : (JSON.parse(raw) as ExperimentRecord);
  }

  /** Every experiment, newest first. */
  async list(): Promise<ExperimentRecord[]> {
    const ids = await this.redis.zrevrange(this.key('index'), 0, -1);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is ExperimentRecord => r !== null);
  }

  private key(part: string): string {
    return groupKey(this.prefix, 'experiments', part);
  }
}
