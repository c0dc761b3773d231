import type { Socket as ClientSocket } from 'socket.io-client';
import type { AuthenticationRequest, Principal, RealtimeAuthenticator } from '../../lib/index.js';
import { connected, TRANSPORTS } from '../support/clients.js';
import { useProbeApp } from '../support/probe-app.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';

/**
 * THREATS.md case 4: a token that expires while connected. The socket gets an `exception`
 * `TOKEN_EXPIRED` and is closed within expiry + grace (+1 s timer resolution); no emit after the
 * deadline is handled; `auth:refresh` in time keeps it open. Tests wait for the disconnect event.
 */

/** Slack for event-loop and network delay on top of the documented bound. */
const SLACK_MS = 500;
const RESOLUTION_MS = 1000;

interface Closed {
  at: number;
  reason: string;
  exceptions: unknown[];
}

/** Resolves when the socket disconnects, with the time and every `exception` received before. */
function watchClose(socket: ClientSocket): Promise<Closed> {
  const exceptions: unknown[] = [];
  socket.on('exception', (body: unknown) => exceptions.push(body));
  return new Promise((resolve) => socket.once('disconnect', (reason) => resolve({ at: Date.now(), reason, exceptions })));
}

/** A token whose `exp` is `seconds` ahead, and its deadline in ms. */
function shortToken(seconds: number, claims: Record<string, unknown> = {}): { token: string; exp: number } {
  const token = signToken(claims, { expiresInSeconds: seconds });
  const exp = (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { exp: number }).exp;
  return { token, exp: exp * 1000 };
}

const EXPIRED_BODY = { error: { code: 'TOKEN_EXPIRED', message: 'Token expired' } };

describe.each([0, 1])('token lifetime with %i s grace (no clock tolerance)', (graceSeconds) => {
  const graceMs = graceSeconds * 1000;
  const { t, probe } = useProbeApp({ security: { jwt: { secret: TEST_SECRET, clockToleranceSeconds: 0 }, tokens: { graceSeconds } } });

  it.each(TRANSPORTS)('closes the socket with TOKEN_EXPIRED within exp + grace (+1 s) over %s', async (transport) => {
    const { token, exp } = shortToken(2);
    const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token } });
    const closed = watchClose(socket);
    await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true });
    const { at, reason, exceptions } = await closed;
    const deadline = exp + graceMs;
    expect(at).toBeGreaterThanOrEqual(deadline);
    expect(at).toBeLessThan(deadline + RESOLUTION_MS + SLACK_MS);
    expect(reason).toBe('io server disconnect');
    expect(exceptions).toEqual([EXPIRED_BODY]);
    expect(probe.callsOn('/chat')).toBe(1);
    for (const call of probe.calls) expect(call.at).toBeLessThan(deadline);
  });

  it.each(TRANSPORTS)('auth:refresh for the same subject keeps the socket open past the old expiry over %s', async (transport) => {
    const first = shortToken(2);
    // A witness with the same expiry and no refresh: its close shows the old deadline has been enforced.
    const witness = await connected(t.url, '/chat', { transports: [transport], auth: { token: shortToken(2, { sub: 'witness' }).token } });
    const witnessClosed = watchClose(witness);
    const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: first.token } });
    let closedEarly = false;
    socket.once('disconnect', () => { closedEarly = true; });
    const renewed = shortToken(3600);
    await expect(socket.emitWithAck('auth:refresh', { token: renewed.token })).resolves.toEqual({ ok: true, expiresAt: renewed.exp });
    const { at } = await witnessClosed;
    expect(at).toBeGreaterThanOrEqual(first.exp + graceMs);
    await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'alice' });
    expect(closedEarly).toBe(false);
    expect(socket.connected).toBe(true);
  });

  const REFUSED_REFRESHES: Array<[string, (sub: string) => unknown, string]> = [
    ['a token for another subject', () => ({ token: signToken({ sub: 'mallory' }) }), 'UNAUTHORIZED'],
    ['a token for the same user id in another tenant', (sub) => ({ token: signToken({ sub, tenant: 'globex' }) }), 'UNAUTHORIZED'],
    ['an expired token', (sub) => ({ token: signToken({ sub }, { expiresInSeconds: -60 }) }), 'TOKEN_EXPIRED'],
    ['a forged token', (sub) => ({ token: signToken({ sub }, { secret: 'not-the-secret-not-the-secret-not-the-secret' }) }), 'UNAUTHORIZED'],
    ['no token', () => ({}), 'VALIDATION_FAILED'],
    ['a non-string token', () => ({ token: 42 }), 'VALIDATION_FAILED'],
  ];

  it.each(TRANSPORTS)('refuses bad refreshes (another subject or tenant, expired, forged, malformed) and keeps the old expiry over %s', async (transport) => {
    await Promise.all(REFUSED_REFRESHES.map(async ([name, payload, code], i) => {
      const sub = `user-${i}`;
      const { token, exp } = shortToken(2, { sub });
      const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token } });
      const closed = watchClose(socket);
      const ack = (await socket.emitWithAck('auth:refresh', payload(sub))) as { error?: { code?: string } };
      expect({ name, code: ack.error?.code }).toEqual({ name, code });
      expect(JSON.stringify(ack)).not.toContain('mallory');
      const { at, exceptions } = await closed;
      expect(at).toBeGreaterThanOrEqual(exp + graceMs);
      expect(at).toBeLessThan(exp + graceMs + RESOLUTION_MS + SLACK_MS);
      expect(exceptions).toEqual([EXPIRED_BODY]);
    }));
  });
});

