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

function setup(storage: WsThrottlerStorage) {
  const socket = { data: {}, nsp: { name: '/chat' } } as unknown as Socket;
  const lease = { id: 'l', userKey: 't/u', userId: 'u', tenantId: 't', granted: Promise.resolve(true), refs: 1, opened: true, released: false } as ConnectionLease;
  const principal = Object.freeze({ userId: 'u', tenantId: 't', permissions: Object.freeze([]), expiresAt: Date.now() + 60_000 });
  const session = new ConnectionSession(socket, principal, lease, null);
  const lifecycle = { terminate: () => undefined } as unknown as ConnectionLifecycle;
  const events = { emit: () => undefined } as unknown as SecurityEventsService;
  const budget = new UserMessageBudget(resolveOptions({ jwt: { secret: TEST_SECRET }, rateLimit: { messageLimit: 1, messageWindowMs: 60_000 } }), storage, lifecycle, events);
  return { budget, session };
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
