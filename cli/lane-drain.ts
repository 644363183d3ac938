import type { Lane } from '../contract/index.js';
import type { LaneQueues } from '../producer/index.js';

/** What a lane holds after a drain. */
export interface DrainedLane {
  lane: Lane;
  paused: boolean;
  /** Jobs active when the lane was paused. */
  activeAtStart: number;
  /** Jobs still active (0 unless the wait timed out). */
  active: number;
  /** Jobs left in the lane; they run after `fleet resume`. */
  waiting: number;
  prioritized: number;
  delayed: number;
  /** Waiting and prioritized jobs removed (`--remove-waiting` only; else 0). */
  removed: number;
}

export interface DrainOptions {
  /** Longest wait for active jobs, ms. */
  timeoutMs: number;
  /** How often active counts are read, ms. @default 250 */
  pollMs?: number;
  /** Remove the waiting and prioritized jobs once active ones finished. @default false */
  removeWaiting?: boolean;
  /** Called on every poll with the jobs finished since the pause and how many were active then. */
  onProgress?: (finished: number, activeAtStart: number) => void;
}

/**
 * Pauses the lanes (BullMQ's global pause: no worker takes a new job; jobs in flight finish), waits up to
 * `timeoutMs` for their active jobs, and reports what is left. Nothing is deleted unless `removeWaiting`, and
 * then only waiting and prioritized jobs (delayed ones are retries in backoff and stay). Unlike BullMQ's
 * `queue.drain()`, which deletes waiting jobs, a drain here only stops intake by workers: producers may still
 * enqueue into a paused lane, and those jobs wait for `fleet resume`.
 */
export async function drainLanes(queues: LaneQueues, lanes: readonly Lane[], options: DrainOptions): Promise<{ lanes: DrainedLane[]; timedOut: boolean }> {
  const pollMs = options.pollMs ?? 250;
  await Promise.all(lanes.map((lane) => queues.queue(lane).pause()));
  const activeOf = async () => Promise.all(lanes.map(async (lane) => (await queues.queue(lane).getJobCounts('active')).active ?? 0));
  const atStart = await activeOf();
  const totalAtStart = atStart.reduce((a, b) => a + b, 0);
  const deadline = Date.now() + options.timeoutMs;
  let active = atStart;
  for (;;) {
    const remaining = active.reduce((a, b) => a + b, 0);
    options.onProgress?.(Math.max(0, totalAtStart - remaining), totalAtStart);
    if (remaining === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
    active = await activeOf();
  }
  const timedOut = active.some((n) => n > 0);
  const drained = await Promise.all(
    lanes.map(async (lane, i): Promise<DrainedLane> => {
      const queue = queues.queue(lane);
      const removed = options.removeWaiting ? await removeWaitingJobs(queues, lane) : 0;
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
      return {
        lane,
        paused: await queue.isPaused(),
        activeAtStart: atStart[i]!,
        active: counts.active ?? 0,
        waiting: counts.waiting ?? 0,
        prioritized: counts.prioritized ?? 0,
        delayed: counts.delayed ?? 0,
        removed,
      };
    }),
  );
  return { lanes: drained, timedOut };
}

/** Removes the jobs waiting in a lane now (a snapshot: jobs enqueued meanwhile stay). Returns how many went. */
export async function removeWaitingJobs(queues: LaneQueues, lane: Lane): Promise<number> {
  const queue = queues.queue(lane);
  const ids = await queue.getRanges(['waiting', 'prioritized'], 0, -1);
  let removed = 0;
  for (let i = 0; i < ids.length; i += 100) {
    const results = await Promise.all(ids.slice(i, i + 100).map((id) => queue.remove(id)));
    removed += results.filter((n) => n === 1).length;
  }
  return removed;
}

/** Resumes the lanes; returns how many jobs each held waiting (read just before, as workers take them at once). */
export async function resumeLanes(queues: LaneQueues, lanes: readonly Lane[]): Promise<Array<{ lane: Lane; waiting: number }>> {
  return Promise.all(
    lanes.map(async (lane) => {
      const queue = queues.queue(lane);
      const counts = await queue.getJobCounts('waiting', 'prioritized');
      await queue.resume();
      return { lane, waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) };
    }),
  );
}
