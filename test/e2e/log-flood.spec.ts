import { Injectable } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { AuthenticationRequest, ConnectionLeaseStore, Principal, RealtimeAuthenticator } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { closeAllClients, connect, connected, TRANSPORTS } from '../support/clients.js';
import { Probe, probeGateway } from '../support/probe.gateway.js';
import { signToken } from '../support/tokens.js';

/**
 * A backend that is down fails every handshake or message: the log gets one line for the outage,
 * not one per refusal (each failure site writes at most one line per key per 10 s).
 */

const FAILURES = 100;
const BATCH = 10;

/** `ok:<user>` is a valid principal; anything else fails as a backend outage would. */
@Injectable()
class DownAuthenticator implements RealtimeAuthenticator {
  authenticate(request: AuthenticationRequest): Promise<Principal | null> {
    const [kind, user = 'alice'] = request.credential.split(':');
    if (kind === 'ok') return Promise.resolve({ userId: user, tenantId: 'acme', permissions: [], expiresAt: Date.now() + 3_600_000 });
    return Promise.reject(new Error('authentication backend unreachable'));
  }
}

/** Runs `attempt` FAILURES times, BATCH at a time, alternating transports. */
async function provoke(attempt: (transport: 'polling' | 'websocket') => Promise<void>): Promise<void> {
  for (let i = 0; i < FAILURES; i += BATCH) {
    await Promise.all(Array.from({ length: BATCH }, (_, j) => attempt(TRANSPORTS[(i + j) % TRANSPORTS.length] ?? 'websocket')));
  }
}

describe('log flood: a failing authenticator', () => {
  const logger = new CapturingLogger();
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ gateways: [probeGateway('/chat')], providers: [Probe], logger, security: { jwt: undefined, authenticator: DownAuthenticator } });
  });
  afterEach(() => closeAllClients());
  afterAll(() => t.close());

  it(`logs one line for ${FAILURES} refused handshakes, each still refused with SERVICE_UNAVAILABLE`, async () => {
    const codes: Array<string | undefined> = [];
    await provoke(async (transport) => {
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token: 'down:bob' } });
      codes.push(outcome.error?.data?.code);
      outcome.socket.disconnect();
    });
    expect(codes).toEqual(Array.from({ length: FAILURES }, () => 'SERVICE_UNAVAILABLE'));
    expect(logger.matching('handshake step failed')).toHaveLength(1);
  });

  it(`logs one line for ${FAILURES} failed in-band refreshes`, async () => {
    const socket = await connected(t.url, '/chat', { auth: { token: 'ok:alice' } });
    for (let i = 0; i < FAILURES; i++) {
      await expect(socket.emitWithAck('auth:refresh', { token: 'down:alice' })).resolves.toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
    }
    expect(logger.matching('token refresh failed')).toHaveLength(1);
  });
});

describe('log flood: a failing message rate storage', () => {
  const logger = new CapturingLogger();
  const storage: ThrottlerStorage = { increment: () => Promise.reject(new Error('rate storage unreachable')) };
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ gateways: [probeGateway('/chat')], providers: [Probe], logger, security: { rateLimit: { storage } } });
  });
  afterEach(() => closeAllClients());
  afterAll(() => t.close());

  it(`logs one line for ${FAILURES} refused messages`, async () => {
    const socket = await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'alice', tenant: 'acme' }) } });
    for (let i = 0; i < FAILURES; i++) {
      await expect(socket.emitWithAck('ev', { i })).resolves.toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
    }
    expect(socket.connected).toBe(true);
    expect(logger.matching('message rate storage failed')).toHaveLength(1);
  });
});

describe('log flood: a failing connection lease store', () => {
  const logger = new CapturingLogger();
  const store: ConnectionLeaseStore = {
    acquire: () => Promise.reject(new Error('lease store unreachable')),
    release: () => Promise.resolve(),
    count: () => Promise.resolve(0),
  };
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ gateways: [probeGateway('/chat')], providers: [Probe], logger, security: { connections: { store } } });
  });
  afterEach(() => closeAllClients());
  afterAll(() => t.close());

  it(`logs one line for ${FAILURES} handshakes refused at admission`, async () => {
    const token = signToken({ sub: 'alice', tenant: 'acme' });
    const codes: Array<string | undefined> = [];
    await provoke(async (transport) => {
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token } });
      codes.push(outcome.error?.data?.code);
      outcome.socket.disconnect();
    });
    expect(codes).toEqual(Array.from({ length: FAILURES }, () => 'SERVICE_UNAVAILABLE'));
    expect(logger.matching('connection lease store failed on acquire')).toHaveLength(1);
  });
});
