import type { ExecutionContext } from '@nestjs/common';
import type { Socket } from 'socket.io';
import {
  ClaimsPermissionResolver,
  SecurityErrorCode,
  WsAuthorizationGuard,
  WsAuthorize,
  type ModerationService,
  type PermissionQuery,
  type PermissionResolver,
  type Principal,
  type SecurityEventsService,
} from '../../lib/index.js';
import { ConnectionSession } from '../../lib/connections/connection-session.js';
import { type ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { attachSession, type ConnectionLease } from '../../lib/connections/connection-session.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { codeOf } from '../support/outcome.js';
import { TEST_SECRET } from '../support/tokens.js';

class Gateway {
  @WsAuthorize('channel:read', { resource: 'channelId' })
  join() {}
}

const principal = (permissions: string[], expiresAt = Date.now() + 60_000): Principal => Object.freeze({ userId: 'u', tenantId: 't', permissions, expiresAt });

/** The guard with fakes around it: one open session, a ban list, an expiry flag, a resolver. */
function setup(resolver: PermissionResolver = new ClaimsPermissionResolver()) {
  const socket = { data: {}, nsp: { name: '/chat' } } as unknown as Socket;
  const lease = { id: 'l', userKey: 't/u', userId: 'u', tenantId: 't', granted: Promise.resolve(true), refs: 1, opened: true, released: false } as ConnectionLease;
  const session = new ConnectionSession(socket, principal(['channel:read']), lease, null);
  session.state = 'open';
  attachSession(socket, session);
  const state = { banned: false, expired: false, terminated: [] as string[], events: [] as string[] };
  const lifecycle = {
    isExpired: () => state.expired,
    terminate: (s: ConnectionSession, code: string) => { s.state = 'closed'; state.terminated.push(code); },
    sessionsOf: () => (session.state === 'open' ? [session] : []),
    holds: (s: ConnectionSession) => s === session && session.state === 'open',
  } as unknown as ConnectionLifecycle;
  const moderation = { isBanned: () => state.banned } as unknown as ModerationService;
  const events = { emit: (e: { kind: string }) => state.events.push(e.kind) } as unknown as SecurityEventsService;
  const guard = new WsAuthorizationGuard(resolveOptions({ jwt: { secret: TEST_SECRET } }), resolver, moderation, lifecycle, events);
  const context = (data: unknown): ExecutionContext => ({
    getType: () => 'ws',
    switchToWs: () => ({ getClient: () => socket, getData: () => data, getPattern: () => 'channel:join' }),
    getArgs: () => [socket, data, 'channel:join'],
    getArgByIndex: (i: number) => [socket, data, 'channel:join'][i],
    getHandler: () => Gateway.prototype.join,
    getClass: () => Gateway,
  }) as unknown as ExecutionContext;
  return { guard, session, state, context, socket };
}


describe('WsAuthorizationGuard, per message', () => {
  it('allows a covered permission', async () => {
    const { guard, context } = setup();
    expect(await codeOf(() => guard.canActivate(context({ channelId: 'general' })))).toBe('passed');
  });

  it('answers synchronously with a synchronous resolver (no promise per message), and through a promise with an async one', async () => {
    const { guard, context } = setup();
    expect(guard.canActivate(context({ channelId: 'general' }))).toBe(true);
    const { guard: asyncGuard, context: asyncContext } = setup({ isAllowed: async () => true });
    const answer = asyncGuard.canActivate(asyncContext({ channelId: 'general' }));
    expect(answer).toBeInstanceOf(Promise);
    await expect(answer).resolves.toBe(true);
  });

  it('refuses a banned user with BANNED and closes the socket, whatever the handler', async () => {
    const { guard, context, state } = setup();
    state.banned = true;
    expect(await codeOf(() => guard.canActivate(context({ channelId: 'general' })))).toBe(SecurityErrorCode.BANNED);
    expect(state.terminated).toEqual(['BANNED']);
    expect(state.events).toEqual(['banned']);
  });

  it('refuses an expired token with TOKEN_EXPIRED and closes the socket', async () => {
    const { guard, context, state } = setup();
    state.expired = true;
    expect(await codeOf(() => guard.canActivate(context({ channelId: 'general' })))).toBe(SecurityErrorCode.TOKEN_EXPIRED);
    expect(state.terminated).toEqual(['TOKEN_EXPIRED']);
  });

  it('refuses a closed session with UNAUTHORIZED', async () => {
    const { guard, context, session } = setup();
    session.state = 'closed';
    expect(await codeOf(() => guard.canActivate(context({ channelId: 'general' })))).toBe(SecurityErrorCode.UNAUTHORIZED);
  });

  it('re-asks when the permissions change while the resolver answers', async () => {
    let answered = 0;
    const slow: PermissionResolver = {
      async isAllowed(query: PermissionQuery) {
        const verdict = new ClaimsPermissionResolver().isAllowed(query);
        answered += 1;
        await new Promise((resolve) => setImmediate(resolve));
        return verdict;
      },
    };
    const { guard, context, session } = setup(slow);
    const pending = guard.canActivate(context({ channelId: 'general' }));
    // The permission is removed after the resolver read the old principal.
    session.principal = principal([]);
    expect(await codeOf(() => pending)).toBe(SecurityErrorCode.FORBIDDEN);
    expect(answered).toBe(2);
  });

  it('refuses a session that closed while the resolver answered', async () => {
    const { guard, context, session } = setup({ isAllowed: async () => { session.state = 'closed'; return true; } });
    expect(await codeOf(() => guard.canActivate(context({ channelId: 'general' })))).toBe(SecurityErrorCode.UNAUTHORIZED);
  });

  it('is for gateways only', async () => {
    const { guard } = setup();
    const http = { getType: () => 'http' } as unknown as ExecutionContext;
    expect(await codeOf(() => guard.canActivate(http))).toMatch(/WebSocket gateway handlers only/);
  });
});
