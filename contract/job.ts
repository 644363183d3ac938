import type { ErrorCode } from './errors.js';
import type { Lane } from './lanes.js';
import type { GenerateRequest, ImageFormat } from './request.js';

/** Which policy version and rule placed a job: recorded on every job, never changed afterwards. */
export interface PolicyRef {
  version: number;
  rule: string;
}

/** What the producer stores as a BullMQ job's data; the worker's whole input. */
export interface JobData {
  /** The validated request as sent, with `seed` chosen when it gave none (so a retry renders the same image). */
  request: GenerateRequest & { seed: number };
  /**
   * The output size: the request's, else the lane's default. Null for an upscale that gave none: the
   * output is then the source's size times `scale`.
   */
  size: { width: number; height: number } | null;
  lane: Lane;
  model: string;
  policy: PolicyRef;
  /** Epoch ms when the producer accepted the request. */
  enqueuedAt: number;
  /** Set on jobs re-enqueued by `fleet replay`: the job they replay. */
  replayOf?: string;
  /** The name of the ingress token that submitted it; only that token (or an operator's) reads the job over HTTP. */
  submittedBy?: string;
}

/** A stored image. */
export interface ImageArtifact {
  /** Where a client fetches it: `file:///…` or `s3://bucket/key` (or an HTTP URL when the store has one). */
  url: string;
  /** The key under the store's prefix (derived from the job id, so a retry overwrites, never duplicates). */
  key: string;
  width: number;
  height: number;
  format: ImageFormat;
  bytes: number;
}

/** The typography lane's OCR report. */
export interface TextCheckReport {
  expected: string;
  read: string;
  /** Character error rate after normalising case and whitespace; 0 is perfect. */
  cer: number;
  passed: boolean;
  attempts: number;
}

/** Milliseconds spent in each stage of a job. */
export interface StageTimings {
  queueWaitMs?: number;
  batchWaitMs?: number;
  inferenceMs?: number;
  postProcessMs?: number;
  uploadMs?: number;
  endToEndMs?: number;
}

/** What a completed job returns (BullMQ's return value). */
export interface JobResult {
  image: ImageArtifact;
  thumbnail?: ImageArtifact;
  model: string;
  lane: Lane;
  seed: number;
  steps?: number;
  batch?: { id: string; size: number };
  text?: TextCheckReport | { checked: false; reason: string };
  timings: StageTimings;
  /** Cost units the model declares per image. */
  costUnits?: number;
}

export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;
/** A job's state as clients see it (BullMQ's `prioritized` and `waiting-children` read as `waiting`). */
export type JobState = (typeof JOB_STATES)[number];

/** One job as `getJob()` and `GET /jobs/:id` show it. */
export interface JobView {
  id: string;
  lane: Lane;
  model: string;
  policy: PolicyRef;
  state: JobState;
  request: JobData['request'];
  result?: JobResult;
  error?: { code: ErrorCode; message: string };
  attempts: number;
  enqueuedAt: number;
  finishedAt?: number;
  timings?: StageTimings;
  /** The token that submitted it (`JobData.submittedBy`). */
  submittedBy?: string;
}

/** What `enqueue()` returns. */
export interface EnqueueReceipt {
  id: string;
  lane: Lane;
  model: string;
  policy: PolicyRef;
  /** True when an idempotency key matched an existing job (no new job was made). */
  duplicate: boolean;
}
