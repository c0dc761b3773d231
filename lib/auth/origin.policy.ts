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

/** Decides whether a handshake's Origin is acceptable for the credential it carries. */
export class OriginPolicy {
  constructor(
    private readonly allowed: ReadonlySet<string>,
    private readonly enforce: OriginEnforcement,
  ) {}

  /** Exact match after canonicalisation; `null`, suffix and look-alike origins never match. */
  isAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return false;
    const normalized = normalizeOrigin(origin);
    return normalized !== null && this.allowed.has(normalized);
  }

  /** Whether a handshake with this Origin header and credential source may proceed. */
  accepts(origin: string | undefined, source: CredentialSource | null): boolean {
    if (source === 'cookie' || this.enforce === 'always') return this.isAllowed(origin);
    if (this.enforce === 'browser' && origin !== undefined) return this.isAllowed(origin);
    return true;
  }
}
