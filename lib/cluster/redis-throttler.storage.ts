import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RedisUnavailablePolicy } from '../interfaces/realtime-security-options.interface.js';
import { InMemoryThrottlerStorage } from '../throttling/in-memory-throttler.storage.js';
import type { RedisConnection } from './redis-connection.js';
import { THROTTLE_INCREMENT } from './redis-scripts.js';

/** What `ThrottlerStorage.increment` resolves to (the package does not export its name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * `@nestjs/throttler` storage on Redis: one counter per key and window, shared by every node, so
 * a user spreading sockets over nodes gets no extra budget. Each hit is one Lua script (increment,
 * set the window's expiry, block past the limit), so concurrent hits from several nodes are
 * counted exactly. While Redis is unreachable `increment` rejects (the message is refused with
 * `SERVICE_UNAVAILABLE`) or, with `onUnavailable: 'fail-open'`, counts in this process only.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly fallback = new InMemoryThrottlerStorage();

  constructor(private readonly redis: RedisConnection, private readonly onUnavailable: RedisUnavailablePolicy = 'fail-closed') {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const { keys, commands } = this.redis;
    let reply: unknown;
    try {
      reply = await THROTTLE_INCREMENT.run(commands, [keys.throttleHits(key, throttlerName), keys.throttleBlock(key, throttlerName)], [
        Math.max(1, Math.ceil(ttl)), limit, Math.max(0, Math.ceil(blockDuration)),
      ]);
    } catch (error) {
      if (this.onUnavailable !== 'fail-open') throw error;
      return this.fallback.increment(key, ttl, limit, blockDuration, throttlerName);
    }
    const [hits, msToExpire, blocked, msToBlockExpire] = Array.isArray(reply) ? reply.map(Number) : [0, 0, 0, 0];
    return {
      totalHits: hits,
      timeToExpire: Math.ceil(msToExpire / 1000),
      isBlocked: blocked === 1,
      timeToBlockExpire: blocked === 1 ? Math.ceil(msToBlockExpire / 1000) : 0,
    };
  }
}
