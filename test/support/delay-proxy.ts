import { createServer, Socket as NetSocket, type Server } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1:0 in front of a local server (a test's own redis-server) that delays
 * every chunk, in both directions, by a random time in [minMs, maxMs], keeping each direction's
 * order: a slow network, not a broken one. The delay can change while connections are open.
 */
export class DelayProxy {
  private minMs = 0;
  private maxMs = 0;
  private readonly sockets = new Set<NetSocket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<DelayProxy> {
    let proxy: DelayProxy | undefined;
    const server = createServer((client) => proxy?.pipe(client, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new DelayProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** From now on, each chunk waits a random time in [minMs, maxMs] (0, 0: none). */
  setDelay(minMs: number, maxMs = minMs): void {
    this.minMs = minMs;
    this.maxMs = maxMs;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: NetSocket, targetPort: number): void {
    const upstream = new NetSocket();
    this.sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.connect(targetPort, '127.0.0.1');
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  /** Chunks from `from` reach `to` after the delay, in order: one queue and one timer per direction. */
  private forward(from: NetSocket, to: NetSocket): void {
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = () => {
      if (timer !== undefined) this.timers.delete(timer);
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && (queue[0] as { at: number }).at <= now) {
        const { chunk } = queue.shift() as { chunk: Buffer };
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) {
        timer = setTimeout(drain, (queue[0] as { at: number }).at - now);
        this.timers.add(timer);
      }
    };
    from.on('data', (chunk: Buffer) => {
      const delay = this.minMs + Math.random() * (this.maxMs - this.minMs);
      const last = queue[queue.length - 1];
      queue.push({ at: Math.max(Date.now() + delay, last?.at ?? 0), chunk });
      if (timer === undefined) drain();
    });
  }
}
