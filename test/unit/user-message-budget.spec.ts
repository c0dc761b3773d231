import type { Socket } from 'socket.io';
import { ConnectionSession, type ConnectionLease } from '../../lib/connections/connection-session.js';
import type { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import type { SecurityEventsService } from '../../lib/events/security-events.service.js';
import { WsSecurityException } from '../../lib/exceptions/ws-security.exception.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { InMemoryThrottlerStorage } from '../../lib/throttling/in-memory-throttler.storage.js';
import { UserMessageBudget } from '../../lib/throttling/user-message.budget.js';
import type { WsThrottlerStorage, WsThrottlerStorageRecord } from '../../lib/throttling/ws-throttler-storage.interface.js';
import { codeOf } from '../support/outcome.js';
import { TEST_SECRET } from '../support/tokens.js';
import type { RateLimitOptions } from '../../lib/interfaces/realtime-security-options.interface.js';

function setup(storage: WsThrottlerStorage, rateLimit: RateLimitOptions = { messageLimit: 1, messageWindowMs: 60_000 }) {
  const socket = { data: {}, nsp: { name: '/chat' }, connected: true, once: () => socket, off: () => socket } as unknown as Socket;
  const lease = { id: 'l', userKey: 't/u', userId: 'u', tenantId: 't', granted: Promise.resolve(true), refs: 1, opened: true, released: false } as ConnectionLease;
  const principal = Object.freeze({ userId: 'u', tenantId: 't', permissions: Object.freeze([]), expiresAt: Date.now() + 60_000 });
  const session = new ConnectionSession(socket, principal, lease, null);
  const terminated: string[] = [];
  const lifecycle = { terminate: (_: unknown, code: string) => { terminated.push(code); } } as unknown as ConnectionLifecycle;
  const events = { emit: () => undefined } as unknown as SecurityEventsService;
  const budget = new UserMessageBudget(resolveOptions({ jwt: { secret: TEST_SECRET }, rateLimit }), storage, lifecycle, events);
  return { budget, session, socket, terminated };
}


describe('UserMessageBudget.charge', () => {
  it('settles synchronously with a synchronous storage: no promise per message, a refusal thrown at once', () => {
    const { budget, session } = setup(new InMemoryThrottlerStorage());
    expect(budget.charge(session, 'echo')).toBeUndefined();
    expect(() => budget.charge(session, 'echo')).toThrow(WsSecurityException);
  });

  it('answers a native promise for a storage answering with any thenable, and refuses through it', async () => {
    const inner = new InMemoryThrottlerStorage();
    // A storage whose answer is a bare thenable (not a Promise): still awaited, never taken as an answer.
    const thenable: WsThrottlerStorage = {
      increment: (...args) => ({ then: (resolve: (record: WsThrottlerStorageRecord) => void) => resolve(inner.increment(...args) as WsThrottlerStorageRecord) }) as unknown as Promise<WsThrottlerStorageRecord>,
    };
    const { budget, session } = setup(thenable);
    const first = budget.charge(session, 'echo');
    expect(first).toBeInstanceOf(Promise);
    expect(await codeOf(() => first)).toBe('passed');
    expect(await codeOf(() => budget.charge(session, 'echo'))).toBe('RATE_LIMITED');
  });

  it('refuses with SERVICE_UNAVAILABLE when the storage throws or rejects', async () => {
    const throwing = setup({ increment: () => { throw new Error('down'); } });
    expect(await codeOf(() => throwing.budget.charge(throwing.session, 'echo'))).toBe('SERVICE_UNAVAILABLE');
    const rejecting = setup({ increment: () => Promise.reject(new Error('down')) });
    expect(await codeOf(() => rejecting.budget.charge(rejecting.session, 'echo'))).toBe('SERVICE_UNAVAILABLE');
  });
});

/** Runs `body` with `Date.now()` on a clock it moves itself; the real clock is back afterwards. */
async function withClock(start: number, body: (clock: { advance(ms: number): void }) => Promise<void>): Promise<void> {
  let now = start;
  const real = Date.now;
  Date.now = () => now;
  try {
    await body({ advance: (ms) => { now += ms; } });
  } finally {
    Date.now = real;
  }
}

/** Lets the penalty close (after the pending acks, on the next turn) happen. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('UserMessageBudget penalty (THREATS 40)', () => {
  const rate = { messageLimit: 10, messageWindowMs: 60_000, strikes: 2, strikeGraceMs: 1000 };

  it('forgives the refusals of a burst that arrived within the grace, however late they are decided', async () => {
    await withClock(1_000_000, async (clock) => {
      const { budget, session, terminated } = setup(new InMemoryThrottlerStorage(), rate);
      const arrivals = Array.from({ length: 100 }, () => ['ping']);
      // The whole burst arrives at once...
      for (const event of arrivals) budget.inbound.track(session, event);
      // ...and a busy server decides it over 5 s: 10 accepted, 90 refused, no strike.
      const codes: string[] = [];
      for (let i = 0; i < 100; i++) {
        codes.push(await codeOf(() => budget.charge(session, 'ping')));
        clock.advance(50);
      }
      expect(codes.filter((c) => c === 'passed')).toHaveLength(10);
      expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(90);
      await turn();
      expect(terminated).toEqual([]);
      expect(budget.penaltyRetryAfterMs(session)).toBeUndefined();
    });
  });

  it('counts strikes for what arrives after the grace and closes past `strikes`; then refuses everything with retryAfterMs', async () => {
    await withClock(1_000_000, async (clock) => {
      const { budget, session, terminated } = setup(new InMemoryThrottlerStorage(), rate);
      const send = () => {
        budget.inbound.track(session, ['ping']);
        return codeOf(() => budget.charge(session, 'ping'));
      };
      for (let i = 0; i < 10; i++) expect(await send()).toBe('passed');
      expect(await send()).toBe('RATE_LIMITED');
      clock.advance(999);
      expect(await send()).toBe('RATE_LIMITED');
      clock.advance(1);
      // Past the grace: strikes 1 and 2 are allowed, the third closes.
      expect(await send()).toBe('RATE_LIMITED');
      expect(await send()).toBe('RATE_LIMITED');
      await turn();
      expect(terminated).toEqual([]);
      expect(await send()).toBe('RATE_LIMITED');
      expect(budget.penaltyRetryAfterMs(session)).toBeGreaterThanOrEqual(1000);
      await turn();
      expect(terminated).toEqual(['RATE_LIMITED']);
      // Being closed: refused without the storage.
      expect(await codeOf(() => budget.charge(session, 'ping'))).toBe('RATE_LIMITED');
    });
  });

  it('forgives at most 10 x the limit refusals within the grace: an endless burst is still cut off', async () => {
    const { budget, session, terminated } = setup(new InMemoryThrottlerStorage(), rate);
    const codes: string[] = [];
    for (let i = 0; i < 10 + 100 + 3; i++) {
      budget.inbound.track(session, ['ping']);
      codes.push(await codeOf(() => budget.charge(session, 'ping')));
    }
    expect(budget.penaltyRetryAfterMs(session)).toBeGreaterThan(0);
    await turn();
    expect(terminated).toEqual(['RATE_LIMITED']);
    expect(codes.filter((c) => c === 'passed')).toHaveLength(10);
  });

  it('an accepted message ends the streak', async () => {
    await withClock(1_000_000, async (clock) => {
      const { budget, session, terminated } = setup(new InMemoryThrottlerStorage(), { ...rate, messageLimit: 1, messageWindowMs: 1000 });
      const send = () => {
        budget.inbound.track(session, ['ping']);
        return codeOf(() => budget.charge(session, 'ping'));
      };
      expect(await send()).toBe('passed');
      expect(await send()).toBe('RATE_LIMITED');
      clock.advance(1500);
      expect(await send()).toBe('passed');
      // A new streak: its own grace.
      expect(await send()).toBe('RATE_LIMITED');
      expect(await send()).toBe('RATE_LIMITED');
      expect(await send()).toBe('RATE_LIMITED');
      await turn();
      expect(terminated).toEqual([]);
    });
  });

  it('a penalty close waits for the acks already promised, and every one is answered first', async () => {
    const { budget, session, terminated } = setup(new InMemoryThrottlerStorage(), { ...rate, strikeGraceMs: 0, strikes: 0 });
    const answered: unknown[] = [];
    const event: unknown[] = ['ping', {}, (body: unknown) => answered.push(body)];
    budget.inbound.track(session, event);
    expect(budget.inbound.pending(session)).toBe(1);
    for (let i = 0; i < 10; i++) expect(await codeOf(() => budget.charge(session, 'ping'))).toBe('passed');
    expect(await codeOf(() => budget.charge(session, 'ping'))).toBe('RATE_LIMITED');
    await turn();
    await turn();
    expect(terminated).toEqual([]);
    (event[2] as (body: unknown) => void)({ ok: true });
    expect(answered).toEqual([{ ok: true }]);
    expect(budget.inbound.pending(session)).toBe(0);
    await turn();
    await turn();
    expect(terminated).toEqual(['RATE_LIMITED']);
  });
});
