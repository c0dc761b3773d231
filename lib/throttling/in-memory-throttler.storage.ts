import { Injectable } from '@nestjs/common';
import type { LocalThrottlerCounters } from './local-throttler-counters.interface.js';
import type { LocalCounter } from './session-traffic.js';
import type { WsThrottlerStorage, WsThrottlerStorageRecord } from './ws-throttler-storage.interface.js';

interface Counter extends LocalCounter {
  /** Its key in the map. */
  readonly id: string;
  /** Expiry times of the counted hits, oldest first, from `head` on; never more than the limit live. */
  readonly hits: number[];
  /** Index of the oldest live hit: expired hits are skipped, and cut off in bulk (amortised O(1)). */
  head: number;
  blockedUntil: number;
  /** The latest time a hit was counted at through `hit` (its arrival). */
  lastAt: number;
}

/** Expired entries are cut off once they are at least this many and half the array. */
const COMPACT_AT = 32;

const SWEEP_EVERY_MS = 60_000;

/**
 * Single-process message counters: a sliding log per key (exact, at most `limit` timestamps).
 * Idle keys are swept on use, at most once a minute, so memory follows active users and no
 * timer is left running. Sessions hold their user's counter (`LocalThrottlerCounters`), so a
 * message is counted without building its key.
 */
@Injectable()
export class InMemoryThrottlerStorage implements WsThrottlerStorage, LocalThrottlerCounters {
  private readonly counters = new Map<string, Counter>();
  private lastSweep = Date.now();

  /** Counts one hit, synchronously (the contract allows a promise; this storage needs none). */
  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): WsThrottlerStorageRecord {
    const now = Date.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    const counter = this.counterAt(`${throttlerName}\u0000${key}`);
    const live = advance(counter, now);
    const { hits } = counter;
    if (counter.blockedUntil > now) return blocked(live, hits, now, counter.blockedUntil);
    if (live >= limit) {
      if (blockDuration > 0) {
        counter.blockedUntil = now + blockDuration;
        return blocked(live, hits, now, counter.blockedUntil);
      }
      // Refused, not counted: a slot frees when the oldest counted hit leaves the window.
      return blocked(live, hits, now, live > 0 ? hits[counter.head] : now + ttl);
    }
    hits.push(now + ttl);
    return { totalHits: live + 1, timeToExpire: seconds(hits[hits.length - 1] - now), isBlocked: false, timeToBlockExpire: 0 };
  }

  counterFor(key: string, throttlerName: string): LocalCounter {
    return this.counterAt(`${throttlerName}\u0000${key}`);
  }

  hit(local: LocalCounter, ttl: number, limit: number, blockDuration: number, at: number): number {
    const counter = local as Counter;
    // Counted when it arrived; never before a hit already counted (the log stays in order).
    const now = at > counter.lastAt ? at : counter.lastAt;
    counter.lastAt = now;
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.sweep(now);
      // Idle until now, it was just dropped: it is the key's counter again (no other was made since).
      if (counter.swept) {
        counter.swept = false;
        this.counters.set(counter.id, counter);
      }
    }
    const live = advance(counter, now);
    if (counter.blockedUntil > now) return Math.max(1, seconds(counter.blockedUntil - now));
    if (live >= limit) {
      if (blockDuration > 0) {
        counter.blockedUntil = now + blockDuration;
        return Math.max(1, seconds(blockDuration));
      }
      return Math.max(1, seconds((live > 0 ? counter.hits[counter.head] : now + ttl) - now));
    }
    counter.hits.push(now + ttl);
    return 0;
  }

  /** Keys held now (for leak checks). */
  get size(): number {
    return this.counters.size;
  }

  private counterAt(id: string): Counter {
    let counter = this.counters.get(id);
    if (counter === undefined) {
      counter = { id, hits: [], head: 0, blockedUntil: 0, lastAt: 0, swept: false };
      this.counters.set(id, counter);
    }
    return counter;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [id, counter] of this.counters) {
      const last = counter.hits[counter.hits.length - 1];
      if ((last === undefined || last <= now) && counter.blockedUntil <= now) {
        counter.swept = true;
        this.counters.delete(id);
      }
    }
  }
}

/** Skips the counter's expired hits (cutting them off in bulk); answers how many are live. */
function advance(counter: Counter, now: number): number {
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
  return hits.length - head;
}

function blocked(live: number, hits: readonly number[], now: number, until: number): WsThrottlerStorageRecord {
  const last = live > 0 ? hits[hits.length - 1] : until;
  return { totalHits: live + 1, timeToExpire: seconds(last - now), isBlocked: true, timeToBlockExpire: seconds(until - now) };
}

/** The storage contract speaks whole seconds; never 0 for a time still running. */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}
