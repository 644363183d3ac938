import { Queue, QueueEvents } from 'bullmq';
import { duplicateRedisConnection, laneQueueName, laneQueuePrefix, LANES, type JobData, type JobResult, type Lane, type RedisClient } from '../contract/index.js';

/**
 * One BullMQ Queue per lane on a shared connection, and a QueueEvents per lane made on first need
 * (each holds a blocking connection of its own, so producers that never wait pay nothing for them).
 */
export class LaneQueues {
  private readonly queues = new Map<Lane, Queue<JobData, JobResult>>();
  private readonly events = new Map<Lane, { events: QueueEvents; connection: RedisClient }>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  queue(lane: Lane): Queue<JobData, JobResult> {
    let queue = this.queues.get(lane);
    if (queue === undefined) {
      queue = new Queue<JobData, JobResult>(laneQueueName(lane), {
        connection: this.redis,
        prefix: laneQueuePrefix(this.prefix, lane),
      });
      queue.on('error', () => {
        // Connection errors surface on the calls themselves (as E_REDIS_UNAVAILABLE); the event is noise.
      });
      this.queues.set(lane, queue);
    }
    return queue;
  }

  async queueEvents(lane: Lane): Promise<QueueEvents> {
    let entry = this.events.get(lane);
    if (entry === undefined) {
      const connection = duplicateRedisConnection(this.redis, { role: 'worker' });
      connection.on('error', () => {});
      const events = new QueueEvents(laneQueueName(lane), { connection, prefix: laneQueuePrefix(this.prefix, lane) });
      events.on('error', () => {});
      entry = { events, connection };
      this.events.set(lane, entry);
    }
    await entry.events.waitUntilReady();
    return entry.events;
  }

  all(): Array<Queue<JobData, JobResult>> {
    return LANES.map((lane) => this.queue(lane));
  }

  async close(): Promise<void> {
    const closing: Array<Promise<unknown>> = [];
    for (const { events, connection } of this.events.values()) {
      closing.push(
        events
          .close()
          .catch(() => {})
          .finally(() => connection.disconnect()),
      );
    }
    for (const queue of this.queues.values()) closing.push(queue.close().catch(() => {}));
    await Promise.all(closing);
    this.events.clear();
    this.queues.clear();
  }
}
