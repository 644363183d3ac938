import type { ImageArtifact, JobResult, JobView } from '../contract/index.js';

/** Absolute POSIX paths and `file:` URLs inside text (a worker's error message naming a model file). */
const SERVER_PATH = /file:\/\/\/?[^\s'"`)]*|(?<=^|[\s'"`(=:])\/(?:[A-Za-z0-9._@+-]+\/)*[A-Za-z0-9._@+-]+/g;

/**
 * A job as the ingress shows it: no absolute server path anywhere. A file store's artifacts keep their `key` and
 * lose their `url` (`file:///…` names the server's disk); paths in error messages become `<path>`. The CLI, which
 * operators run with Redis access, shows everything.
 */
export function toPublicJobView(view: JobView) {
  const { id, lane, model, policy, state, result, error, timings, attempts, enqueuedAt, finishedAt } = view;
  return {
    id,
    lane,
    model,
    policy,
    state,
    result: result === undefined ? undefined : publicResult(result),
    error: error === undefined ? undefined : { code: error.code, message: scrubPaths(error.message) },
    timings,
    attempts,
    enqueuedAt,
    finishedAt,
  };
}

export function publicResult(result: JobResult): JobResult {
  return { ...result, image: publicArtifact(result.image), ...(result.thumbnail === undefined ? {} : { thumbnail: publicArtifact(result.thumbnail) }) };
}

function publicArtifact(artifact: ImageArtifact): ImageArtifact {
  if (!artifact.url.startsWith('file:')) return artifact;
  const { url: _serverPath, ...rest } = artifact;
  return rest as ImageArtifact;
}

export function scrubPaths(text: string): string {
  return text.replace(SERVER_PATH, '<path>');
}
