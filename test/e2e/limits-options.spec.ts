import { InvalidRealtimeSecurityOptionsError, type RealtimeSecurityOptions } from '../../lib/index.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { startApp } from '../support/app.js';
import { TEST_SECRET } from '../support/tokens.js';

const base: RealtimeSecurityOptions = { jwt: { secret: TEST_SECRET } };

describe('rateLimit and transport limit options', () => {
  it('fills in the documented defaults', () => {
    const resolved = resolveOptions(base);
    expect(resolved.rateLimit).toEqual({
      messageLimit: 100, messageWindowMs: 10_000, strikes: 5, strikeGraceMs: 2000, storage: null,
      handshakesPerAddress: 600, handshakeWindowMs: 60_000, maxTrackedAddresses: 100_000, trustedProxies: [],
      connectsPerUser: 600, refusedConnectsPerConnection: 3,
    });
    expect(resolved.transport).toMatchObject({ maxAttachments: 10, maxBufferedBytes: 1024 * 1024 });
  });

  it.each([
    ['rateLimit.messageLimit', { rateLimit: { messageLimit: -1 } }],
    ['rateLimit.messageLimit', { rateLimit: { messageLimit: 1.5 } }],
    ['rateLimit.messageWindowMs', { rateLimit: { messageWindowMs: 10 } }],
    ['rateLimit.strikes', { rateLimit: { strikes: 1001 } }],
    ['rateLimit.strikeGraceMs', { rateLimit: { strikeGraceMs: 60_001 } }],
    ['rateLimit.trustedProxies', { rateLimit: { trustedProxies: ['proxy.internal'] } }],
    ['rateLimit.trustedProxies', { rateLimit: { trustedProxies: '10.0.0.1' } }],
    ['rateLimit.handshakesPerAddress', { rateLimit: { handshakesPerAddress: '600' } }],
    ['rateLimit.handshakeWindowMs', { rateLimit: { handshakeWindowMs: 0 } }],
    ['rateLimit.maxTrackedAddresses', { rateLimit: { maxTrackedAddresses: 10 } }],
    ['rateLimit.storage', { rateLimit: { storage: { get: () => 1 } } }],
    ['rateLimit', { rateLimit: 5 }],
    ['transport.maxAttachments', { transport: { maxAttachments: 101 } }],
    ['transport.maxBufferedBytes', { transport: { maxBufferedBytes: 1024 } }],
  ])('refuses a bad %s at start-up, naming the option and the fix', async (option, bad) => {
    const options = { ...base, ...bad } as RealtimeSecurityOptions;
    expect(() => resolveOptions(options)).toThrow(InvalidRealtimeSecurityOptionsError);
    expect(() => resolveOptions(options)).toThrow(new RegExp(`option \`${option.replace('.', '\\.')}\``));
    await expect(startApp({ security: bad as Partial<RealtimeSecurityOptions> })).rejects.toThrow(/Set it within that range|Pass a class or instance|Pass `\{ messageLimit|List the exact addresses/);
  });

  it('accepts 0 to turn message and handshake limits off, and a storage instance', () => {
    const storage = { increment: async () => ({ totalHits: 1, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 }) };
    const resolved = resolveOptions({ ...base, rateLimit: { messageLimit: 0, handshakesPerAddress: 0, storage } });
    expect(resolved.rateLimit).toMatchObject({ messageLimit: 0, handshakesPerAddress: 0, storage });
  });
});
