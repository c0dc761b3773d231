import fc from 'fast-check';
import { InMemoryThrottlerStorage, type SecurityEventsService } from '../../lib/index.js';
import { HandshakeRateLimiter } from '../../lib/throttling/handshake-rate.limiter.js';
import { addressKey } from '../../lib/throttling/handshake-rate.limiter.js';
import type { ResolvedRealtimeSecurityOptions } from '../../lib/interfaces/resolved-options.interface.js';

function limiter(perWindow: number, windowMs: number, maxTracked: number): HandshakeRateLimiter {
  const options = { rateLimit: { handshakesPerAddress: perWindow, handshakeWindowMs: windowMs, maxTrackedAddresses: maxTracked } } as ResolvedRealtimeSecurityOptions;
  const events = { emit: () => undefined } as unknown as SecurityEventsService;
  return new HandshakeRateLimiter(options, events);
}

/** Runs `body` with `Date.now()` on a clock it moves itself; the real clock is back afterwards. */
async function withClock(start: number, body: (clock: { readonly now: number; advance(ms: number): void }) => Promise<void>): Promise<void> {
  let now = start;
  const real = Date.now;
  Date.now = () => now;
  try {
    await body({ get now() { return now; }, advance: (ms) => { now += ms; } });
  } finally {
    Date.now = real;
  }
}

describe('InMemoryThrottlerStorage: the counters sessions hold (counterFor / hit)', () => {
  it('answers what `increment` answers, on the same counter, in any interleaving, across a sweep', async () => {
    const op = fc.record({ advance: fc.oneof(fc.nat({ max: 400 }), fc.constant(61_000)), via: fc.constantFrom('hit', 'increment'), blockDuration: fc.constantFrom(0, 0, 700) });
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 100, max: 2000 }), fc.array(op, { maxLength: 100 }), async (limit, ttl, ops) => {
      await withClock(1_000_000, async (clock) => {
        const held = new InMemoryThrottlerStorage();
        const model = new InMemoryThrottlerStorage();
        let counter = held.counterFor('k', 'ws');
        for (const { advance, via, blockDuration } of ops) {
          clock.advance(advance);
          // A session fetches its counter again once the storage swept it (idle past a minute).
          if (counter.swept) counter = held.counterFor('k', 'ws');
          const expected = model.increment('k', ttl, limit, blockDuration, 'ws');
          const retryAfter = via === 'hit'
            ? held.hit(counter, ttl, limit, blockDuration, clock.now)
            : (() => { const r = held.increment('k', ttl, limit, blockDuration, 'ws'); return r.isBlocked ? Math.max(1, r.timeToBlockExpire) : 0; })();
          expect(retryAfter).toBe(expected.isBlocked ? Math.max(1, expected.timeToBlockExpire) : 0);
        }
        // Nothing is kept for a counter nobody uses: swept like any other.
        clock.advance(120_000);
        held.increment('other', ttl, limit, 0, 'ws');
        clock.advance(61_000);
        held.increment('other', ttl, limit, 0, 'ws');
        expect(held.size).toBe(1);
        expect(counter.swept).toBe(true);
      });
    }), { numRuns: 300 });
  });

  it('counts a hit stamped before one already counted at the later time (the log stays in order)', async () => {
    await withClock(1_000_000, async () => {
      const storage = new InMemoryThrottlerStorage();
      const counter = storage.counterFor('k', 'ws');
      expect(storage.hit(counter, 1000, 2, 0, 1_000_500)).toBe(0);
      // Arrived earlier on another socket of the same user, charged later: counted at 1_000_500.
      expect(storage.hit(counter, 1000, 2, 0, 1_000_000)).toBe(0);
      expect(storage.hit(counter, 1000, 2, 0, 1_001_400)).toBe(1);
      // Both hits leave the window together, at 1_001_500.
      expect(storage.hit(counter, 1000, 2, 0, 1_001_500)).toBe(0);
    });
  });
});

