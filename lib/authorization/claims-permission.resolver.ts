import { Injectable } from '@nestjs/common';
import type { PermissionQuery, PermissionResolver } from '../interfaces/permission-resolver.interface.js';
import { hasPermission, parseRequiredPermission, requirementFor } from './permission.matcher.js';

/**
 * The default resolver: the principal's own `permissions` (token claims, or the moderation
 * override) decide, with the grammar of {@link hasPermission}. Synchronous and allocation-light.
 */
@Injectable()
export class ClaimsPermissionResolver implements PermissionResolver {
  isAllowed(query: PermissionQuery): boolean {
    const required = parseRequiredPermission(query.permission);
    if (required === null) return false;
    return hasPermission(query.principal.permissions, requirementFor(required, query.resourceId ?? required.id));
  }
}
