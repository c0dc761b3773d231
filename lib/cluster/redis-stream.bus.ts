import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { isErrorLike, redact } from './redis-error-log.js';
import type { RedisConnection } from './redis-connection.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** A message handler of one channel: the payload as published, and the publisher's origin. */
export type StreamBusHandler = (payload: unknown, origin: string) => void;

/** Entries kept per channel (approximately): how far a node may fall behind and still catch up. */
const MAX_LENGTH = 10_000;
/** How long one blocking read waits before it is renewed. */
const BLOCK_MS = 1000;
const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * Cross-node messages on Redis streams, one per channel (`<prefix>bus:<channel>`). Each node
 * reads every channel from where it left off, so a node whose connection to Redis dropped
 * receives what was published meanwhile once it is back (at-least-once, up to the last 10,000
 * messages per channel); pub/sub would lose them. Every node, the publisher included, receives
 * every message. Handlers must be idempotent and must not throw (a throw is logged).
 */
export class RedisStreamBus implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeSecurity');
  /** A failing handler fails on every entry: one log line per interval per channel. */
  private readonly failures = new ThrottledLog(this.logger);
  private readonly handlers = new Map<string, Set<StreamBusHandler>>();
  private readonly cursors = new Map<string, string>();
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly redis: RedisConnection, private readonly channels: readonly string[]) {
    for (const channel of channels) this.handlers.set(channel, new Set());
  }

  onApplicationBootstrap(): void {
    this.running ??= this.loop();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    // Ends a blocking read at once; the reader connection is not used by anything else.
    this.redis.reader.disconnect(false);
    await this.running;
  }

  /** Appends a message to the channel's stream. Rejects when Redis is unreachable. */
  async publish(channel: string, origin: string, payload: unknown): Promise<void> {
    if (!this.handlers.has(channel)) throw new Error(`RedisStreamBus: unknown channel '${channel}'`);
    await this.redis.commands.xadd(this.redis.keys.bus(channel), 'MAXLEN', '~', MAX_LENGTH, '*', 'o', origin, 'd', JSON.stringify(payload));
  }

  /** Registers a handler; returns the function that removes it. */
  on(channel: string, handler: StreamBusHandler): () => void {
    const set = this.handlers.get(channel);
    if (set === undefined) throw new Error(`RedisStreamBus: unknown channel '${channel}'`);
    set.add(handler);
    return () => set.delete(handler);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.cursors.size < this.channels.length) await this.initCursors();
        const keys = this.channels.map((c) => this.redis.keys.bus(c));
        const reply = await this.redis.reader.call('XREAD', 'COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...this.channels.map((c) => this.cursors.get(c) as string));
        this.deliver(reply);
      } catch (error) {
        if (this.stopped) break;
        // The reader logs connection errors itself; wait for it to come back, then resume.
        if (!isConnectionError(error)) this.logger.error(`cross-node bus read failed: ${redact(error)}`);
        await this.waitForReader();
      }
    }
  }

  /** Starts each channel after its newest entry: earlier messages were for sockets this node never had. */
  private async initCursors(): Promise<void> {
    for (const channel of this.channels) {
      if (this.cursors.has(channel)) continue;
      const newest = await this.redis.reader.call('XREVRANGE', this.redis.keys.bus(channel), '+', '-', 'COUNT', 1);
      const id = Array.isArray(newest) && Array.isArray(newest[0]) && typeof newest[0][0] === 'string' ? newest[0][0] : '0-0';
      this.cursors.set(channel, id);
    }
  }

  private deliver(reply: unknown): void {
    for (const stream of streamsOf(reply)) {
      if (!Array.isArray(stream) || typeof stream[0] !== 'string' || !Array.isArray(stream[1])) continue;
      const channel = this.channels.find((c) => this.redis.keys.bus(c) === stream[0]);
      if (channel === undefined) continue;
      for (const entry of stream[1] as unknown[]) {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue;
        this.cursors.set(channel, entry[0]);
        const message = readEntry(entry[1]);
        if (message !== null) this.dispatch(channel, message.payload, message.origin);
      }
    }
  }

  private dispatch(channel: string, payload: unknown, origin: string): void {
    for (const handler of [...(this.handlers.get(channel) ?? [])]) {
      try {
        handler(payload, origin);
      } catch (error) {
        this.failures.error(channel, `cross-node bus handler failed on '${channel}': ${redact(error)}`);
      }
    }
  }

  private waitForReader(): Promise<void> {
    return new Promise((resolve) => {
      const reader = this.redis.reader;
      const done = () => {
        clearTimeout(timer);
        reader.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, reader.status === 'ready' ? 200 : 2000);
      timer.unref();
      if (reader.status !== 'ready') reader.once('ready', done);
    });
  }
}

/**
 * The `[key, entries]` pairs of an XREAD reply: RESP2 nests them, while some client versions and
 * protocols flatten them to `key, entries, key, entries`.
 */
function streamsOf(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) return [];
  if (reply.every((item) => Array.isArray(item))) return reply;
  const pairs: unknown[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([reply[i], reply[i + 1]]);
  return pairs;
}

/** An entry's fields `o <origin> d <json>`, or `null` when malformed or oversized. */
function readEntry(fields: unknown): { origin: string; payload: unknown } | null {
  if (!Array.isArray(fields)) return null;
  let origin: string | undefined;
  let data: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'o' && typeof fields[i + 1] === 'string') origin = fields[i + 1] as string;
    if (fields[i] === 'd' && typeof fields[i + 1] === 'string') data = fields[i + 1] as string;
  }
  if (origin === undefined || data === undefined || data.length > MAX_MESSAGE_BYTES) return null;
  try {
    return { origin, payload: JSON.parse(data) as unknown };
  } catch {
    return null;
  }
}

function isConnectionError(error: unknown): boolean {
  return isErrorLike(error) && /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/.test(error.message);
}
