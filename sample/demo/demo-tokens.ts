import { JwtService } from '@nestjs/jwt';
import type { DemoUser } from './demo-users.js';

/** Signs a demo token (HS256) for a demo user. */
export function signDemoToken(secret: string, user: DemoUser, ttlSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  return new JwtService().sign(
    { sub: user.userId, tenant: user.tenant, perms: [...user.perms], iat: now, exp: now + ttlSeconds },
    { secret, algorithm: 'HS256' },
  );
}
