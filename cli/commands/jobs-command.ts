import { Command } from 'commander';
import { LaneQueues } from '../../producer/index.js';
import { withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { readJobPath, renderJobPath, type JobPath } from '../job-path.js';
import { withRedis } from '../open-redis.js';

/** `fleet jobs <id…>`: each job's path — request, policy, lane, model, batch, stage timings, artifact, attempts, errors. */
export function jobsCommand(): Command {
  return withConnectionOptions(new Command('jobs'))
    .description("one job's path: request, policy version and rule, lane, model, batch, timings per stage, artifact, attempts and errors")
    .argument('<id...>', 'job ids (as enqueue and the ingress return them)')
    .action(async (ids: string[], options: ConnectionOptions) =>
      withRedis(options.redis, async (redis) => {
        const queues = new LaneQueues(redis, options.prefix);
        try {
          const paths: JobPath[] = [];
          for (const id of ids) paths.push(await readJobPath(queues, redis, options.prefix, id));
          if (options.json) console.log(JSON.stringify(ids.length === 1 ? paths[0] : paths));
          else console.log(paths.map(renderJobPath).join('\n\n'));
        } finally {
          await queues.close();
        }
      }),
    );
}