describe('InMemoryThrottlerStorage (sliding window)', () => {
  it('accepts exactly `limit` hits in any window of `ttl`, whatever the timing', async () => {
    const step = fc.record({ advance: fc.nat({ max: 400 }), key: fc.constantFrom('a', 'b') });
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 100, max: 2000 }), fc.array(step, { maxLength: 120 }), async (limit, ttl, steps) => {
      const storage = new InMemoryThrottlerStorage();
      await withClock(1_000_000, async (clock) => {
        const accepted: Record<string, number[]> = { a: [], b: [] };
        for (const { advance, key } of steps) {
          clock.advance(advance);
          const record = await storage.increment(key, ttl, limit, 0, 'default');
          const inWindow = accepted[key].filter((at) => at > clock.now - ttl).length;
          // Model: accepted iff fewer than `limit` accepted hits in the last `ttl` ms.
          expect(record.isBlocked).toBe(inWindow >= limit);
          if (!record.isBlocked) accepted[key].push(clock.now);
          else {
            const oldest = Math.min(...accepted[key].filter((at) => at > clock.now - ttl));
            expect(record.timeToBlockExpire).toBe(Math.ceil((oldest + ttl - clock.now) / 1000));
          }
        }
      });
    }), { numRuns: 300 });
  });

  it('stays exact with limits large enough for expired hits to be cut off in bulk', async () => {
    const step = fc.record({ advance: fc.nat({ max: 40 }), burst: fc.integer({ min: 1, max: 6 }) });
    await fc.assert(fc.asyncProperty(fc.integer({ min: 20, max: 120 }), fc.integer({ min: 50, max: 600 }), fc.array(step, { minLength: 50, maxLength: 300 }), async (limit, ttl, steps) => {
      const storage = new InMemoryThrottlerStorage();
      await withClock(1_000_000, async (clock) => {
        const accepted: number[] = [];
        for (const { advance, burst } of steps) {
          clock.advance(advance);
          for (let i = 0; i < burst; i++) {
            const record = storage.increment('k', ttl, limit, 0, 'default');
            const inWindow = accepted.filter((at) => at > clock.now - ttl).length;
            expect(record.isBlocked).toBe(inWindow >= limit);
            expect(record.totalHits).toBe(inWindow + 1);
            if (!record.isBlocked) accepted.push(clock.now);
          }
        }
      });
    }), { numRuns: 100 });
  });

  it('with a blockDuration, refuses for that long once over the limit', async () => {
    const storage = new InMemoryThrottlerStorage();
    await withClock(Date.now(), async (clock) => {
      for (let i = 0; i < 3; i++) expect((await storage.increment('k', 1000, 3, 5000, 'default')).isBlocked).toBe(false);
      expect(await storage.increment('k', 1000, 3, 5000, 'default')).toMatchObject({ isBlocked: true, timeToBlockExpire: 5 });
      // The window has passed, the block has not.
      clock.advance(2000);
      expect(await storage.increment('k', 1000, 3, 5000, 'default')).toMatchObject({ isBlocked: true, timeToBlockExpire: 3 });
      clock.advance(3000);
      expect((await storage.increment('k', 1000, 3, 5000, 'default')).isBlocked).toBe(false);
    });
  });

  it('forgets idle keys, so memory follows active users', async () => {
    const storage = new InMemoryThrottlerStorage();
    await withClock(Date.now(), async (clock) => {
      for (let i = 0; i < 1000; i++) await storage.increment(`user-${i}`, 1000, 5, 0, 'default');
      expect(storage.size).toBe(1000);
      clock.advance(61_000);
      await storage.increment('late', 1000, 5, 0, 'default');
      expect(storage.size).toBe(1);
    });
  });
});

describe('HandshakeRateLimiter (token bucket per address)', () => {
  it('never accepts more than the burst plus the refill, per address, and never tracks more than the cap', () => {
    const event = fc.record({ advance: fc.nat({ max: 2000 }), address: fc.constantFrom('10.0.0.1', '10.0.0.2', '2001:db8::1', '2001:db8::2', '2001:db8:0:1::1') });
    fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1000, max: 60_000 }), fc.array(event, { maxLength: 300 }), (perWindow, windowMs, events) => {
      const limit = limiter(perWindow, windowMs, 100);
      let now = 0;
      const accepted = new Map<string, number>();
      for (const { advance, address } of events) {
        now += advance;
        if (limit.tryAcquire(address, now)) accepted.set(addressKey(address), (accepted.get(addressKey(address)) ?? 0) + 1);
      }
      for (const count of accepted.values()) expect(count).toBeLessThanOrEqual(perWindow + Math.floor((now * perWindow) / windowMs));
    }), { numRuns: 300 });
  });

  it('refuses past the burst and recovers at the refill rate', () => {
    const limit = limiter(3, 60_000, 100);
    expect([0, 0, 0, 0].map(() => limit.tryAcquire('192.0.2.1', 0))).toEqual([true, true, true, false]);
    expect(limit.tryAcquire('192.0.2.1', 19_999)).toBe(false);
    expect(limit.tryAcquire('192.0.2.1', 20_000)).toBe(true);
    expect(limit.tryAcquire('192.0.2.2', 20_000)).toBe(true);
  });

  it('keeps memory bounded under a spray of addresses', () => {
    const limit = limiter(5, 60_000, 100);
    for (let i = 0; i < 10_000; i++) limit.tryAcquire(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
    expect(limit.trackedAddresses).toBe(100);
  });

  it('counts IPv6 per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey(undefined)).toBe('unknown');
  });
});
