import { generateKeyPairSync } from 'node:crypto';
import { InvalidRealtimeSecurityOptionsError, type RealtimeSecurityOptions } from '../../lib/index.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { TEST_SECRET } from '../support/tokens.js';

/**
 * Every start-up rule of `options.validator.ts`: a bad value fails with
 * `InvalidRealtimeSecurityOptionsError` naming the option (and saying what to do); good values
 * resolve with their defaults.
 */

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const JWT = { secret: TEST_SECRET };
const authenticator = { authenticate: async () => null };

/** Options that must fail, the option the message must name, and (optionally) a word of the fix. */
type Bad = [string, unknown, string];

function expectInvalid(options: unknown, option: string): void {
  let error: unknown;
  try {
    resolveOptions(options as RealtimeSecurityOptions);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(InvalidRealtimeSecurityOptionsError);
  const invalid = error as InvalidRealtimeSecurityOptionsError;
  expect(invalid.option).toBe(option);
  expect(invalid.message).toContain(`\`${option}\``);
  // The message says what to do, not only what is wrong: a sentence after the problem.
  expect(invalid.message.split('. ').length).toBeGreaterThanOrEqual(2);
}

describe('options validation', () => {
  describe('the options object and the JWT verifier', () => {
    const BAD: Bad[] = [
      ['no options at all', undefined, 'options'],
      ['null options', null, 'options'],
      ['a string for options', 'secret', 'options'],
      ['no jwt and no authenticator (no key/secret)', {}, 'jwt'],
      ['an empty secret', { jwt: { secret: '' } }, 'jwt.secret'],
      ['an empty Buffer secret', { jwt: { secret: Buffer.alloc(0) } }, 'jwt.secret'],
      ['a 31-byte secret (brute-forceable)', { jwt: { secret: 'x'.repeat(31) } }, 'jwt.secret'],
      ['a 16-byte Buffer secret', { jwt: { secret: Buffer.alloc(16, 1) } }, 'jwt.secret'],
      ['a numeric secret', { jwt: { secret: 1234567890 } }, 'jwt.secret'],
      ['HS256 with only a public key', { jwt: { publicKey } }, 'jwt.secret'],
      ['RS256 with no public key', { jwt: { secret: TEST_SECRET, algorithms: ['RS256'] } }, 'jwt.publicKey'],
      ['RS256 with an empty public key', { jwt: { publicKey: '', algorithms: ['RS256'] } }, 'jwt.publicKey'],
      ['an empty algorithm list', { jwt: { ...JWT, algorithms: [] } }, 'jwt.algorithms'],
      ['algorithms not an array', { jwt: { ...JWT, algorithms: 'HS256' } }, 'jwt.algorithms'],
      ["'none'", { jwt: { ...JWT, algorithms: ['none'] } }, 'jwt.algorithms'],
      ["'NONE' beside HS256", { jwt: { ...JWT, algorithms: ['HS256', 'NONE'] } }, 'jwt.algorithms'],
      ['an unknown algorithm', { jwt: { ...JWT, algorithms: ['HS1'] } }, 'jwt.algorithms'],
      ['a lower-case algorithm name', { jwt: { ...JWT, algorithms: ['hs256'] } }, 'jwt.algorithms'],
      ['mixed HMAC and public-key algorithms', { jwt: { secret: TEST_SECRET, publicKey, algorithms: ['HS256', 'RS256'] } }, 'jwt.algorithms'],
      ['mixed HMAC and ECDSA', { jwt: { secret: TEST_SECRET, publicKey, algorithms: ['ES256', 'HS512'] } }, 'jwt.algorithms'],
      ['a leeway over 300 s', { jwt: { ...JWT, clockToleranceSeconds: 301 } }, 'jwt.clockToleranceSeconds'],
      ['a negative leeway', { jwt: { ...JWT, clockToleranceSeconds: -1 } }, 'jwt.clockToleranceSeconds'],
      ['a fractional leeway', { jwt: { ...JWT, clockToleranceSeconds: 0.5 } }, 'jwt.clockToleranceSeconds'],
      ['a string leeway', { jwt: { ...JWT, clockToleranceSeconds: '5' } }, 'jwt.clockToleranceSeconds'],
      ['an infinite leeway', { jwt: { ...JWT, clockToleranceSeconds: Infinity } }, 'jwt.clockToleranceSeconds'],
      ['an empty issuer list', { jwt: { ...JWT, issuer: [] } }, 'jwt.issuer'],
      ['an issuer string instead of a list', { jwt: { ...JWT, issuer: 'https://issuer' } }, 'jwt.issuer'],
      ['an empty issuer entry', { jwt: { ...JWT, issuer: [''] } }, 'jwt.issuer'],
      ['an empty audience list', { jwt: { ...JWT, audience: [] } }, 'jwt.audience'],
      ['a non-string audience entry', { jwt: { ...JWT, audience: [1] } }, 'jwt.audience'],
      ['an empty tenant claim name', { jwt: { ...JWT, tenantClaim: '' } }, 'jwt.tenantClaim'],
      ['an empty permissions claim name', { jwt: { ...JWT, permissionsClaim: '' } }, 'jwt.permissionsClaim'],
      ['an authenticator with no authenticate()', { authenticator: {} }, 'authenticator'],
    ];
    it.each(BAD)('refuses %s', (_name, options, option) => expectInvalid(options, option));

    it('pins HS256 with a 5 s leeway by default, and keeps only the key of the pinned family', () => {
      const resolved = resolveOptions({ jwt: { secret: TEST_SECRET, publicKey } });
      expect(resolved.jwt).toMatchObject({ algorithms: ['HS256'], clockToleranceSeconds: 5, tenantClaim: 'tenant', permissionsClaim: 'perms' });
      expect(resolved.jwt?.secret).toBe(TEST_SECRET);
      expect(resolved.jwt?.publicKey).toBeUndefined();
      const rs = resolveOptions({ jwt: { secret: TEST_SECRET, publicKey, algorithms: ['RS256', 'PS256', 'ES256'] } });
      expect(rs.jwt?.secret).toBeUndefined();
      expect(rs.jwt?.publicKey).toBe(publicKey);
    });

    it('accepts a 32-byte secret, as a string or a Buffer', () => {
      expect(resolveOptions({ jwt: { secret: 'k'.repeat(32) } }).jwt?.secret).toBe('k'.repeat(32));
      expect(() => resolveOptions({ jwt: { secret: Buffer.alloc(32, 7) } })).not.toThrow();
    });

    it.each([0, 300])('accepts a leeway of %i s', (clockToleranceSeconds) => {
      expect(resolveOptions({ jwt: { ...JWT, clockToleranceSeconds } }).jwt?.clockToleranceSeconds).toBe(clockToleranceSeconds);
    });

    it('accepts a custom authenticator without jwt (class or instance)', () => {
      expect(resolveOptions({ authenticator }).jwt).toBeNull();
      class Custom { async authenticate() { return null; } }
      expect(resolveOptions({ authenticator: Custom }).authenticator).toBe(Custom);
    });

    it('returns frozen options', () => {
      const resolved = resolveOptions({ jwt: JWT });
      expect(Object.isFrozen(resolved)).toBe(true);
      expect(Object.isFrozen(resolved.jwt)).toBe(true);
      expect(Object.isFrozen(resolved.jwt?.algorithms)).toBe(true);
    });
  });

  describe('credentials and origins', () => {
    const BAD: Bad[] = [
      ['cookie auth without an Origin allowlist', { jwt: JWT, credentials: { cookieName: 'rt_session' } }, 'origins.allowed'],
      ['cookie auth with an empty allowlist', { jwt: JWT, credentials: { cookieName: 'rt_session' }, origins: { allowed: [] } }, 'origins.allowed'],
      ["enforce 'always' without an allowlist", { jwt: JWT, origins: { enforce: 'always' } }, 'origins.allowed'],
      ['an unknown enforcement', { jwt: JWT, origins: { allowed: ['https://app.example.com'], enforce: 'sometimes' } }, 'origins.enforce'],
      ['an allowlist that is a string', { jwt: JWT, origins: { allowed: 'https://app.example.com' } }, 'origins.allowed'],
      ['a wildcard origin', { jwt: JWT, origins: { allowed: ['https://*.x.com'] } }, 'origins.allowed'],
      ['a bare wildcard', { jwt: JWT, origins: { allowed: ['*'] } }, 'origins.allowed'],
      ['an origin with a path', { jwt: JWT, origins: { allowed: ['https://app.x.com/app'] } }, 'origins.allowed'],
      ['an origin with a query', { jwt: JWT, origins: { allowed: ['https://app.x.com?x=1'] } }, 'origins.allowed'],
      ['an origin with userinfo', { jwt: JWT, origins: { allowed: ['https://user@app.x.com'] } }, 'origins.allowed'],
      ["'null'", { jwt: JWT, origins: { allowed: ['null'] } }, 'origins.allowed'],
      ['a host without scheme', { jwt: JWT, origins: { allowed: ['app.x.com'] } }, 'origins.allowed'],
      ['a websocket scheme', { jwt: JWT, origins: { allowed: ['wss://app.x.com'] } }, 'origins.allowed'],
      ['a non-string entry', { jwt: JWT, origins: { allowed: [42] } }, 'origins.allowed'],
      ['an empty entry', { jwt: JWT, origins: { allowed: [''] } }, 'origins.allowed'],
      ['an invalid cookie name', { jwt: JWT, credentials: { cookieName: 'rt session' }, origins: { allowed: ['https://app.x.com'] } }, 'credentials.cookieName'],
      ['an empty cookie name', { jwt: JWT, credentials: { cookieName: '' }, origins: { allowed: ['https://app.x.com'] } }, 'credentials.cookieName'],
      ['a non-boolean authPayload', { jwt: JWT, credentials: { authPayload: 'yes' } }, 'credentials.authPayload'],
      ['a non-boolean authorizationHeader', { jwt: JWT, credentials: { authorizationHeader: 1 } }, 'credentials.authorizationHeader'],
      ['no credential carrier at all', { jwt: JWT, credentials: { authPayload: false, authorizationHeader: false } }, 'credentials'],
    ];
    it.each(BAD)('refuses %s', (_name, options, option) => expectInvalid(options, option));

    it('canonicalises allowed origins (case, trailing slash, default port) and defaults enforce to cookie', () => {
      const resolved = resolveOptions({ jwt: JWT, origins: { allowed: ['HTTPS://App.Example.com/', 'http://localhost:3000'] } });
      expect([...resolved.origins.allowed]).toEqual(['https://app.example.com', 'http://localhost:3000']);
      expect(resolved.origins.enforce).toBe('cookie');
      expect(resolved.credentials).toEqual({ authPayload: true, authorizationHeader: true, cookieName: null });
    });

    it('accepts cookie auth with an allowlist, and a cookie as the only carrier', () => {
      const resolved = resolveOptions({
        jwt: JWT,
        credentials: { cookieName: 'rt_session', authPayload: false, authorizationHeader: false },
        origins: { allowed: ['https://app.example.com'] },
      });
      expect(resolved.credentials.cookieName).toBe('rt_session');
    });
  });

  describe('tokens, connections, transport, logging', () => {
    const RANGES: Array<[string, (value: unknown) => unknown, number, number]> = [
      ['tokens.graceSeconds', (v) => ({ tokens: { graceSeconds: v } }), 0, 300],
      ['connections.maxPerUser', (v) => ({ connections: { maxPerUser: v } }), 1, 10],
      ['connections.maxTotal', (v) => ({ connections: { maxTotal: v } }), 1, 1_000_000],
      ['transport.maxMessageBytes', (v) => ({ transport: { maxMessageBytes: v } }), 1024, 16 * 1024 * 1024],
      ['transport.connectTimeoutMs', (v) => ({ transport: { connectTimeoutMs: v } }), 100, 120_000],
      ['transport.pingIntervalMs', (v) => ({ transport: { pingIntervalMs: v } }), 1000, 300_000],
      ['transport.pingTimeoutMs', (v) => ({ transport: { pingTimeoutMs: v } }), 1000, 300_000],
    ];

    describe.each(RANGES)('%s', (option, build, min, max) => {
      it.each([min - 1, max + 1, min + 0.5, Number.NaN])('refuses %p', (value) => expectInvalid({ jwt: JWT, ...(build(value) as object) }, option));
      it('refuses a numeric string', () => expectInvalid({ jwt: JWT, ...(build(String(min)) as object) }, option));
      it.each([min, max])('accepts %p', (value) => expect(() => resolveOptions({ jwt: JWT, ...(build(value) as object) } as RealtimeSecurityOptions)).not.toThrow());
    });

    const BAD: Bad[] = [
      ['an empty refresh event', { jwt: JWT, tokens: { refreshEvent: '' } }, 'tokens.refreshEvent'],
      ['a refresh event with spaces', { jwt: JWT, tokens: { refreshEvent: 'auth refresh' } }, 'tokens.refreshEvent'],
      ['a refresh event over 64 characters', { jwt: JWT, tokens: { refreshEvent: 'a'.repeat(65) } }, 'tokens.refreshEvent'],
      ['a non-boolean perMessageDeflate', { jwt: JWT, transport: { perMessageDeflate: 'no' } }, 'transport.perMessageDeflate'],
      ['a non-boolean logSecurityEvents', { jwt: JWT, logSecurityEvents: 'yes' }, 'logSecurityEvents'],
      ['a connection store missing methods', { jwt: JWT, connections: { store: { acquire: async () => true } } }, 'connections.store'],
    ];
    it.each(BAD)('refuses %s', (_name, options, option) => expectInvalid(options, option));

    it('fills in the documented defaults', () => {
      const resolved = resolveOptions({ jwt: JWT });
      expect(resolved.tokens).toEqual({ graceMs: 0, refreshEvent: 'auth:refresh' });
      expect(resolved.connections).toMatchObject({ maxPerUser: 5, maxTotal: 10_000, store: null });
      expect(resolved.transport).toMatchObject({ maxMessageBytes: 65_536, connectTimeoutMs: 10_000, pingIntervalMs: 25_000, pingTimeoutMs: 20_000, perMessageDeflate: false });
      expect(resolved.logSecurityEvents).toBe(true);
    });

    it('turns graceSeconds into milliseconds', () => {
      expect(resolveOptions({ jwt: JWT, tokens: { graceSeconds: 30 } }).tokens.graceMs).toBe(30_000);
    });
  });
});
