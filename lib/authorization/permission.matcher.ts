/**
 * The permission grammar, as pure functions.
 *
 * A grant is `resource:action` (every instance), `resource:action:<id>` (one instance) or `*`
 * (everything); a segment that is exactly `*` matches any value. Matching is segment by segment
 * and exact: no prefixes, no partial wildcards (`chan*` is a literal), no case folding. A grant
 * that does not parse (empty segments, too many segments, a lone word) grants nothing.
 */

/** What a handler needs: a resource and an action, and the instance when the message names one. */
export interface PermissionRequirement {
  readonly resource: string;
  readonly action: string;
  /** The resource instance; absent when the handler needs the permission on every instance. */
  readonly id?: string;
}

const WILDCARD = '*';
/** Characters of a resource or action name in a required permission. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** A required permission: `resource:action` or `resource:action:<id>`, no wildcard. */
const REQUIRED = /^([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9_.-]{1,64})(?::([A-Za-z0-9_.-]{1,128}))?$/;

/**
 * Parses a permission a handler requires (`channel:read`, `admin:open:console`); `null` when it
 * is not in the grammar (wildcards are for grants, not for requirements).
 */
export function parseRequiredPermission(permission: string): PermissionRequirement | null {
  if (typeof permission !== 'string') return null;
  const match = REQUIRED.exec(permission);
  if (match === null) return null;
  const [, resource, action, id] = match as unknown as [string, string, string, string | undefined];
  return id === undefined ? { resource, action } : { resource, action, id };
}

/** True when `name` may be a resource or action name (used for room resources too). */
export function isPermissionName(name: string): boolean {
  return typeof name === 'string' && NAME.test(name);
}

/** A grant split into its segments once; `null` for a grant that grants nothing. */
export type ParsedGrant = readonly [resource: string, action: string, id: string | undefined] | 'all' | null;

/** Splits a granted permission (see {@link grantCovers}). */
export function parseGrant(grant: string): ParsedGrant {
  if (typeof grant !== 'string' || grant.length === 0) return null;
  if (grant === WILDCARD) return 'all';
  const segments = grant.split(':');
  if (segments.length < 2 || segments.length > 3 || segments.some((s) => s.length === 0)) return null;
  return [segments[0] as string, segments[1] as string, segments[2]];
}

/** True when a parsed grant covers the requirement (narrowed to instance `id`, by default its own). */
export function parsedGrantCovers(grant: ParsedGrant, required: PermissionRequirement, id: string | undefined = required.id): boolean {
  if (grant === null) return false;
  if (grant === 'all') return true;
  const [resource, action, grantedId] = grant;
  if (!segmentMatches(resource, required.resource) || !segmentMatches(action, required.action)) return false;
  // `resource:action` grants every instance, and also the permission without an instance.
  if (grantedId === undefined) return true;
  // A scoped grant covers only a requirement naming that instance.
  return id !== undefined && segmentMatches(grantedId, id);
}

/** True when one granted permission covers the requirement. */
export function grantCovers(grant: string, required: PermissionRequirement): boolean {
  return parsedGrantCovers(parseGrant(grant), required);
}

/** True when any of `grants` covers the requirement. */
export function hasPermission(grants: readonly string[], required: PermissionRequirement): boolean {
  if (!Array.isArray(grants)) return false;
  for (const grant of grants) if (grantCovers(grant, required)) return true;
  return false;
}

function segmentMatches(granted: string, required: string): boolean {
  return granted === WILDCARD || granted === required;
}
