import { Injectable } from '@nestjs/common';
import type { ExtendedError, Namespace, Server, Socket } from 'socket.io';
import {
  SecurityErrorCode,
  WsSecurityException,
  type AuthenticationRequest,
  type Principal,
  type RealtimeAuthenticator,
} from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { connect, connected, TRANSPORTS } from '../support/clients.js';
import { useProbeApp } from '../support/probe-app.js';
import { probeGateway } from '../support/probe.gateway.js';
import { RawEngineClient } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS.md case 28 for the authenticator (a throwing one refuses with SERVICE_UNAVAILABLE and
 * the process survives), and the app's own `server.use()` middlewares: they run after
 * authentication, see the principal, and a refusal (or a stall the client walks away from)
 * releases the connection slot.
 */

const SECRETISH = 'sk_live_0123456789abcdefABCDEF';

/** Behaves according to the credential's prefix; `ok:<user>` is a valid principal. */
@Injectable()
class ScriptedAuthenticator implements RealtimeAuthenticator {
  authenticate(request: AuthenticationRequest): Promise<Principal | null> {
    const [kind, user = 'alice'] = request.credential.split(':');
    switch (kind) {
      case 'ok':
        return Promise.resolve({ userId: user, tenantId: 'acme', permissions: [], expiresAt: Date.now() + 3_600_000 });
      case 'throw':
        return Promise.reject(new Error(`backend rejected ${request.credential} (${SECRETISH})`));
      case 'sync':
        throw new TypeError(`cannot read ${request.credential}`);
      case 'string':
        return Promise.reject(request.credential);
      case 'malformed':
        return Promise.resolve({ userId: 42, tenantId: 'acme' } as unknown as Principal);
      case 'expired-principal':
        return Promise.resolve({ userId: user, tenantId: 'acme', permissions: [], expiresAt: Date.now() - 1000 });
      case 'expired':
        return Promise.reject(new WsSecurityException(SecurityErrorCode.TOKEN_EXPIRED));
      default:
        return Promise.resolve(null);
    }
  }
}

describe('handshake: a custom authenticator that fails', () => {
  const logger = new CapturingLogger();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  // Registered before the app's hooks: on before it starts, off before it closes.
  beforeAll(() => { process.on('unhandledRejection', onUnhandled); });
  afterAll(() => { process.off('unhandledRejection', onUnhandled); });
  const { t, probe } = useProbeApp({ logger, security: { jwt: undefined, authenticator: ScriptedAuthenticator } });

  const CASES: Array<[string, string, string]> = [
    ['rejects with an Error', 'throw:eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl', 'SERVICE_UNAVAILABLE'],
    ['throws synchronously', 'sync:opaque-credential-0123456789', 'SERVICE_UNAVAILABLE'],
    ['rejects with a non-Error', 'string:opaque-credential-9876543210', 'SERVICE_UNAVAILABLE'],
    ['returns a malformed principal', 'malformed:x', 'SERVICE_UNAVAILABLE'],
    ['returns an already expired principal', 'expired-principal:alice', 'TOKEN_EXPIRED'],
    ['throws a coded WsSecurityException', 'expired:alice', 'TOKEN_EXPIRED'],
    ['returns null', 'nobody', 'UNAUTHORIZED'],
  ];

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it.each(CASES)('refuses when it %s (%s) with its code; the process keeps serving', async (_name, credential, code) => {
      const control = await connected(t.url, '/chat', { transports: [transport], auth: { token: 'ok:control' } });
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token: credential } });
      expect(outcome.connected).toBe(false);
      expect(outcome.error?.message).toBe('Connection refused');
      expect(outcome.error?.data).toEqual({ code });
      expect(probe.connections).toEqual(['/chat']); // the control client only
      await expect(control.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'control' });
      const after = await connect(t.url, '/chat', { transports: [transport], auth: { token: 'ok:after' } });
      expect(after.connected).toBe(true);
      expect(unhandled).toEqual([]);
    });
  });

  it.each(TRANSPORTS)('answers a refresh the authenticator fails on with SERVICE_UNAVAILABLE; the socket stays open (%s)', async (transport) => {
    const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: 'ok:alice' } });
    const credential = 'throw:refresh-credential-0123456789';
    await expect(socket.emitWithAck('auth:refresh', { token: credential })).resolves.toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
    await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'alice' });
    expect(logger.matching('token refresh failed').length).toBeGreaterThan(0);
    expect(logger.text()).not.toContain(credential);
    expect(logger.text()).not.toContain(SECRETISH);
  });

  it('logs an unexpected failure without the credential or anything token-like', async () => {
    const credential = 'throw:eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlMg';
    await connect(t.url, '/chat', { auth: { token: credential } });
    await waitFor('the failure to be logged', () => logger.matching('handshake step failed').length > 0);
    const text = logger.text();
    expect(logger.matching('authenticator').length).toBeGreaterThan(0);
    expect(text).not.toContain(credential);
    expect(text).not.toContain(credential.slice('throw:'.length));
    expect(text).not.toContain(SECRETISH);
  });
});

