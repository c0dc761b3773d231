import { Injectable } from '@nestjs/common';
import type { WsThrottlerStorage, WsThrottlerStorageRecord } from './ws-throttler-storage.interface.js';

interface Counter {
  /** Expiry times of the counted hits, oldest first, from `head` on; never more than the limit live. */
  readonly hits: number[];
  /** Index of the oldest live hit: expired hits are skipped, and cut off in bulk (amortised O(1)). */
  head: number;
  blockedUntil: number;
}

/** Expired entries are cut off once they are at least this many and half the array. */
const COMPACT_AT = 32;

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

  /** Counts one hit, synchronously (the contract allows a promise; this storage needs none). */
  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): WsThrottlerStorageRecord {
    const now = Date.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    const id = `${throttlerName}\u0000${key}`;
    let counter = this.counters.get(id);
    if (counter === undefined) {
      counter = { hits: [], head: 0, blockedUntil: 0 };
      this.counters.set(id, counter);
    }
    const { hits } = counter;
    let head = counter.head;
    while (head < hits.length && hits[head] <= now) head += 1;
    // Shifting the array on every message would cost O(limit) each: cut expired hits in bulk.
    if (head >= COMPACT_AT && head * 2 >= hits.length) {
      hits.splice(0, head);
      head = 0;
    } else if (head === hits.length && head > 0) {
      hits.length = 0;
      head = 0;
    }
    counter.head = head;
    const live = hits.length - head;
    if (counter.blockedUntil > now) return blocked(live, hits, now, counter.blockedUntil);
    if (live >= limit) {
      if (blockDuration > 0) {
        counter.blockedUntil = now + blockDuration;
        return blocked(live, hits, now, counter.blockedUntil);
      }
      // Refused, not counted: a slot frees when the oldest counted hit leaves the window.
      return blocked(live, hits, now, live > 0 ? hits[head] : now + ttl);
    }
    hits.push(now + ttl);
    return { totalHits: live + 1, timeToExpire: seconds(hits[hits.length - 1] - now), isBlocked: false, timeToBlockExpire: 0 };
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

function blocked(live: number, hits: readonly number[], now: number, until: number): WsThrottlerStorageRecord {
  const last = live > 0 ? hits[hits.length - 1] : until;
  return { totalHits: live + 1, timeToExpire: seconds(last - now), isBlocked: true, timeToBlockExpire: seconds(until - now) };
}

/** The storage contract speaks whole seconds; never 0 for a time still running. */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}
