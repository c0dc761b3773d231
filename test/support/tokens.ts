import { JwtService } from '@nestjs/jwt';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

const jwt = new JwtService();

export interface TokenClaims {
  sub?: string;
  tenant?: string;
  perms?: unknown;
  jti?: string;
  [claim: string]: unknown;
}

/** Signs an HS256 token; `expiresInSeconds` may be negative for an already expired token. */
export function signToken(claims: TokenClaims = {}, options: { secret?: string; expiresInSeconds?: number; noExp?: boolean } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { sub: 'alice', tenant: 'acme', perms: ['channel:*', 'presence:read'], iat: now, ...claims };
  if (!options.noExp) payload.exp = now + (options.expiresInSeconds ?? 3600);
  return jwt.sign(payload, { secret: options.secret ?? TEST_SECRET, algorithm: 'HS256' });
}
