import { generateKeyPairSync } from 'node:crypto';
import { InvalidRealtimeSecurityOptionsError, type RealtimeSecurityOptions } from '../../lib/index.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { TEST_SECRET } from '../support/tokens.js';

/** Start-up rules of `jwt.jwks`, `jwt.jwksRefresh` and `EdDSA` (options.validator.ts). */

const JWKS = 'https://idp.example.com/realms/acme/protocol/openid-connect/certs';
const { publicKey } = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

function invalid(options: unknown): InvalidRealtimeSecurityOptionsError {
  try {
    resolveOptions(options as RealtimeSecurityOptions);
  } catch (error) {
    if (error instanceof InvalidRealtimeSecurityOptionsError) return error;
    throw error;
  }
  throw new Error('expected the options to be refused');
}

describe('options validation: jwt.jwks and EdDSA', () => {
  const BAD: Array<[string, unknown, string]> = [
    ['HS256 pinned with a key set', { jwt: { jwks: JWKS, algorithms: ['HS256'] } }, 'jwt.algorithms'],
    ['HS256 beside RS256 with a key set', { jwt: { jwks: JWKS, algorithms: ['RS256', 'HS256'] } }, 'jwt.algorithms'],
    ['an HMAC secret beside a key set', { jwt: { jwks: JWKS, secret: TEST_SECRET, algorithms: ['RS256'] } }, 'jwt.secret'],
    ['a public key beside a key set', { jwt: { jwks: JWKS, publicKey, algorithms: ['EdDSA'] } }, 'jwt.publicKey'],
    ["'none' with a key set", { jwt: { jwks: JWKS, algorithms: ['none'] } }, 'jwt.algorithms'],
    ['plain http to a remote host', { jwt: { jwks: 'http://idp.example.com/jwks.json' } }, 'jwt.jwks'],
    ['plain http to a host that only starts like loopback', { jwt: { jwks: 'http://127.0.0.1.evil.test/jwks.json' } }, 'jwt.jwks'],
    ['another scheme', { jwt: { jwks: 'ftp://idp.example.com/jwks.json' } }, 'jwt.jwks'],
    ['a relative path', { jwt: { jwks: '/jwks.json' } }, 'jwt.jwks'],
    ['an empty string', { jwt: { jwks: '' } }, 'jwt.jwks'],
    ['a number', { jwt: { jwks: 443 } }, 'jwt.jwks'],
    ['a key set object instead of a URL or function', { jwt: { jwks: { keys: [] } } }, 'jwt.jwks'],
    ['jwksRefresh not an object', { jwt: { jwks: JWKS, jwksRefresh: 1000 } }, 'jwt.jwksRefresh'],
    ['a refresh interval under 1 s', { jwt: { jwks: JWKS, jwksRefresh: { intervalMs: 999 } } }, 'jwt.jwksRefresh.intervalMs'],
    ['a refresh interval over a day', { jwt: { jwks: JWKS, jwksRefresh: { intervalMs: 86_400_001 } } }, 'jwt.jwksRefresh.intervalMs'],
    ['a cooldown under 100 ms (a fetch per handshake)', { jwt: { jwks: JWKS, jwksRefresh: { cooldownMs: 0 } } }, 'jwt.jwksRefresh.cooldownMs'],
    ['a fractional cooldown', { jwt: { jwks: JWKS, jwksRefresh: { cooldownMs: 500.5 } } }, 'jwt.jwksRefresh.cooldownMs'],
    ['a zero timeout', { jwt: { jwks: JWKS, jwksRefresh: { timeoutMs: 0 } } }, 'jwt.jwksRefresh.timeoutMs'],
    ['a timeout over a minute', { jwt: { jwks: JWKS, jwksRefresh: { timeoutMs: 60_001 } } }, 'jwt.jwksRefresh.timeoutMs'],
    ['a cooldown plus timeout not below the connect timeout', { jwt: { jwks: JWKS, jwksRefresh: { cooldownMs: 8000, timeoutMs: 2000 } } }, 'jwt.jwksRefresh.cooldownMs'],
    ['a cooldown over a lowered connect timeout', { jwt: { jwks: JWKS, jwksRefresh: { cooldownMs: 5000 } }, transport: { connectTimeoutMs: 5000 } }, 'jwt.jwksRefresh.cooldownMs'],
    ['EdDSA with no key and no key set', { jwt: { algorithms: ['EdDSA'] } }, 'jwt.publicKey'],
    ['EdDSA beside HS256', { jwt: { secret: TEST_SECRET, publicKey, algorithms: ['EdDSA', 'HS256'] } }, 'jwt.algorithms'],
    ['EdDSA with an RSA public key', { jwt: { publicKey: generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).publicKey, algorithms: ['EdDSA'] } }, 'jwt.publicKey'],
    ['EdDSA with text that is no key', { jwt: { publicKey: 'not a key at all', algorithms: ['EdDSA'] } }, 'jwt.publicKey'],
    ["'eddsa' in lower case", { jwt: { publicKey, algorithms: ['eddsa'] } }, 'jwt.algorithms'],
  ];

  it.each(BAD)('refuses %s, naming the option and the fix', (_name, options, option) => {
    const error = invalid(options);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`\`${option}\``);
    expect(error.message.split('. ').length).toBeGreaterThanOrEqual(2);
  });

  it('never echoes a refused URL (it may carry credentials)', () => {
    const error = invalid({ jwt: { jwks: 'http://client:s3cr3t-password@keys.corp.test/jwks.json' } });
    expect(error.message).not.toContain('s3cr3t');
    expect(error.message).not.toContain('keys.corp.test');
  });

  it('pins RS256 by default with a key set and fills in the refresh defaults', () => {
    const jwt = resolveOptions({ jwt: { jwks: JWKS } }).jwt;
    expect(jwt?.algorithms).toEqual(['RS256']);
    expect(jwt?.secret).toBeUndefined();
    expect(jwt?.publicKey).toBeUndefined();
    expect(jwt?.jwks).toEqual({ source: new URL(JWKS), intervalMs: 300_000, cooldownMs: 5000, timeoutMs: 3000 });
    expect(Object.isFrozen(jwt?.jwks)).toBe(true);
  });

  it.each([
    'http://127.0.0.1:8080/jwks.json',
    'http://127.8.9.10/jwks.json',
    'http://localhost:8080/realms/acme/protocol/openid-connect/certs',
    'http://[::1]:8080/jwks.json',
    'https://login.microsoftonline.com/common/discovery/v2.0/keys',
  ])('accepts %s', (url) => {
    expect(resolveOptions({ jwt: { jwks: url } }).jwt?.jwks?.source).toEqual(new URL(url));
  });

  it('accepts a URL object (copied) and a loader function, with every asymmetric family pinned', () => {
    const url = new URL(JWKS);
    const resolved = resolveOptions({ jwt: { jwks: url, algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] } }).jwt;
    expect(resolved?.jwks?.source).toEqual(url);
    expect(resolved?.jwks?.source).not.toBe(url);
    const loader = () => ({ keys: [] });
    expect(resolveOptions({ jwt: { jwks: loader, jwksRefresh: { intervalMs: 1000, cooldownMs: 100, timeoutMs: 100 } } }).jwt?.jwks)
      .toEqual({ source: loader, intervalMs: 1000, cooldownMs: 100, timeoutMs: 100 });
  });

  it('accepts a long cooldown with a connect timeout raised above it', () => {
    const resolved = resolveOptions({ jwt: { jwks: JWKS, jwksRefresh: { cooldownMs: 30_000, timeoutMs: 5000 } }, transport: { connectTimeoutMs: 40_000 } });
    expect(resolved.jwt?.jwks?.cooldownMs).toBe(30_000);
  });

  it('accepts EdDSA with a static public key', () => {
    const jwt = resolveOptions({ jwt: { publicKey, algorithms: ['EdDSA'] } }).jwt;
    expect(jwt?.publicKey).toBe(publicKey);
    expect(jwt?.jwks).toBeUndefined();
  });
});
