/**
 * The key that identifies a user across the library: tenant and user, each URI-encoded so a
 * separator inside an id can never make two users collide. A key kept as long as a connection or
 * a record is stored through `flatString` where it is kept (lookups use it as built).
 */
export function userKey(tenantId: string, userId: string): string {
  return `${encodeURIComponent(tenantId)}/${encodeURIComponent(userId)}`;
}
