import { JwtAuthenticator } from '../../lib/auth/jwt.authenticator.js';
import { ClaimsPermissionResolver } from '../../lib/authorization/claims-permission.resolver.js';
import { InMemoryConnectionLeaseStore } from '../../lib/connections/in-memory-connection-lease.store.js';
import { RESOLVED_OPTIONS } from '../../lib/constants.js';
import { ConnectionLeaseStore, PermissionResolver, RealtimeAuthenticator, type AuthenticationRequest, type PermissionQuery } from '../../lib/index.js';
import type { ResolvedRealtimeSecurityOptions } from '../../lib/interfaces/resolved-options.interface.js';
import { connect, connected, TRANSPORTS } from '../support/clients.js';
import { SampleTarget } from './support/sample-target.js';

/** The detail each fault carries: it must stay in the server, never reach a client. */
const DETAIL = 'backend exploded at 10.0.0.7:5432';

/**
 * THREATS.md 28 against the sample app with faults injected into its own wiring: the real
 * authenticator, permission resolver and lease store, each made to throw for one user.
 * Variants: test/e2e/authorization.spec.ts, test/e2e/connection-limit.spec.ts,
 * test/e2e/presence-store-failures.spec.ts. Cluster faults (29-34): test/attacks/cluster.spec.ts.
 */
let target: SampleTarget;
beforeAll(async () => {
  target = await SampleTarget.start({
    override: [
      {
        provide: RealtimeAuthenticator,
        inject: [RESOLVED_OPTIONS],
        useFactory: (options: ResolvedRealtimeSecurityOptions) => {
          const real = new JwtAuthenticator(options.jwt as NonNullable<ResolvedRealtimeSecurityOptions['jwt']>);
          return {
            async authenticate(request: AuthenticationRequest) {
              const principal = await real.authenticate(request);
              if (principal?.userId === 'auth-boom') throw new Error(DETAIL);
              return principal;
            },
          };
        },
      },
      {
        provide: PermissionResolver,
        useFactory: () => {
          const real = new ClaimsPermissionResolver();
          return {
            isAllowed(query: PermissionQuery) {
              if (query.principal.userId === 'resolver-boom') throw new Error(DETAIL);
              return real.isAllowed(query);
            },
          };
        },
      },
      {
        provide: ConnectionLeaseStore,
        useFactory: () => {
          const real = new InMemoryConnectionLeaseStore();
          return {
            acquire: (userKey: string, leaseId: string, max: number) => (userKey.includes('lease-boom') ? Promise.reject(new Error(DETAIL)) : real.acquire(userKey, leaseId, max)),
            release: (userKey: string, leaseId: string) => real.release(userKey, leaseId),
            count: (userKey: string) => real.count(userKey),
          };
        },
      },
    ],
  });
});
afterEach(async () => { await target.assertUnharmed(); });
afterAll(async () => { await target.close(); });

describe('THREATS 28 — exceptions thrown by an authenticator, resolver or store', () => {
  it.each(TRANSPORTS)('an authenticator that throws refuses the handshake with SERVICE_UNAVAILABLE; the detail stays in the server (%s)', async (transport) => {
    const outcome = await connect(target.url, '/chat', { transports: [transport], auth: { token: target.token('auth-boom') } });
    expect(outcome.connected).toBe(false);
    expect(outcome.error?.data?.code).toBe('SERVICE_UNAVAILABLE');
    expect(JSON.stringify({ message: outcome.error?.message, data: outcome.error?.data })).not.toContain('10.0.0.7');
    expect((await target.presence('auth-boom')).connections).toBe(0);
  });

  it.each(TRANSPORTS)('a lease store that throws refuses with SERVICE_UNAVAILABLE and leaks no slot (%s)', async (transport) => {
    const outcome = await connect(target.url, '/chat', { transports: [transport], auth: { token: target.token('lease-boom') } });
    expect(outcome.error?.data?.code).toBe('SERVICE_UNAVAILABLE');
    expect(JSON.stringify(outcome.error?.data)).not.toContain('10.0.0.7');
    expect((await target.presence('lease-boom')).connections).toBe(0);
  });

  it.each(TRANSPORTS)('a resolver that throws answers INTERNAL with a generic message; the socket and the process go on (%s)', async (transport) => {
    const socket = await connected(target.url, '/chat', { transports: [transport], auth: { token: target.token('resolver-boom') } });
    for (const [event, body] of [['channel:join', { channelId: 'general' }], ['presence:list', {}]] as const) {
      const answer = (await socket.timeout(5000).emitWithAck(event, body)) as { error?: { code: string; message: string } };
      expect(answer.error?.code).toBe('INTERNAL');
      expect(JSON.stringify(answer)).not.toMatch(/10\.0\.0\.7|at .*\.js|Error:/);
    }
    // The public handler (no resolver involved) still answers on the same socket.
    expect(await socket.emitWithAck('channel:leave', { channelId: 'general' })).toEqual({ error: { code: 'NOT_FOUND', message: 'Not found' } });
    expect(target.logger.text()).toContain('resolver');
  });
});
