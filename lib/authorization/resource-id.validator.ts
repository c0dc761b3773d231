/** The default shape of a resource id named by a message (see `authorization.resourceIdPattern`). */
export const DEFAULT_RESOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Longest resource id ever accepted, whatever the pattern. */
export const MAX_RESOURCE_ID_LENGTH = 256;

/** Names that mean something to JavaScript objects: never ids, whatever the pattern. */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Always refused, whatever the pattern: controls, format characters (zero-width, bidirectional
 * overrides, BOM: invisible look-alikes), lone surrogates, private-use and unassigned code
 * points, line/paragraph separators, the permission separator `:` and the wildcard `*` (an id
 * must never widen a grant).
 */
const FORBIDDEN_CHARACTERS = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}:*]/u;

/**
 * Returns the id when `value` is a usable resource id, else `null`. The value is client input:
 * it is checked here once, and never evaluated as a permission or echoed back.
 */
export function checkResourceId(value: unknown, pattern: RegExp = DEFAULT_RESOURCE_ID_PATTERN): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_RESOURCE_ID_LENGTH || RESERVED.has(value)) return null;
  // The default pattern admits none of the forbidden characters: one test is enough.
  if (pattern !== DEFAULT_RESOURCE_ID_PATTERN && FORBIDDEN_CHARACTERS.test(value)) return null;
  return pattern.test(value) ? value : null;
}