/**
 * Millisecond deadlines (a JWT's are whole seconds, on a timer boundary): credential
 * `"<user>:<expiresAtMs>"`. Lets a test emit after the deadline but before the timer's close.
 */
class MillisecondAuthenticator implements RealtimeAuthenticator {
  async authenticate(request: AuthenticationRequest): Promise<Principal | null> {
    const [userId, expiresAt] = request.credential.split(':');
    if (userId === undefined || expiresAt === undefined) return null;
    return { userId, tenantId: 'acme', permissions: [], expiresAt: Number(expiresAt) };
  }
}

describe('token lifetime: an emit after the deadline', () => {
  const { t, probe } = useProbeApp({ security: { jwt: undefined, authenticator: new MillisecondAuthenticator() } });

  it.each(TRANSPORTS)('is refused with TOKEN_EXPIRED and never handled, before the expiry timer fires (%s)', async (transport) => {
    // A deadline 600 ms past a second boundary: the shared timer closes the socket at the next
    // boundary, 400 ms later. An emit 50 ms after the deadline falls in that window.
    const boundary = (Math.floor(Date.now() / RESOLUTION_MS) + 2) * RESOLUTION_MS;
    const deadline = boundary + 600;
    const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: `alice:${deadline}` } });
    const closed = watchClose(socket);
    await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true });
    // Scheduling the probe emit at a point in time is what this test is about (not a wait for state).
    const ack = await new Promise<unknown>((resolve) => {
      setTimeout(() => resolve(socket.timeout(5000).emitWithAck('ev', {}).catch((error: unknown) => error)), deadline + 50 - Date.now());
    });
    expect(ack).toEqual(EXPIRED_BODY);
    const { at } = await closed;
    expect(at).toBeGreaterThanOrEqual(deadline);
    expect(probe.calls).toHaveLength(1);
    expect(probe.calls[0]?.at).toBeLessThan(deadline);
  });

  it.each(TRANSPORTS)('a socket whose deadline passes while idle is closed at the next timer boundary (%s)', async (transport) => {
    const deadline = (Math.floor(Date.now() / RESOLUTION_MS) + 2) * RESOLUTION_MS + 300;
    const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: `alice:${deadline}` } });
    const { at, exceptions } = await watchClose(socket);
    expect(at).toBeGreaterThanOrEqual(deadline);
    expect(at).toBeLessThan(deadline + RESOLUTION_MS + SLACK_MS);
    expect(exceptions).toEqual([EXPIRED_BODY]);
  });
});
