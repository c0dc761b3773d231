import type { OriginEnforcement } from '../../lib/index.js';
import { connect, TRANSPORTS } from '../support/clients.js';
import { useProbeApp } from '../support/probe-app.js';
import { RAW_TRANSPORTS, RawEngineClient, RawHandshakeRefused, type RawTransport } from '../support/raw-engine.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';

/**
 * THREATS.md case 6, cross-site WebSocket hijacking: browsers send cookies with a WebSocket
 * handshake from any page and apply no CORS to it, so a cookie-authenticated handshake is
 * accepted only from an exactly allowed Origin. A refusal is HTTP 403 at the engine or
 * `connect_error` `ORIGIN_REJECTED`, before any handler runs.
 */

const ALLOWED = 'http://app.example.test';
const ALLOWED_TLS = 'https://app.example.test:8443';
const COOKIE = 'rt_session';

const FOREIGN_ORIGINS: Array<[string, string]> = [
  ['a foreign site', 'http://evil.test'],
  ["'null' (sandboxed frame, file://)", 'null'],
  ['a suffix trick', 'http://app.example.test.evil.test'],
  ['a prefix trick', 'http://evilapp.example.test'],
  ['the allowed host as a subdomain label', 'http://app.example.test-evil.test'],
  ['userinfo before a foreign host', 'http://app.example.test@evil.test'],
  ['userinfo with a port', 'http://app.example.test:80@evil.test'],
  ['the allowed origin in the query', 'http://evil.test/?http://app.example.test'],
  ['the allowed origin in the fragment', 'http://evil.test#http://app.example.test'],
  ['the allowed origin as a path', 'http://evil.test/app.example.test'],
  ['an uppercase variant', 'HTTP://APP.EXAMPLE.TEST'],
  ['a mixed-case host', 'http://App.Example.Test'],
  ['a trailing dot', 'http://app.example.test.'],
  ['a trailing slash', 'http://app.example.test/'],
  ['a path', 'http://app.example.test/app'],
  ['an explicit default port', 'http://app.example.test:80'],
  ['another port', 'http://app.example.test:8080'],
  ['another scheme', 'https://app.example.test'],
  ['the TLS origin without its port', 'https://app.example.test'],
  ['a websocket scheme', 'ws://app.example.test'],
  ['a list of origins', `${ALLOWED}, http://evil.test`],
  ['a wildcard', 'http://*.example.test'],
  ['a browser extension', 'chrome-extension://abcdefghijklmnop'],
  ['a file origin', 'file://'],
  ['the loopback address', 'http://127.0.0.1'],
];

function cookieFor(sub = 'alice'): string {
  return `theme=dark; ${COOKIE}=${signToken({ sub })}; other=1`;
}

/**
 * Opens a raw connection and connects to /chat. Resolves with 'connected' or the refusal code,
 * whether the engine refused the HTTP request (403 for polling, 400 for an upgrade, the code in
 * the body) or the namespace sent `connect_error`.
 */
async function rawOutcome(url: string, transport: RawTransport, headers: Record<string, string>, auth?: Record<string, unknown>): Promise<string> {
  const raw = await RawEngineClient.attempt(url, { transport, headers });
  if (raw instanceof RawHandshakeRefused) {
    const code = /ORIGIN_REJECTED/.exec(raw.body)?.[0] ?? 'unknown';
    return [403, 400].includes(raw.status) ? code : `http-${raw.status}:${code}`;
  }
  const answer = await raw.connect('/chat', auth);
  return answer.type === 0 ? 'connected' : String((answer.data as { data?: { code?: string } }).data?.code);
}

