/** Injection token of the `RedisConnection` (`null` outside cluster mode). Internal. */
export const REDIS_CONNECTION = Symbol('RealtimeSecurityRedisConnection');

/** Injection token of the `RedisStreamBus` (`null` outside cluster mode). Internal. */
export const REDIS_STREAM_BUS = Symbol('RealtimeSecurityRedisStreamBus');

/** Channels of the cross-node bus. */
export const BUS_CHANNELS: readonly string[] = Object.freeze(['moderation', 'presence']);

/** How long one node may hold the reaping lock of a dead node. */
export const REAP_LOCK_MS = 30_000;

/** How long graceful shutdown waits for its clean-up in Redis. */
export const SHUTDOWN_CLEANUP_MS = 5000;
