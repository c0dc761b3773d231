import type { IncomingHttpHeaders } from 'node:http';
import type { ParsedUrlQuery } from 'node:querystring';
import type { CredentialSource } from '../interfaces/authenticator.interface.js';

/** Longest credential accepted; anything longer is refused unread. */
export const MAX_CREDENTIAL_LENGTH = 8192;

const QUERY_CREDENTIAL_KEYS = new Set([
  'token', 'access_token', 'accesstoken', 'id_token', 'refresh_token', 'auth', 'authorization', 'jwt', 'bearer', 'session',
  'api_key', 'apikey', 'password', 'secret',
]);
const JWT_SHAPE = /^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$/;
/** A JWT anywhere in a value (`Bearer eyJ...`, `x,eyJ...`): its header always starts with `eyJ` (`{"`). */
const EMBEDDED_JWT = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{8,}\./;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The credential a handshake carries and where it came from. */
export interface ExtractedCredential {
  readonly credential: string;
  readonly source: CredentialSource;
}

/** Which carriers are enabled. */
export interface CredentialCarriers {
  readonly authPayload: boolean;
  readonly authorizationHeader: boolean;
  readonly cookieName: string | null;
}

/** True when the query string appears to carry a credential (by name or by JWT shape). */
export function queryCarriesCredential(query: ParsedUrlQuery | Record<string, unknown> | undefined): boolean {
  if (query === undefined || query === null) return false;
  for (const [key, raw] of Object.entries(query)) {
    if (QUERY_CREDENTIAL_KEYS.has(key.toLowerCase())) return true;
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      if (typeof value === 'string' && (JWT_SHAPE.test(value) || EMBEDDED_JWT.test(value))) return true;
    }
  }
  return false;
}

/** Reads one cookie by name from a Cookie header without allocating a full map. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length === 0) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/**
 * Reads a cookie that must appear once: `'ambiguous'` when the header carries it more than once
 * (a sibling subdomain or a path-scoped cookie planted beside the real one: which one is real
 * cannot be told, so neither is used; a `__Host-` name prevents the planting).
 */
export function readSingleCookie(header: string | undefined, name: string): string | undefined | 'ambiguous' {
  const first = readCookie(header, name);
  if (first === undefined || header === undefined) return first;
  let seen = 0;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name && ++seen > 1) return 'ambiguous';
  }
  return first;
}

/**
 * Picks the handshake credential: `auth.token`, then `Authorization: Bearer`, then the cookie.
 * Returns `null` when none is present; `'malformed'` when one is present but unusable.
 */
export function extractCredential(
  auth: unknown,
  headers: IncomingHttpHeaders,
  carriers: CredentialCarriers,
): ExtractedCredential | 'malformed' | null {
  if (carriers.authPayload && auth !== null && typeof auth === 'object' && Object.hasOwn(auth, 'token')) {
    const token = (auth as { token?: unknown }).token;
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_CREDENTIAL_LENGTH) return 'malformed';
    return { credential: token, source: 'auth-payload' };
  }
  const authorization = headers.authorization;
  if (carriers.authorizationHeader && typeof authorization === 'string' && authorization.length > 0) {
    if (authorization.length > MAX_CREDENTIAL_LENGTH + 16) return 'malformed';
    const match = BEARER.exec(authorization);
    if (match === null) return 'malformed';
    return { credential: match[1] as string, source: 'authorization-header' };
  }
  if (carriers.cookieName !== null) {
    const cookie = readSingleCookie(headers.cookie, carriers.cookieName);
    if (cookie !== undefined) {
      if (cookie === 'ambiguous' || cookie.length === 0 || cookie.length > MAX_CREDENTIAL_LENGTH) return 'malformed';
      return { credential: cookie, source: 'cookie' };
    }
  }
  return null;
}
