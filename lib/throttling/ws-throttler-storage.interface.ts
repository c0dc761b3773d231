import type { ThrottlerStorage } from '@nestjs/throttler';

/**
 * Where message rate counters live: `@nestjs/throttler`'s `ThrottlerStorage` contract, so any of
 * its storages (a Redis one, for several nodes) plugs in. `increment(key, ttlMs, limit,
 * blockDurationMs, throttlerName)` counts one message and answers in seconds; with a
 * `blockDuration` of 0 a refused message is not counted and nothing is blocked past the window.
 */
export type WsThrottlerStorage = ThrottlerStorage;

/** What `increment` answers: `{ totalHits, timeToExpire, isBlocked, timeToBlockExpire }` (times in seconds). */
export type WsThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Injection token of the active {@link WsThrottlerStorage}. */
export const WsThrottlerStorage = Symbol('WsThrottlerStorage');
