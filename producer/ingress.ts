import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { FleetError, ValidationError, type Logger } from '../contract/index.js';
import { IngressMetrics } from './ingress-metrics.js';
import type { Producer } from './producer.js';

/** Largest request body, bytes. Larger bodies get 413 `E_BODY_TOO_LARGE`. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Longest `?wait=` a client may ask for, seconds. */
export const MAX_WAIT_SECONDS = 300;

export interface IngressOptions {
  producer: Producer;
  /** Where `/metrics` reads from; ingress metrics are registered on it. */
  registry: Registry;
  logger: Logger;
  /** When set, every route but `/healthz` needs `Authorization: Bearer <token>`. @default undefined */
  token?: string;
}

/**
 * The HTTP ingress: `POST /generate[?wait=S]`, `GET /jobs/:id`, `GET /healthz`, `GET /metrics`.
 * Errors are `{ error: { code, message, field? } }` with the catalogue's status.
 */
export function createIngress(options: IngressOptions) {
  const { producer, registry, logger } = options;
  const metrics = new IngressMetrics(registry);
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: MAX_BODY_BYTES,
    // Accepted jobs are logged with their ids below; per-request access lines would double the volume.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });

  // Our own JSON parser: every body problem becomes a coded error, and `__proto__` keys reach the
  // schema (which refuses unknown fields) instead of being handled differently per parser setting.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (error) {
      done(new ValidationError(`body is not valid JSON: ${(error as Error).message}`, '(body)'), undefined);
    }
  });

  if (options.token !== undefined) {
    const expected = digest(`Bearer ${options.token}`);
    app.addHook('onRequest', async (request) => {
      if (request.url === '/healthz') return;
      const given = request.headers.authorization;
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        throw new FleetError('E_UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer <FLEET_TOKEN>)');
      }
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error, request, reply) => sendError(toFleetError(error, logger, request), reply, metrics));
  app.setNotFoundHandler((request, reply) =>
    sendError(new FleetError('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`), reply, metrics),
  );

  app.post('/generate', async (request, reply) => {
    const waitSeconds = parseWait((request.query as Record<string, unknown>).wait);
    const receipt = await producer.enqueue(request.body);
    metrics.accepted.inc({ lane: receipt.lane, model: receipt.model });
    request.log.info({ jobId: receipt.id, lane: receipt.lane, model: receipt.model, duplicate: receipt.duplicate }, 'job accepted');
    const accepted = { id: receipt.id, lane: receipt.lane, model: receipt.model, policy: receipt.policy, duplicate: receipt.duplicate, statusUrl: `/jobs/${receipt.id}` };
    if (waitSeconds > 0) {
      try {
        const view = await producer.waitForResult(receipt.id, { timeoutMs: waitSeconds * 1000 });
        return reply.code(200).send({ ...accepted, state: view.state, result: view.result, error: view.error, timings: view.timings });
      } catch (error) {
        // The job is accepted: whatever happened while waiting (timeout, Redis away), answer 202 with the
        // receipt, never an error that would make the client enqueue it a second time.
        if (!(error instanceof FleetError) || error.code !== 'E_TIMEOUT') request.log.warn({ jobId: receipt.id, err: error }, 'waiting for a result failed; answering 202');
      }
    }
    return reply.code(202).send(accepted);
  });

  app.get<{ Params: { id: string } }>('/jobs/:id', async (request) => {
    const view = await producer.getJob(request.params.id);
    const { id, lane, model, policy, state, result, error, timings, attempts, enqueuedAt, finishedAt } = view;
    return { id, lane, model, policy, state, result, error, timings, attempts, enqueuedAt, finishedAt };
  });

  app.get('/healthz', async (_request, reply) => {
    const redis = producer.connected ? await producer.redis.ping().then(() => 'ok', () => 'down') : 'down';
    return reply.code(redis === 'ok' ? 200 : 503).send({ status: redis === 'ok' ? 'ok' : 'degraded', redis });
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });

  return app;
}

function parseWait(value: unknown): number {
  if (value === undefined || value === '') return 0;
  const seconds = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(seconds) || seconds < 0 || seconds > MAX_WAIT_SECONDS) {
    throw new ValidationError(`wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}`, 'wait');
  }
  return seconds;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Fastify's own errors (body limits, content types) mapped onto the catalogue. */
function toFleetError(error: unknown, logger: Logger, request: FastifyRequest): FleetError {
  if (error instanceof FleetError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new FleetError('E_BODY_TOO_LARGE', `body is over ${MAX_BODY_BYTES} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new FleetError('E_UNSUPPORTED_MEDIA_TYPE', 'send the request as Content-Type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ValidationError('body is empty', '(body)');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ValidationError('content-length does not match the body', '(body)');
  }
  if (e.statusCode === 400) return new ValidationError(e.message ?? 'bad request', '(body)');
  logger.error({ err: error, url: request.url }, 'unexpected ingress error');
  return new FleetError('E_INTERNAL', 'internal error', { cause: error });
}

function sendError(error: FleetError, reply: FastifyReply, metrics: IngressMetrics): FastifyReply {
  metrics.refused.inc({ code: error.code });
  const retryAfter = error.details?.retryAfterSeconds;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
  return reply.code(error.httpStatus).send(error.toJSON());
}
export type Ingress = ReturnType<typeof createIngress>;
