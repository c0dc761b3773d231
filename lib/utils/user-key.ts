import { flatString } from './flat-string.js';

/**
 * The key that identifies a user across the library: tenant and user, each URI-encoded so a
 * separator inside an id can never make two users collide. A flat string: it is held per connection.
 */
export function userKey(tenantId: string, userId: string): string {
  return flatString(`${encodeURIComponent(tenantId)}/${encodeURIComponent(userId)}`);
}
