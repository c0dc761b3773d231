import { randomBytes } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { BENCH_SECRET } from './protocol.js';

const jwt = new JwtService();

/** A fresh bench token for user `sub` (distinct `jti` each time, so no two handshakes share one). */
export function benchToken(sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign(
    { sub, tenant: 'acme', perms: ['channel:write'], jti: randomBytes(8).toString('hex'), iat: now, exp: now + 3600 },
    { secret: BENCH_SECRET, algorithm: 'HS256' },
  );
}
