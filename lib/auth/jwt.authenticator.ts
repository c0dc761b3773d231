import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { JwtService, type JwtVerifyOptions } from '@nestjs/jwt';
import type { AuthenticationRequest, RealtimeAuthenticator } from '../interfaces/authenticator.interface.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { isIdentifier } from '../utils/identifier.js';

const MAX_CLAIM_LENGTH = 256;
const MAX_PERMISSIONS = 512;

type JwtConfig = NonNullable<ResolvedRealtimeSecurityOptions['jwt']>;

/**
 * The verification key, parsed once. Given a string or Buffer, jsonwebtoken parses it again on
 * every verify, first as a public key (about 1 ms with OpenSSL 3, then a thrown error) and only
 * then as an HMAC secret; same order here, done at start-up. Material that is neither is kept
 * as it is, so each verify still fails as before.
 */
function verificationKey(config: JwtConfig): KeyObject | string | Buffer | undefined {
  const material = config.secret ?? config.publicKey;
  if (material === undefined) return undefined;
  try {
    return createPublicKey(material);
  } catch {
    try {
      return createSecretKey(typeof material === 'string' ? Buffer.from(material) : material);
    } catch {
      return material;
    }
  }
}

function boundedString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CLAIM_LENGTH;
}

/**
 * The default authenticator: verifies a JWT with `@nestjs/jwt` using pinned algorithms, a
 * required `exp`, optional `iss`/`aud` and a bounded clock tolerance, then maps its claims.
 * The principal's `expiresAt` is `exp` plus the clock tolerance: the moment the token stops
 * being accepted, so a token admitted inside the tolerance is not cut off at once.
 */
export class JwtAuthenticator implements RealtimeAuthenticator {
  private readonly jwt: JwtService;
  /** Built once: the same pinned settings for every verify. */
  private readonly verifyOptions: JwtVerifyOptions;

  constructor(private readonly config: JwtConfig) {
    this.jwt = new JwtService({ secret: verificationKey(config) });
    this.verifyOptions = {
      algorithms: [...config.algorithms],
      issuer: config.issuer ? [...config.issuer] as [string, ...string[]] : undefined,
      audience: config.audience ? [...config.audience] as [string, ...string[]] : undefined,
      clockTolerance: config.clockToleranceSeconds,
    };
  }

  async authenticate(request: AuthenticationRequest): Promise<Principal | null> {
    return this.verify(request.credential);
  }

  /** Verifies a token and returns its principal; throws a coded `WsSecurityException` otherwise. */
  async verify(token: string): Promise<Principal> {
    let payload: Record<string, unknown>;
    try {
      // Synchronous: verifying with a parsed key does no I/O, and verifyAsync only wraps this in a promise.
      payload = this.jwt.verify<Record<string, unknown>>(token, this.verifyOptions);
    } catch (error) {
      const expired = error instanceof Error && error.name === 'TokenExpiredError';
      throw new WsSecurityException(expired ? SecurityErrorCode.TOKEN_EXPIRED : SecurityErrorCode.UNAUTHORIZED);
    }
    return this.toPrincipal(payload);
  }

  private toPrincipal(payload: Record<string, unknown>): Principal {
    const { sub, exp, jti } = payload;
    const tenant = payload[this.config.tenantClaim];
    const perms = payload[this.config.permissionsClaim] ?? [];
    const permsValid = Array.isArray(perms) && perms.length <= MAX_PERMISSIONS && perms.every(boundedString);
    // `sub` and tenant follow the identifier rule, so every accepted user can be moderated.
    if (!isIdentifier(sub) || !isIdentifier(tenant) || typeof exp !== 'number' || !Number.isFinite(exp) || !permsValid) {
      throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    }
    if (jti !== undefined && !boundedString(jti)) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    return Object.freeze({
      userId: sub,
      tenantId: tenant,
      permissions: Object.freeze([...(perms as string[])]),
      // The token is accepted until `exp` plus the clock tolerance, at the handshake and after it:
      // the connection's deadline must agree with what `verify` accepted.
      expiresAt: (exp + this.config.clockToleranceSeconds) * 1000,
      ...(jti !== undefined ? { tokenId: jti } : {}),
    });
  }
}
