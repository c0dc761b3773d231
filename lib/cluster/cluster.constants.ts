/** Injection token of the `RedisConnection` (`null` outside cluster mode). Internal. */
export const REDIS_CONNECTION = Symbol('RealtimeSecurityRedisConnection');

/** Injection token of the `RedisStreamBus` (`null` outside cluster mode). Internal. */
export const REDIS_STREAM_BUS = Symbol('RealtimeSecurityRedisStreamBus');

/** Channels of the cross-node bus. */
export const BUS_CHANNELS: readonly string[] = Object.freeze(['moderation', 'presence', 'room-presence']);

/**
 * How long one node may hold the reaping lock of a dead node: if the reaper dies too, another
 * takes over after this. Reaping is idempotent, so an overlap after a very long reaping is harmless.
 */
export const REAP_LOCK_MS = 10_000;

/** How long graceful shutdown waits for its clean-up in Redis. */
export const SHUTDOWN_CLEANUP_MS = 5000;
