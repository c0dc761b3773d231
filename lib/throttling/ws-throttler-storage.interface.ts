/**
 * What `increment` answers: `{ totalHits, timeToExpire, isBlocked, timeToBlockExpire }` (times in
 * seconds). The same shape as `@nestjs/throttler`'s `ThrottlerStorageRecord`.
 */
export interface WsThrottlerStorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * Where message rate counters live: `@nestjs/throttler`'s `ThrottlerStorage` contract, so any of
 * its storages (a Redis one, for several nodes) plugs in. `increment(key, ttlMs, limit,
 * blockDurationMs, throttlerName)` counts one message and answers in seconds; with a
 * `blockDuration` of 0 a refused message is not counted and nothing is blocked past the window.
 * Declared here, structurally, so that `@nestjs/throttler` stays an optional peer dependency.
 * A storage may also answer synchronously (the in-memory one does): then a message is counted
 * without a promise on its way.
 */
export interface WsThrottlerStorage {
  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): WsThrottlerStorageRecord | Promise<WsThrottlerStorageRecord>;
}

/** Injection token of the active {@link WsThrottlerStorage}. */
export const WsThrottlerStorage = Symbol('WsThrottlerStorage');
