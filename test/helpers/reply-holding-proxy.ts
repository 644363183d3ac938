import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of Redis that can hold Redis's replies back (they are kept, in order, and sent on release),
 * so a test can make an add reach Redis and run while its reply never arrives in time: what a frozen Redis or a
 * stalled network does to a client, on purpose and at the right command.
 */
export class ReplyHoldingProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private holding = false;
  private trigger: string | undefined;
  private cut: string | undefined;
  private readonly held: Array<{ client: Socket; data: Buffer }> = [];

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(this.target);
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.on('data', (data) => {
        const cut = this.cut === undefined ? -1 : data.indexOf(this.cut);
        if (cut >= 0) {
          // Redis gets the commands before the marker and half of the one holding it, answers the whole ones,
          // then loses the connection: what a network drop in the middle of a client's write does.
          this.cut = undefined;
          upstream.write(data.subarray(0, cut));
          setTimeout(close, 200);
          return;
        }
        if (this.trigger !== undefined && data.includes(this.trigger)) {
          this.trigger = undefined;
          this.holding = true;
        }
        upstream.write(data);
      });
      upstream.on('data', (data) => {
        if (this.holding) this.held.push({ client, data });
        else client.write(data);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('close', close);
      upstream.on('close', close);
      client.on('error', close);
      upstream.on('error', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server!.address() as { port: number }).port;
  }

  /** From the first client command that contains `marker` on, replies are held (that command's included). */
  holdRepliesFrom(marker: string): void {
    this.trigger = marker;
  }

  /**
   * The next client write that contains `marker` reaches Redis only up to the marker; 200 ms later (the replies
   * to the whole commands before it delivered) both sides of that connection are closed.
   */
  cutConnectionAt(marker: string): void {
    this.cut = marker;
  }

  /** True once a marker was seen and replies are being held. */
  get isHolding(): boolean {
    return this.holding;
  }

  /** Sends every held reply, in order, and passes replies through again. */
  release(): void {
    this.holding = false;
    for (const { client, data } of this.held.splice(0)) if (!client.destroyed) client.write(data);
  }

  async stop(): Promise<void> {
    this.release();
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
