import { createServer, request as httpRequest, type Server } from 'node:http';

/**
 * An HTTP proxy in front of an S3 server that can answer 503 SlowDown (as S3 does when throttling)
 * for a while. Counts what it refused, so the run can report the fault was really seen.
 */
export class FaultProxy {
  private server: Server | undefined;
  private slowDownUntil = 0;
  refused = 0;
  forwarded = 0;

  constructor(private readonly target: URL) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (Date.now() < this.slowDownUntil) {
        this.refused++;
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        return;
      }
      this.forwarded++;
      const upstream = httpRequest(
        { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const address = this.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Answers 503 SlowDown to everything for `ms`. */
  slowDownFor(ms: number): void {
    this.slowDownUntil = Date.now() + ms;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
