import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RedisConnection } from './redis-connection.js';
import { THROTTLE_INCREMENT } from './redis-scripts.js';

/** What `ThrottlerStorage.increment` resolves to (the package does not export its name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * `@nestjs/throttler` storage on Redis: one counter per key and window, shared by every node, so
 * a user spreading sockets over nodes gets no extra budget. Each hit is one Lua script (increment,
 * set the window's expiry, block past the limit), so concurrent hits from several nodes are
 * counted exactly. While Redis is unreachable `increment` rejects; the guard treats that as its
 * own failure policy decides.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  constructor(private readonly redis: RedisConnection) {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const { keys, commands } = this.redis;
    const reply = await THROTTLE_INCREMENT.run(commands, [keys.throttleHits(key, throttlerName), keys.throttleBlock(key, throttlerName)], [
      Math.max(1, Math.ceil(ttl)), limit, Math.max(0, Math.ceil(blockDuration)),
    ]);
    const [hits, msToExpire, blocked, msToBlockExpire] = Array.isArray(reply) ? reply.map(Number) : [0, 0, 0, 0];
    return {
      totalHits: hits,
      timeToExpire: Math.ceil(msToExpire / 1000),
      isBlocked: blocked === 1,
      timeToBlockExpire: blocked === 1 ? Math.ceil(msToBlockExpire / 1000) : 0,
    };
  }
}
