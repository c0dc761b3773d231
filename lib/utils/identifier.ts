/** Longest user or tenant id, in UTF-16 code units. */
export const MAX_IDENTIFIER_LENGTH = 256;

/**
 * Never in an id: controls (newline, NUL...), format characters (zero-width, bidirectional
 * overrides, BOM: invisible look-alikes), lone surrogates, private-use and unassigned code
 * points, line and paragraph separators.
 */
const FORBIDDEN_CHARACTERS = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

/**
 * The one rule for user and tenant ids (a token's `sub` and tenant claim, a custom
 * authenticator's principal, `ModerationService` arguments): a string of 1..256 code units
 * without the characters above. The handshake refuses any other identity with `UNAUTHORIZED`,
 * so every user who can connect can also be named to moderation (and logged on one line).
 */
export function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_IDENTIFIER_LENGTH && !FORBIDDEN_CHARACTERS.test(value);
}
