import type { LocalCounter } from './session-traffic.js';

/**
 * An internal capability of a storage whose counters live in this process (the in-memory one): a
 * session holds its user's counter and counts on it directly, without building the key and
 * looking it up on every message. Other storages are used through `increment`.
 */
export interface LocalThrottlerCounters {
  /** The counter of `key` for `throttlerName` (the one `increment` with those arguments counts on). */
  counterFor(key: string, throttlerName: string): LocalCounter;
  /**
   * Counts one hit on `counter` at `at` (epoch ms: when the message arrived; a hit is never
   * counted before one already counted), as `increment` would: 0 when accepted, else the whole
   * seconds (at least 1) until a message may pass again. A counter the storage dropped (`swept`)
   * must be fetched again first.
   */
  hit(counter: LocalCounter, ttl: number, limit: number, blockDuration: number, at: number): number;
}

export function hasLocalCounters(storage: object): storage is LocalThrottlerCounters {
  const candidate = storage as Partial<LocalThrottlerCounters>;
  return typeof candidate.counterFor === 'function' && typeof candidate.hit === 'function';
}
