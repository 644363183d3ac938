import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** A worker's `/metrics` port unless told otherwise (the Prometheus exporter range). */
export const DEFAULT_METRICS_PORT = 9464;

/** Serves `GET /metrics` from a registry. Binds loopback unless told otherwise. */
export async function startMetricsServer(registry: Registry, port: number, host = '127.0.0.1'): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url?.split('?')[0] === '/metrics') {
      registry.metrics().then(
        (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (error: Error) => response.writeHead(500).end(error.message),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'E_NOT_FOUND', message: 'only GET /metrics here' } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
