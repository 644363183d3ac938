import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { LANES, laneQueueName, laneQueuePrefix, type RedisClient } from '../contract/index.js';

export interface QueueBoardOptions {
  /** A Redis connection of the board's own (the queues share it). */
  connection: RedisClient;
  /** The fleet's key prefix (`FLEET_PREFIX`): each lane's queue lives under `{prefix:lane}`. */
  prefix: string;
  /** When set, every request needs it: `Authorization: Bearer <token>`, or HTTP Basic with it as the password (what a browser can send). @default none */
  token?: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The token a request carries, from a Bearer header or Basic credentials' password. */
function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1);
}

/**
 * bull-board, the queue UI BullMQ users know, over the fleet's four lanes: each lane's queue under its own
 * `{prefix:lane}` prefix (BullMQ's default prefix would show nothing). Jobs can be inspected, retried and
 * removed there; the fleet's own `fleet replay` keeps its once-only guarantee, bull-board's retry does not.
 */
export async function createQueueBoard(options: QueueBoardOptions): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
  const queues = LANES.map((lane) => new Queue(laneQueueName(lane), { connection: options.connection, prefix: laneQueuePrefix(options.prefix, lane) }));
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { displayName: queue.name })),
    serverAdapter,
    options: { uiConfig: { boardTitle: `image-fleet ${options.prefix}` } },
  });
  serverAdapter.setBasePath('/');
  const app = Fastify({ logger: false });
  if (options.token !== undefined) {
    const expected = digest(options.token);
    app.addHook('onRequest', async (request, reply) => {
      const given = presentedToken(request.headers.authorization);
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        await reply
          .code(401)
          .header('www-authenticate', 'Basic realm="image-fleet board", charset="UTF-8"')
          .send({ error: { code: 'E_UNAUTHORIZED', message: 'this board needs FLEET_TOKEN: as a Bearer token, or as the password of HTTP Basic' } });
      }
    });
  }
  await app.register(serverAdapter.registerPlugin(), { prefix: '/' });
  return {
    app,
    close: async () => {
      await app.close();
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
