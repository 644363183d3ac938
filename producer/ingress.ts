import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { assertAtLeast, FleetError, SECOND, ValidationError, type ErrorCode, type Logger } from '../contract/index.js';
import { assertWithinScope, type AccessScope, type AccessTokens } from './access-tokens.js';
import { IngressMetrics } from './ingress-metrics.js';
import { PromptDriftMonitor, type PromptDriftMonitorOptions } from './prompt-drift-monitor.js';
import type { Producer } from './producer.js';
import { publicResult, toPublicJobView } from './public-job-view.js';

/** Largest request body, bytes. Larger bodies get 413 `E_BODY_TOO_LARGE`. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Longest `?wait=` a client may ask for, seconds. */
export const MAX_WAIT_SECONDS = 300;

export interface IngressOptions {
  producer: Producer;
  /** Where `/metrics` reads from; ingress metrics are registered on it. */
  registry: Registry;
  logger: Logger;
  /**
   * Who may call, and for what (see `AccessTokens`). With tokens, every route but `/healthz` needs
   * `Authorization: Bearer <token>`; a request is refused (403) when it claims a tier or an account its token may
   * not; a job is visible only to the token that submitted it and to tokens that may read every job (which alone
   * read `/metrics`). @default undefined: every caller is trusted with everything (bind to loopback)
   */
  tokens?: AccessTokens;
  /** Time a client has to send a whole request (headers and body), ms; then 408 `E_REQUEST_TIMEOUT`. @default 10000 */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open between requests, ms. @default 5000 */
  keepAliveTimeoutMs?: number;
  /** Open connections at most; one more is answered 503 `E_TOO_MANY_CONNECTIONS` and closed. @default 1024 */
  maxConnections?: number;
  /**
   * How `/metrics` scores prompt drift (`fleet_prompt_drift{feature}`): the window compared against the active
   * baseline, how often, and the clock. @default see `PROMPT_DRIFT_MONITOR_DEFAULTS` (the last hour, every minute)
   */
  drift?: Pick<PromptDriftMonitorOptions, 'windowMs' | 'intervalMs' | 'now'>;
}

export const INGRESS_DEFAULTS = {
  requestTimeoutMs: 10 * SECOND,
  keepAliveTimeoutMs: 5 * SECOND,
  maxConnections: 1024,
} satisfies Required<Pick<IngressOptions, 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'>>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's token scopes (undefined without tokens). */
    caller?: AccessScope;
  }
}

/**
 * The 202 answer's shape, so fastify writes it with a serializer compiled for it instead of `JSON.stringify` (every
 * accepted request gets one). Fields not listed here would be dropped: it follows `EnqueueReceipt` plus `statusUrl`.
 */
const ACCEPTED_SCHEMA = {
  type: 'object',
  required: ['id', 'lane', 'model', 'policy', 'duplicate', 'statusUrl'],
  properties: {
    id: { type: 'string' },
    lane: { type: 'string' },
    model: { type: 'string' },
    policy: { type: 'object', required: ['version', 'rule'], properties: { version: { type: 'number' }, rule: { type: 'string' } } },
    duplicate: { type: 'boolean' },
    statusUrl: { type: 'string' },
  },
} as const;

/** JSON must be UTF-8 (RFC 8259); a body that is not is refused instead of read with U+FFFD in it. A BOM is kept, so JSON.parse refuses it as before. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The HTTP ingress: `POST /generate[?wait=S]`, `GET /jobs/:id`, `GET /healthz`, `GET /metrics`.
 * Every refusal, fastify's and Node's own included (timeouts, oversized headers, malformed HTTP), is
 * `{ error: { code, message, field? } }` with the catalogue's status.
 */
