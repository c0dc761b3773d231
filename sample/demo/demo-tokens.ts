import { JwtService } from '@nestjs/jwt';
import type { DemoUser } from './demo-users.js';

/** The `iss` / `aud` a demo token carries (JWT_ISSUER / JWT_AUDIENCE, when set). */
export interface DemoTokenClaims {
  readonly issuer?: string | null;
  readonly audience?: string | null;
}

/** Signs a demo token (HS256) for a demo user. */
export function signDemoToken(secret: string, user: DemoUser, ttlSeconds = 3600, claims: DemoTokenClaims = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return new JwtService().sign(
    {
      sub: user.userId, tenant: user.tenant, perms: [...user.perms], iat: now, exp: now + ttlSeconds,
      ...(claims.issuer ? { iss: claims.issuer } : {}),
      ...(claims.audience ? { aud: claims.audience } : {}),
    },
    { secret, algorithm: 'HS256' },
  );
}
