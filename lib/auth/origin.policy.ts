import type { IncomingHttpHeaders } from 'node:http';
import type { OriginEnforcement } from '../interfaces/realtime-security-options.interface.js';
import type { CredentialSource } from '../interfaces/authenticator.interface.js';

/**
 * `scheme://host[:port]` in canonical form, or `null` when the value is not a plain http(s)
 * origin (`null`, paths, credentials, wildcards, garbage).
 */
export function normalizeOrigin(value: string): string | null {
  if (value.length === 0 || value.length > 2048 || value === 'null') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return null;
  if (url.pathname !== '/' && url.pathname !== '') return null;
  if (url.hostname.includes('*')) return null;
  return url.origin.toLowerCase();
}

/**
 * The origin a handshake request speaks for. Browsers leave `Origin` out of same-origin GETs, such
 * as the first Engine.IO polling request of a page served by this server; there
 * `Sec-Fetch-Site: same-origin` (a header no page can set) vouches that the page's origin is the
 * request's own, `scheme://Host`. Both schemes are returned: behind a TLS proxy the server cannot
 * see the page's, and a same-origin page is this server's own, so only the host (still checked
 * against the allowlist) matters. Empty when nothing vouches for an origin.
 */
export function requestOrigins(headers: IncomingHttpHeaders): string[] {
  const origin = firstValue(headers.origin);
  if (origin !== undefined) return [origin];
  const host = firstValue(headers.host);
  if (firstValue(headers['sec-fetch-site']) !== 'same-origin' || host === undefined || host.length === 0) return [];
  // Built here, not sent by a browser: canonicalise (a Host may carry case or a default port).
  return [`http://${host}`, `https://${host}`].map(normalizeOrigin).filter((o): o is string => o !== null);
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Decides whether a handshake's Origin is acceptable for the credential it carries. */
export class OriginPolicy {
  constructor(
    private readonly allowed: ReadonlySet<string>,
    private readonly enforce: OriginEnforcement,
  ) {}

  /**
   * Exact match: the header must already be in canonical form and listed. Browsers always send
   * the canonical serialisation (lower case, no default port, no slash), so any other spelling
   * (`HTTP://APP.X`, `http://app.x:80`, `http://app.x/`) is not a browser's and is refused;
   * `null`, suffix and look-alike origins never match.
   */
  isAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return false;
    const normalized = normalizeOrigin(origin);
    return normalized !== null && normalized === origin && this.allowed.has(normalized);
  }

  /** {@link accepts} for a handshake request, same-origin GETs without `Origin` included ({@link requestOrigins}). */
  acceptsRequest(headers: IncomingHttpHeaders, source: CredentialSource | null): boolean {
    const origins = requestOrigins(headers);
    if (origins.length === 0) return this.accepts(undefined, source);
    return origins.some((origin) => this.accepts(origin, source));
  }

  /** Whether a handshake with this Origin header and credential source may proceed. */
  accepts(origin: string | undefined, source: CredentialSource | null): boolean {
    if (source === 'cookie' || this.enforce === 'always') return this.isAllowed(origin);
    if (this.enforce === 'browser' && origin !== undefined) return this.isAllowed(origin);
    return true;
  }
}
