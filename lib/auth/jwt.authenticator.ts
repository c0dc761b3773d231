import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { JwtService, type JwtVerifyOptions } from '@nestjs/jwt';
import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { AuthenticationRequest, RealtimeAuthenticator } from '../interfaces/authenticator.interface.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { isIdentifier } from '../utils/identifier.js';
import { JwksKeySet, type JwksKeySetStats } from './jwks-key-set.js';
import { KeySetUnavailableError } from './key-set-unavailable.error.js';

const MAX_CLAIM_LENGTH = 256;
const MAX_PERMISSIONS = 512;
/** Keys tried for one token when several in the set fit it (no `kid`, or a `kid` used twice). */
const MAX_CANDIDATE_KEYS = 8;

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
 * The default authenticator: verifies a JWT with pinned algorithms, a required `exp`, optional
 * `iss`/`aud` and a bounded clock tolerance, then maps its claims. One static key (`secret`, or a
 * PEM `publicKey` for `RS*`/`ES*`/`PS*`) is verified synchronously by `@nestjs/jwt`; a key set
 * (`jwks`) and `EdDSA` are verified by `jose`, keys chosen from the cached set by `kid`.
 * The principal's `expiresAt` is `exp` plus the clock tolerance: the moment the token stops
 * being accepted, so a token admitted inside the tolerance is not cut off at once.
 */
export class JwtAuthenticator implements RealtimeAuthenticator, OnApplicationBootstrap, OnModuleDestroy {
  private readonly jwt: JwtService | null;
  /** Built once: the same pinned settings for every verify. */
  private readonly verifyOptions: JwtVerifyOptions;
  private readonly joseOptions: JWTVerifyOptions;
  /** The key `jose` verifies with: the key set's selector, or the static EdDSA key. */
  private readonly joseKey: JWTVerifyGetKey | KeyObject | null;
  private readonly keySet: JwksKeySet | null;

  constructor(private readonly config: JwtConfig) {
    const issuer = config.issuer ? [...config.issuer] : undefined;
    const audience = config.audience ? [...config.audience] : undefined;
    this.verifyOptions = {
      algorithms: config.algorithms.filter((a) => a !== 'EdDSA') as JwtVerifyOptions['algorithms'],
      issuer: issuer as [string, ...string[]] | undefined,
      audience: audience as [string, ...string[]] | undefined,
      clockTolerance: config.clockToleranceSeconds,
    };
    this.joseOptions = {
      algorithms: [...config.algorithms],
      issuer,
      audience,
      clockTolerance: config.clockToleranceSeconds,
      requiredClaims: ['exp'],
    };
    this.keySet = config.jwks !== undefined ? new JwksKeySet(config.jwks) : null;
    if (this.keySet !== null) {
      this.jwt = null;
      this.joseKey = this.keySet.getKey;
    } else if (config.algorithms.includes('EdDSA')) {
      // jsonwebtoken has no EdDSA: the static key is verified by jose.
      const key = verificationKey(config);
      this.jwt = null;
      this.joseKey = typeof key === 'object' && !Buffer.isBuffer(key) ? key : null;
    } else {
      this.jwt = new JwtService({ secret: verificationKey(config) });
      this.joseKey = null;
    }
  }

  /** Fetches the key set (when `jwks` is set) before the first handshake needs it. */
  onApplicationBootstrap(): void {
    this.keySet?.start();
  }

  onModuleDestroy(): void {
    this.keySet?.close();
  }

  /** Fetch counters of the `jwks` key set, or null without one. */
  keySetStats(): JwksKeySetStats | null {
    return this.keySet?.stats() ?? null;
  }

  async authenticate(request: AuthenticationRequest): Promise<Principal | null> {
    return this.verify(request.credential);
  }

  /**
   * Verifies a token and returns its principal; throws a coded `WsSecurityException` otherwise
   * (`SERVICE_UNAVAILABLE` while no key set could be fetched).
   */
  async verify(token: string): Promise<Principal> {
    if (this.jwt === null) return this.toPrincipal(await this.verifyWithJose(token));
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

  private async verifyWithJose(token: string): Promise<JWTPayload> {
    if (this.joseKey === null) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    try {
      const key = this.joseKey;
      const verified = typeof key === 'function' ? await jwtVerify(token, key, this.joseOptions) : await jwtVerify(token, key, this.joseOptions);
      return verified.payload;
    } catch (error) {
      if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return this.verifyWithCandidates(token, error);
      throw refusalOf(error);
    }
  }

  /** Several keys of the set fit the token: the first that verifies it wins (at most a few are tried). */
  private async verifyWithCandidates(token: string, candidates: joseErrors.JWKSMultipleMatchingKeys): Promise<JWTPayload> {
    let refusal = new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    let tried = 0;
    for await (const key of candidates) {
      try {
        return (await jwtVerify(token, key, this.joseOptions)).payload;
      } catch (error) {
        // Expired means the signature held: that answer beats a wrong-key one.
        if (error instanceof joseErrors.JWTExpired) refusal = new WsSecurityException(SecurityErrorCode.TOKEN_EXPIRED);
      }
      if (++tried >= MAX_CANDIDATE_KEYS) break;
    }
    throw refusal;
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

/**
 * A jose failure as a coded refusal: expired, any other JOSE failure (malformed, bad signature,
 * claims, no fitting key) unauthorized, no key set service-unavailable. Anything else is
 * unexpected and goes up as it is (the handshake logs it, redacted, and refuses).
 */
function refusalOf(error: unknown): unknown {
  if (error instanceof joseErrors.JWTExpired) return new WsSecurityException(SecurityErrorCode.TOKEN_EXPIRED);
  if (error instanceof KeySetUnavailableError) return new WsSecurityException(SecurityErrorCode.SERVICE_UNAVAILABLE);
  if (error instanceof joseErrors.JOSEError) return new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
  return error;
}