describe('handshake: Origin with cookie authentication (enforce: cookie)', () => {
  const { t, probe } = useProbeApp({ security: { credentials: { cookieName: COOKIE }, origins: { allowed: [ALLOWED, ALLOWED_TLS] } } });
  afterEach(() => RawEngineClient.closeAll());

  describe.each(RAW_TRANSPORTS)('raw %s', (transport) => {
    it.each([ALLOWED, ALLOWED_TLS])('accepts the cookie from the allowed origin %s', async (origin) => {
      expect(await rawOutcome(t.url, transport, { origin, cookie: cookieFor() })).toBe('connected');
      expect(probe.connectionsOn('/chat')).toBe(1);
    });

    it.each(FOREIGN_ORIGINS)('refuses the cookie from %s before any handler runs', async (_name, origin) => {
      const outcome = await rawOutcome(t.url, transport, { origin, cookie: cookieFor() });
      expect(outcome).toBe('ORIGIN_REJECTED');
      expect(probe.connections).toEqual([]);
      expect(probe.calls).toEqual([]);
    });

    it('refuses the cookie with no Origin header at all', async () => {
      const outcome = await rawOutcome(t.url, transport, { cookie: cookieFor() });
      expect(outcome).toBe('ORIGIN_REJECTED');
      expect(probe.connections).toEqual([]);
    });

    it('refuses the cookie from a foreign origin even beside a valid auth token', async () => {
      const outcome = await rawOutcome(t.url, transport, { origin: 'http://evil.test', cookie: cookieFor() }, { token: signToken() });
      expect(outcome).toBe('ORIGIN_REJECTED');
      expect(probe.connections).toEqual([]);
    });

    it('accepts a token (not ambient, so not hijackable) from any origin when enforce is cookie', async () => {
      expect(await rawOutcome(t.url, transport, { origin: 'http://evil.test' }, { token: signToken() })).toBe('connected');
    });
  });

  it('a cookie that first appears on the websocket upgrade of a cookie-less polling session is no credential', async () => {
    // A foreign page polls without credentials (no cookie: the engine gate has nothing to check),
    // then upgrades; the browser adds the cookie to the upgrade. The handshake reads the first request's headers.
    const raw = await RawEngineClient.open(t.url, { transport: 'polling', headers: { origin: 'http://evil.test' } });
    await raw.upgrade({ origin: 'http://evil.test', cookie: cookieFor() });
    const answer = await raw.connect('/chat');
    expect(answer.data).toEqual({ message: 'Connection refused', data: { code: 'UNAUTHORIZED' } });
    expect(probe.connections).toEqual([]);
  });

  describe.each(TRANSPORTS)('socket.io-client over %s (extraHeaders)', (transport) => {
    it('connects with the cookie from the allowed origin, as the cookie user', async () => {
      const outcome = await connect(t.url, '/chat', { transports: [transport], extraHeaders: { Origin: ALLOWED, Cookie: cookieFor('carol') } });
      expect(outcome.error?.message).toBeUndefined();
      expect(outcome.connected).toBe(true);
      await expect(outcome.socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'carol' });
    });

    it.each([['a foreign site', 'http://evil.test'], ['null', 'null'], ['a suffix trick', 'http://app.example.test.evil.test']])(
      'is refused with the cookie from %s',
      async (_name, origin) => {
        const outcome = await connect(t.url, '/chat', { transports: [transport], extraHeaders: { Origin: origin, Cookie: cookieFor() } });
        expect(outcome.connected).toBe(false);
        expect(probe.connections).toEqual([]);
      },
    );
  });
});

describe.each<[OriginEnforcement, string, string]>([
  ['browser', 'refuses a token from a foreign origin, accepts one with no Origin', 'connected'],
  ['always', 'refuses a token from a foreign origin and one with no Origin', 'ORIGIN_REJECTED'],
])('handshake: Origin with token authentication (enforce: %s)', (enforce, _title, noOrigin) => {
  const { t, probe } = useProbeApp({ security: { jwt: { secret: TEST_SECRET }, origins: { allowed: [ALLOWED], enforce } } });
  afterEach(() => RawEngineClient.closeAll());

  describe.each(RAW_TRANSPORTS)('raw %s', (transport) => {
    it('accepts a token from the allowed origin', async () => {
      expect(await rawOutcome(t.url, transport, { origin: ALLOWED }, { token: signToken() })).toBe('connected');
    });

    it.each(FOREIGN_ORIGINS)('refuses a token from %s', async (_name, origin) => {
      const outcome = await rawOutcome(t.url, transport, { origin }, { token: signToken() });
      expect(outcome).toBe('ORIGIN_REJECTED');
      expect(probe.connections).toEqual([]);
    });

    it(`treats a token with no Origin as ${noOrigin}`, async () => {
      const outcome = await rawOutcome(t.url, transport, {}, { token: signToken() });
      expect(outcome).toBe(noOrigin === 'connected' ? 'connected' : 'ORIGIN_REJECTED');
    });
  });
});
