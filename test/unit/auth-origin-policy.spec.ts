import { normalizeOrigin } from '../../lib/index.js';
import { OriginPolicy } from '../../lib/auth/origin.policy.js';

/** The Origin allowlist: exact, canonical, never suffix or substring matching. */
describe('auth: OriginPolicy', () => {
  const allowed = new Set(['https://app.example.com', 'http://localhost:3000']);

  describe('normalizeOrigin', () => {
    it.each([
      ['https://app.example.com', 'https://app.example.com'],
      ['HTTPS://APP.EXAMPLE.COM', 'https://app.example.com'],
      ['https://app.example.com/', 'https://app.example.com'],
      ['https://app.example.com:443', 'https://app.example.com'],
      ['http://localhost:3000', 'http://localhost:3000'],
    ])('canonicalises %s', (input, expected) => expect(normalizeOrigin(input)).toBe(expected));

    it.each(['', 'null', '*', 'https://*.example.com', 'https://app.example.com/path', 'https://app.example.com?q=1', 'https://app.example.com#f',
      'https://user@app.example.com', 'https://user:pw@app.example.com', 'ftp://app.example.com', 'file://', 'ws://app.example.com', 'app.example.com',
      'x'.repeat(3000)])('rejects %p', (input) => expect(normalizeOrigin(input)).toBeNull());
  });

  describe('isAllowed', () => {
    const policy = new OriginPolicy(allowed, 'cookie');
    it.each(['https://app.example.com', 'http://localhost:3000'])('allows the exact origin %s', (origin) => expect(policy.isAllowed(origin)).toBe(true));
    it.each([
      undefined, 'null', 'https://app.example.com.evil.com', 'https://evilapp.example.com', 'https://evil.com/?https://app.example.com',
      'https://app.example.com@evil.com', 'https://APP.example.com', 'HTTPS://app.example.com', 'https://app.example.com/',
      'https://app.example.com:443', 'https://app.example.com.', 'http://app.example.com', 'http://localhost:3001', 'http://localhost',
      'https://app.example.com, https://evil.com',
    ])('refuses %p', (origin) => expect(policy.isAllowed(origin)).toBe(false));
  });

  describe('accepts', () => {
    it("cookie credentials always need an allowed Origin, whatever 'enforce' says", () => {
      for (const enforce of ['cookie', 'browser', 'always'] as const) {
        const policy = new OriginPolicy(allowed, enforce);
        expect(policy.accepts(undefined, 'cookie')).toBe(false);
        expect(policy.accepts('https://evil.com', 'cookie')).toBe(false);
        expect(policy.accepts('https://app.example.com', 'cookie')).toBe(true);
      }
    });

    it("enforce 'cookie' lets token handshakes through from anywhere", () => {
      const policy = new OriginPolicy(allowed, 'cookie');
      expect(policy.accepts('https://evil.com', 'auth-payload')).toBe(true);
      expect(policy.accepts(undefined, 'authorization-header')).toBe(true);
    });

    it("enforce 'browser' checks an Origin when one is sent, and allows none", () => {
      const policy = new OriginPolicy(allowed, 'browser');
      expect(policy.accepts('https://evil.com', 'auth-payload')).toBe(false);
      expect(policy.accepts('https://app.example.com', 'auth-payload')).toBe(true);
      expect(policy.accepts(undefined, 'auth-payload')).toBe(true);
    });

    it("enforce 'always' needs an allowed Origin on every handshake", () => {
      const policy = new OriginPolicy(allowed, 'always');
      expect(policy.accepts(undefined, 'auth-payload')).toBe(false);
      expect(policy.accepts(undefined, null)).toBe(false);
      expect(policy.accepts('https://app.example.com', null)).toBe(true);
    });
  });

  describe('acceptsRequest (same-origin GETs without Origin)', () => {
    const policy = new OriginPolicy(allowed, 'cookie');
    it('vouches for the Host only with Sec-Fetch-Site: same-origin', () => {
      expect(policy.acceptsRequest({ host: 'app.example.com', 'sec-fetch-site': 'same-origin' }, 'cookie')).toBe(true);
      expect(policy.acceptsRequest({ host: 'app.example.com' }, 'cookie')).toBe(false);
      expect(policy.acceptsRequest({ host: 'app.example.com', 'sec-fetch-site': 'cross-site' }, 'cookie')).toBe(false);
      expect(policy.acceptsRequest({ host: 'evil.com', 'sec-fetch-site': 'same-origin' }, 'cookie')).toBe(false);
    });

    it('canonicalises the Host it builds an origin from (case, default port)', () => {
      expect(policy.acceptsRequest({ host: 'APP.example.com:443', 'sec-fetch-site': 'same-origin' }, 'cookie')).toBe(true);
      expect(policy.acceptsRequest({ host: 'app.example.com/x', 'sec-fetch-site': 'same-origin' }, 'cookie')).toBe(false);
    });

    it('an Origin header, when present, is what is checked', () => {
      expect(policy.acceptsRequest({ origin: 'https://evil.com', host: 'app.example.com', 'sec-fetch-site': 'same-origin' }, 'cookie')).toBe(false);
    });
  });
});
