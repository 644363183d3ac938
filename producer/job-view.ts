import type { Job } from 'bullmq';
import { parseFailedReason, type JobData, type JobResult, type JobState, type JobView } from '../contract/index.js';

/** BullMQ's states as clients see them. */
export function toJobState(state: string): JobState {
  switch (state) {
    case 'completed':
    case 'failed':
    case 'active':
    case 'delayed':
      return state;
    default:
      return 'waiting';
  }
}

export function toJobView(job: Job<JobData, JobResult>, state: string): JobView {
  const data = job.data;
  const view: JobView = {
    id: job.id!,
    lane: data.lane,
    model: data.model,
    policy: data.policy,
    state: toJobState(state),
    request: data.request,
    attempts: job.attemptsMade,
    enqueuedAt: data.enqueuedAt,
  };
  if (job.finishedOn) view.finishedAt = job.finishedOn;
  if (data.submittedBy !== undefined) view.submittedBy = data.submittedBy;
  if (view.state === 'completed' && job.returnvalue) {
    view.result = job.returnvalue;
    view.timings = job.returnvalue.timings;
  }
  if (view.state === 'failed' || (job.failedReason && view.state !== 'completed')) {
    view.error = parseFailedReason(job.failedReason);
  }
  return view;
}
