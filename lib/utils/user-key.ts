/**
 * The key that identifies a user across the library: tenant and user, each URI-encoded so a
 * separator inside an id can never make two users collide.
 */
export function userKey(tenantId: string, userId: string): string {
  return `${encodeURIComponent(tenantId)}/${encodeURIComponent(userId)}`;
}
