import { createLogger, createMetricsRegistry } from '../../contract/index.js';
import { AccessTokens, createIngress, createProducer, type IngressOptions, type ProducerOptions } from '../../producer/index.js';
import { Writable } from 'node:stream';

/** Starts a producer and an ingress on a random loopback port; log lines are kept in `logs`. */
export async function startTestIngress(options: ProducerOptions & { token?: string; tokens?: AccessTokens; ingress?: Partial<IngressOptions> }) {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const { token, tokens, ingress, ...producerOptions } = options;
  const producer = createProducer(producerOptions);
  await producer.ready().catch(() => {});
  const registry = createMetricsRegistry({ role: 'ingress' });
  const scoped = tokens ?? (token ? AccessTokens.single(token) : undefined);
  const app = createIngress({ producer, registry, logger, ...(scoped ? { tokens: scoped } : {}), ...ingress });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const base = `http://127.0.0.1:${port}`;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return {
    app,
    port,
    base,
    producer,
    logs,
    post,
    get: (path: string, headers: Record<string, string> = {}) => fetch(base + path, { headers }),
    close: async () => {
      await app.close();
      await producer.close();
    },
  };
}
