import type { Job } from 'bullmq';
import { laneOfJobId, parseFailedReason, type JobData, type JobResult, type RedisClient } from '../contract/index.js';
import { findByUnique, readReplayMarker, type LaneQueues } from '../producer/index.js';
import { CommandFailure } from './common-options.js';
import { formatLatency } from './duration.js';


/** One job's path through the fleet, as `fleet jobs <id>` prints it. */
export interface JobPath {
  id: string;
  state: string;
  lane: string;
  model: string;
  policy: { version: number; rule: string };
  request: JobData['request'];
  size: JobData['size'];
  enqueuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  batch: { id: string; size: number } | null;
  timings: JobResult['timings'] | null;
  artifact: { url: string; key: string; width: number; height: number; format: string; bytes: number } | null;
  thumbnail: string | null;
  text: JobResult['text'] | null;
  attempts: { made: number; allowed: number };
  error: { code: string; message: string } | null;
  /** Messages of failed attempts (BullMQ keeps one stack per failure). */
  attemptErrors: string[];
  replayOf: string | null;
  replayedAs: string | null;
}

export async function readJobPath(queues: LaneQueues, redis: RedisClient, prefix: string, id: string): Promise<JobPath> {
  const lane = laneOfJobId(id);
  if (lane === undefined) throw new CommandFailure(`${id} is not a fleet job id (<lane>.<id>, e.g. flash.0b6…)`);
  const job = (await queues.queue(lane).getJob(id)) as Job<JobData, JobResult> | undefined;
  if (!job) throw new CommandFailure(`job ${id} not found (finished jobs expire: completed after 1 day, failed after 7 by default)`);
  const state = await job.getState();
  const data = job.data;
  const result = state === 'completed' ? job.returnvalue : undefined;
  const marker = await readReplayMarker(redis, prefix, id);
  const replay = marker ? await findByUnique(queues, marker.unique) : undefined;
  const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
  return {
    id,
    state,
    lane: data.lane,
    model: data.model,
    policy: data.policy,
    request: data.request,
    size: data.size,
    enqueuedAt: new Date(data.enqueuedAt).toISOString(),
    startedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
    batch: result?.batch ?? null,
    timings: result?.timings ?? null,
    artifact: result ? { ...result.image } : null,
    thumbnail: result?.thumbnail?.url ?? null,
    text: result?.text ?? null,
    attempts: { made: job.attemptsMade, allowed: job.opts.attempts ?? 1 },
    error: job.failedReason ? parseFailedReason(job.failedReason) : null,
    attemptErrors: (job.stacktrace ?? []).map((stack) => stack.split('\n')[0] ?? stack),
    replayOf: data.replayOf ?? null,
    replayedAs: replay?.id ?? (marker ? `${marker.unique} (expired)` : null),
  };
}

export function renderJobPath(path: JobPath): string {
  const lines: string[] = [];
  const row = (label: string, value: unknown) => lines.push(`${label.padEnd(12)} ${value}`);
  row('job', `${path.id}  ${path.state}`);
  row('request', JSON.stringify(path.request));
  row('policy', `v${path.policy.version} rule ${path.policy.rule}`);
  row('lane', `${path.lane} → model ${path.model}${path.size ? ` at ${path.size.width}×${path.size.height}` : ''}`);
  row('enqueued', path.enqueuedAt);
  if (path.startedAt) row('started', path.startedAt);
  if (path.finishedAt) row('finished', path.finishedAt);
  if (path.batch) row('batch', `${path.batch.id} (${path.batch.size} item${path.batch.size === 1 ? '' : 's'})`);
  if (path.timings) {
    const t = path.timings;
    row('timings', `queue wait ${formatLatency(t.queueWaitMs)} · batch wait ${formatLatency(t.batchWaitMs)} · inference ${formatLatency(t.inferenceMs)} · post-process ${formatLatency(t.postProcessMs)} · upload ${formatLatency(t.uploadMs)} · end-to-end ${formatLatency(t.endToEndMs)}`);
  }
  if (path.artifact) row('artifact', `${path.artifact.url} (${path.artifact.width}×${path.artifact.height} ${path.artifact.format}, ${path.artifact.bytes} bytes)`);
  if (path.thumbnail) row('thumbnail', path.thumbnail);
  if (path.text) row('text', JSON.stringify(path.text));
  row('attempts', `${path.attempts.made} of ${path.attempts.allowed}`);
  if (path.error) row('error', `[${path.error.code}] ${path.error.message}`);
  path.attemptErrors.forEach((message, i) => row(i === 0 ? 'attempt log' : '', `${i + 1}: ${message}`));
  if (path.replayOf) row('replay of', path.replayOf);
  if (path.replayedAs) row('replayed as', path.replayedAs);
  return lines.join('\n');
}

