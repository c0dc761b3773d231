import { createHmac, randomBytes } from 'node:crypto';

/** A JWT split into its decoded header and claims. */
export interface DecodedJwt {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  readonly signedPart: string;
  readonly signature: string;
}

/** The forged variants the audit sends; none is validly signed. */
export interface ForgedTokens {
  /** `alg: none`, the original claims, an empty signature. */
  readonly algNone: string;
  /** The original header and claims with a random signature. */
  readonly badSignature: string;
  /** Claims changed (`sub`, permissions) under the original signature. */
  readonly tamperedClaims: string;
  /** The token with the second half of its signature cut off. */
  readonly truncated: string;
  /** The original claims with `exp` an hour ago, signed with a random key. */
  readonly expired: string;
}

/** Decodes a compact JWS without verifying it; `null` when the value is not a JWT. */
export function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  const header = decodeSegment(h);
  const claims = decodeSegment(p);
  if (header === null || claims === null) return null;
  return { header, claims, signedPart: `${h}.${p}`, signature: s };
}

/** Builds every forged variant from a real token's header and claims. */
export function forgeTokens(jwt: DecodedJwt, now = Math.floor(Date.now() / 1000)): ForgedTokens {
  const sigBytes = Math.max(32, Buffer.from(jwt.signature, 'base64url').length);
  const tampered: Record<string, unknown> = { ...jwt.claims, sub: `${String(jwt.claims.sub ?? 'user')}-audit-impersonated` };
  if ('perms' in tampered) tampered.perms = ['*'];
  const expiredClaims: Record<string, unknown> = { ...jwt.claims, iat: now - 7200, exp: now - 3600 };
  delete expiredClaims.nbf;
  const hs256 = { alg: 'HS256', typ: 'JWT' };
  return {
    algNone: `${encode({ alg: 'none', typ: 'JWT' })}.${encode(jwt.claims)}.`,
    badSignature: `${jwt.signedPart}.${randomBytes(sigBytes).toString('base64url')}`,
    tamperedClaims: `${encode(jwt.header)}.${encode(tampered)}.${jwt.signature}`,
    truncated: `${jwt.signedPart}.${jwt.signature.slice(0, Math.floor(jwt.signature.length / 2))}`,
    expired: sign(hs256, expiredClaims, randomBytes(32)),
  };
}

function sign(header: Record<string, unknown>, claims: Record<string, unknown>, key: Buffer): string {
  const signedPart = `${encode(header)}.${encode(claims)}`;
  return `${signedPart}.${createHmac('sha256', key).update(signedPart).digest('base64url')}`;
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeSegment(segment: string): Record<string, unknown> | null {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return null;
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