export function createIngress(options: IngressOptions) {
  const { producer, registry, logger, tokens } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? INGRESS_DEFAULTS.requestTimeoutMs;
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? INGRESS_DEFAULTS.keepAliveTimeoutMs;
  const maxConnections = options.maxConnections ?? INGRESS_DEFAULTS.maxConnections;
  for (const [name, value] of Object.entries({ requestTimeoutMs, keepAliveTimeoutMs, maxConnections })) {
    assertAtLeast(name, value, 1);
  }
  const metrics = new IngressMetrics(registry);
  const drift = new PromptDriftMonitor({
    redis: producer.redis,
    prefix: producer.prefix,
    registry,
    ...options.drift,
    onError: (error) => logger.warn({ err: error }, 'scoring prompt drift failed; the drift gauges keep their last values'),
  });
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: MAX_BODY_BYTES,
    // Accepted jobs are logged with their ids below; per-request access lines would double the volume.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    // A long ?wait= holds a connection with nothing on the wire: the idle limit must let it finish.
    connectionTimeout: (MAX_WAIT_SECONDS + 60) * SECOND,
    // Node checks request timeouts on this interval (30 s by default, which would stretch a 10 s limit to 40 s).
    http: { connectionsCheckingInterval: Math.min(SECOND, requestTimeoutMs), headersTimeout: requestTimeoutMs },
    clientErrorHandler: (error, socket) => answerClientError(error as NodeJS.ErrnoException, socket, metrics),
    frameworkErrors: (error, _request, reply) => {
      const code = (error as { code?: string }).code;
      if (code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(new FleetError('E_URI_TOO_LONG', 'a path parameter is over the limit (job ids are under 100 characters)'), reply, metrics);
      return sendError(new ValidationError(`malformed URL: ${error.message}`, '(url)'), reply, metrics);
    },
  });
  limitConnections(app.server, maxConnections, metrics);
  drift.start();
  app.addHook('onClose', async () => drift.stop());

  // Our own JSON parser: every body problem becomes a coded error, and `__proto__` keys reach the
  // schema (which refuses unknown fields) instead of being handled differently per parser setting.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      return done(new FleetError('E_UNSUPPORTED_MEDIA_TYPE', `send JSON as UTF-8 (Content-Type: application/json; charset=${charset} is not accepted)`), undefined);
    }
    let text: string;
    try {
      text = UTF8.decode(body as Buffer);
    } catch {
      return done(new ValidationError('body is not valid UTF-8', '(body)'), undefined);
    }
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(new ValidationError(`body is not valid JSON: ${(error as Error).message}`, '(body)'), undefined);
    }
  });

  if (tokens !== undefined) {
    app.addHook('onRequest', async (request) => {
      if (request.url === '/healthz') return;
      const caller = tokens.authenticate(request.headers.authorization);
      if (caller === undefined) throw new FleetError('E_UNAUTHORIZED', 'missing or unknown bearer token (Authorization: Bearer <token>)');
      request.caller = caller;
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

  app.post('/generate', { schema: { response: { 202: ACCEPTED_SCHEMA } } }, async (request, reply) => {
    const waitSeconds = parseWait((request.query as Record<string, unknown>).wait);
    const caller = request.caller;
    const receipt = await producer.enqueue(request.body, caller === undefined ? {} : { submittedBy: caller.name, authorize: (r) => assertWithinScope(caller, r) });
    metrics.accepted.inc({ lane: receipt.lane, model: receipt.model });
    request.log.info({ jobId: receipt.id, lane: receipt.lane, model: receipt.model, duplicate: receipt.duplicate, caller: caller?.name }, 'job accepted');
    const accepted = { id: receipt.id, lane: receipt.lane, model: receipt.model, policy: receipt.policy, duplicate: receipt.duplicate, statusUrl: `/jobs/${receipt.id}` };
    if (waitSeconds > 0) {
      try {
        const view = await producer.waitForResult(receipt.id, { timeoutMs: waitSeconds * 1000 });
        const shown = toPublicJobView(view);
        // The 200 (a result waited for) has no compiled serializer: its result's shape varies by lane.
        return (reply as FastifyReply).code(200).send({ ...accepted, state: shown.state, result: view.result === undefined ? undefined : publicResult(view.result), error: shown.error, timings: shown.timings });
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
    const caller = request.caller;
    // Another token's job is "not found", not "forbidden": a caller learns nothing about ids it did not get.
    if (caller !== undefined && !caller.readAllJobs && view.submittedBy !== caller.name) throw new FleetError('E_NOT_FOUND', `job ${request.params.id} not found`);
    return toPublicJobView(view);
  });

  app.get('/healthz', async (_request, reply) => {
    const redis = producer.connected ? await producer.redis.ping().then(() => 'ok', () => 'down') : 'down';
    return reply.code(redis === 'ok' ? 200 : 503).send({ status: redis === 'ok' ? 'ok' : 'degraded', redis });
  });

  app.get('/metrics', async (request, reply) => {
    if (request.caller !== undefined && !request.caller.readAllJobs) throw new FleetError('E_FORBIDDEN', `token ${request.caller.name} may not read /metrics (an operator token, readAllJobs, may)`);
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
  if (e.statusCode === 408) return new FleetError('E_REQUEST_TIMEOUT', 'the request was not received in time');
  logger.error({ err: error, url: request.url }, 'unexpected ingress error');
  return new FleetError('E_INTERNAL', 'internal error', { cause: error });
}

function sendError(error: FleetError, reply: FastifyReply, metrics: IngressMetrics): FastifyReply {
  metrics.refused.inc({ code: error.code });
  const retryAfter = error.details?.retryAfterSeconds;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
  return reply.code(error.httpStatus).send(error.toJSON());
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 414: 'URI Too Long', 431: 'Request Header Fields Too Large', 503: 'Service Unavailable' };

/** Writes a coded JSON answer on a raw socket (before or outside fastify's request handling) and closes it. */
function answerOnSocket(socket: Socket, error: FleetError, metrics: IngressMetrics): void {
  metrics.refused.inc({ code: error.code });
  if (socket.destroyed || !socket.writable) return;
  const body = JSON.stringify(error.toJSON());
  const status = error.httpStatus;
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Node's HTTP parser and timers refuse a request before fastify sees it; the answer is coded all the same. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket, metrics: IngressMetrics): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'E_REQUEST_TIMEOUT' : error.code === 'HPE_HEADER_OVERFLOW' ? 'E_HEADERS_TOO_LARGE' : error.code === 'HPE_URI_TOO_LONG' ? 'E_URI_TOO_LONG' : 'E_VALIDATION';
  const message =
    code === 'E_REQUEST_TIMEOUT' ? 'the request (headers and body) was not received in time'
    : code === 'E_HEADERS_TOO_LARGE' ? 'request headers (the URL included) are over the limit'
    : code === 'E_URI_TOO_LONG' ? 'the URL is over the limit'
    : `malformed HTTP request (${error.code ?? 'parse error'})`;
  answerOnSocket(socket, code === 'E_VALIDATION' ? new ValidationError(message, '(http)') : new FleetError(code, message), metrics);
}

/** Past `max` open connections a new one is answered 503 and closed, instead of being queued or silently dropped. */
function limitConnections(server: import('node:http').Server, max: number, metrics: IngressMetrics): void {
  let open = 0;
  server.prependListener('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
    if (open > max) {
      answerOnSocket(socket, new FleetError('E_TOO_MANY_CONNECTIONS', `the ingress holds its maximum of ${max} connections; retry shortly`), metrics);
      socket.destroySoon();
    }
  });
}

export type Ingress = ReturnType<typeof createIngress>;
