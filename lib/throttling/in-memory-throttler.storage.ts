import { Injectable } from '@nestjs/common';
import type { WsThrottlerStorage, WsThrottlerStorageRecord } from './ws-throttler-storage.interface.js';

interface Counter {
  /** Expiry times of the counted hits, oldest first; never more than the limit. */
  readonly hits: number[];
  blockedUntil: number;
}

const SWEEP_EVERY_MS = 60_000;

/**
 * Single-process message counters: a sliding log per key (exact, at most `limit` timestamps).
 * Idle keys are swept on use, at most once a minute, so memory follows active users and no
 * timer is left running.
 */
@Injectable()
export class InMemoryThrottlerStorage implements WsThrottlerStorage {
  private readonly counters = new Map<string, Counter>();
  private lastSweep = Date.now();

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<WsThrottlerStorageRecord> {
    const now = Date.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    const id = `${throttlerName}\u0000${key}`;
    let counter = this.counters.get(id);
    if (counter === undefined) {
      counter = { hits: [], blockedUntil: 0 };
      this.counters.set(id, counter);
    }
    const { hits } = counter;
    let live = 0;
    while (live < hits.length && hits[live] <= now) live += 1;
    if (live > 0) hits.splice(0, live);
    if (counter.blockedUntil > now) return blocked(hits, now, counter.blockedUntil);
    if (hits.length >= limit) {
      if (blockDuration > 0) {
        counter.blockedUntil = now + blockDuration;
        return blocked(hits, now, counter.blockedUntil);
      }
      // Refused, not counted: a slot frees when the oldest counted hit leaves the window.
      return blocked(hits, now, hits[0] ?? now + ttl);
    }
    hits.push(now + ttl);
    return { totalHits: hits.length, timeToExpire: seconds(hits[hits.length - 1] - now), isBlocked: false, timeToBlockExpire: 0 };
  }

  /** Keys held now (for leak checks). */
  get size(): number {
    return this.counters.size;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [id, counter] of this.counters) {
      const last = counter.hits[counter.hits.length - 1];
      if ((last === undefined || last <= now) && counter.blockedUntil <= now) this.counters.delete(id);
    }
  }
}

function blocked(hits: readonly number[], now: number, until: number): WsThrottlerStorageRecord {
  const last = hits[hits.length - 1];
  return { totalHits: hits.length + 1, timeToExpire: seconds((last ?? until) - now), isBlocked: true, timeToBlockExpire: seconds(until - now) };
}

/** The storage contract speaks whole seconds; never 0 for a time still running. */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}