const seen: { principals: string[]; calls: number } = { principals: [], calls: 0 };

/** The app's middleware: records the principal; refuses, throws or stalls on request. */
function appMiddleware(socket: Socket, next: (err?: ExtendedError) => void): void {
  seen.calls += 1;
  const principal = (socket.data as { principal?: Principal }).principal;
  seen.principals.push(principal?.userId ?? '(none)');
  const mode = (socket.handshake.auth as { mode?: string }).mode;
  if (mode === 'deny') {
    const error: ExtendedError = new Error('Not in this room');
    error.data = { code: 'APP_DENIED' };
    next(error);
  } else if (mode === 'throw') {
    throw new Error('app middleware bug');
  } else if (mode !== 'stall') {
    next();
  }
}

describe('handshake: app middlewares registered with server.use() in afterInit', () => {
  const { t, probe } = useProbeApp({
    gateways: [probeGateway('/chat', {}, (server: Server | Namespace) => { server.use(appMiddleware); })],
    security: { connections: { maxPerUser: 1 } },
  });
  let lifecycle: ConnectionLifecycle;

  beforeAll(() => { lifecycle = t.app.get(ConnectionLifecycle); });
  beforeEach(() => {
    seen.principals.length = 0;
    seen.calls = 0;
  });
  afterEach(async () => {
    await RawEngineClient.closeAll();
    await waitFor('every slot to be released', () => lifecycle.connectionCount === 0);
  });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('runs after authentication, with the principal attached', async () => {
      const refused = await connect(t.url, '/chat', { transports: [transport], auth: { token: 'bad' } });
      expect(refused.error?.data).toEqual({ code: 'UNAUTHORIZED' });
      expect(seen.calls).toBe(0);
      const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'erin' }) } });
      expect(seen.principals).toEqual(['erin']);
      await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'erin' });
    });

    it("forwards the app's own refusal and releases the slot (maxPerUser 1: the user can connect right after)", async () => {
      const denied = await connect(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'erin' }), mode: 'deny' } });
      expect(denied.connected).toBe(false);
      expect(denied.error?.message).toBe('Not in this room');
      expect(denied.error?.data).toEqual({ code: 'APP_DENIED' });
      expect(probe.connections).toEqual([]);
      expect(lifecycle.connectionCount).toBe(0);
      await connected(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'erin' }) } });
    });

    it('turns a throwing app middleware into SERVICE_UNAVAILABLE and releases the slot', async () => {
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'erin' }), mode: 'throw' } });
      expect(outcome.error?.data).toEqual({ code: 'SERVICE_UNAVAILABLE' });
      expect(lifecycle.connectionCount).toBe(0);
      await connected(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'erin' }) } });
    });

    it('releases the slot of a client that leaves while an app middleware stalls', async () => {
      const raw = await RawEngineClient.open(t.url, { transport });
      await raw.send(`0/chat,${JSON.stringify({ token: signToken({ sub: 'erin' }), mode: 'stall' })}`);
      await waitFor('the middleware to be reached', () => seen.calls === 1);
      expect(lifecycle.connectionCount).toBe(1);
      await raw.close();
      await waitFor('the stalled handshake to release its slot', () => lifecycle.connectionCount === 0);
      await connected(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'erin' }) } });
    });
  });
});
