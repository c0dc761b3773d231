import { JwtAuthenticator, SecurityErrorCode, WsSecurityException } from '../../lib/index.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { claims, forgeToken } from '../support/forge.js';
import { TEST_SECRET } from '../support/tokens.js';

/** The default authenticator's claim mapping and its expiry with the clock tolerance. */
describe('auth: JwtAuthenticator', () => {
  const config = (tolerance = 0) => resolveOptions({ jwt: { secret: TEST_SECRET, clockToleranceSeconds: tolerance } }).jwt as NonNullable<ReturnType<typeof resolveOptions>['jwt']>;
  const sign = (payload: Record<string, unknown>) => forgeToken({ alg: 'HS256', typ: 'JWT' }, payload, { hmac: TEST_SECRET });

  it('maps sub, tenant, perms, exp and jti to a frozen principal', async () => {
    const payload = claims({ jti: 'token-1', perms: ['channel:read'] });
    const principal = await new JwtAuthenticator(config()).verify(sign(payload));
    expect(principal).toEqual({ userId: 'alice', tenantId: 'acme', permissions: ['channel:read'], expiresAt: (payload.exp as number) * 1000, tokenId: 'token-1' });
    expect(Object.isFrozen(principal)).toBe(true);
    expect(Object.isFrozen(principal.permissions)).toBe(true);
  });

  it('puts the clock tolerance into expiresAt: the token is accepted exactly that long', async () => {
    const payload = claims({}, -20);
    const principal = await new JwtAuthenticator(config(30)).verify(sign(payload));
    expect(principal.expiresAt).toBe(((payload.exp as number) + 30) * 1000);
    expect(principal.expiresAt).toBeGreaterThan(Date.now());
  });

  it('treats a missing perms claim as no permissions', async () => {
    const payload = claims();
    delete payload.perms;
    expect((await new JwtAuthenticator(config()).verify(sign(payload))).permissions).toEqual([]);
  });

  it.each([
    ['an expired token', claims({}, -10), SecurityErrorCode.TOKEN_EXPIRED],
    ['a 257-character sub', claims({ sub: 'a'.repeat(257) }), SecurityErrorCode.UNAUTHORIZED],
    ['a non-string permission', claims({ perms: ['ok', 1] }), SecurityErrorCode.UNAUTHORIZED],
    ['513 permissions', claims({ perms: Array.from({ length: 513 }, (_, i) => `p:${i}`) }), SecurityErrorCode.UNAUTHORIZED],
    ['a non-string jti', claims({ jti: 7 }), SecurityErrorCode.UNAUTHORIZED],
    ['an infinite exp', { ...claims(), exp: 1e400 }, SecurityErrorCode.UNAUTHORIZED],
  ])('refuses %s with %s', async (_name, payload, code) => {
    const verifying = new JwtAuthenticator(config()).verify(sign(payload as Record<string, unknown>));
    await expect(verifying).rejects.toBeInstanceOf(WsSecurityException);
    await expect(verifying).rejects.toMatchObject({ code });
  });
});
