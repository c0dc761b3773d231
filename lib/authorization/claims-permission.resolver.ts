import { Injectable } from '@nestjs/common';
import type { PermissionQuery, PermissionResolver } from '../interfaces/permission-resolver.interface.js';
import { parseGrant, parsedGrantCovers, parseRequiredPermission, type ParsedGrant, type PermissionRequirement } from './permission.matcher.js';

/** Required permissions come from decorators and code: a handful; the cache is bounded anyway. */
const MAX_CACHED = 1024;

/**
 * The default resolver: the principal's own `permissions` (token claims, or the moderation
 * override) decide, with the grammar of `hasPermission`. Synchronous; each frozen permission list
 * is split once.
 */
@Injectable()
export class ClaimsPermissionResolver implements PermissionResolver {
  private readonly parsed = new Map<string, PermissionRequirement | null>();
  /** A principal's permission list is frozen and lives as long as its session: split its grants once. */
  private readonly grants = new WeakMap<readonly string[], readonly ParsedGrant[]>();

  isAllowed(query: PermissionQuery): boolean {
    const required = this.parse(query.permission);
    const permissions = query.principal.permissions;
    if (required === null || !Array.isArray(permissions)) return false;
    const id = query.resourceId ?? required.id;
    for (const grant of this.grantsOf(permissions)) if (parsedGrantCovers(grant, required, id)) return true;
    return false;
  }

  private grantsOf(permissions: readonly string[]): readonly ParsedGrant[] {
    if (!Object.isFrozen(permissions)) return permissions.map(parseGrant);
    let grants = this.grants.get(permissions);
    if (grants === undefined) {
      grants = permissions.map(parseGrant);
      this.grants.set(permissions, grants);
    }
    return grants;
  }

  private parse(permission: string): PermissionRequirement | null {
    let required = this.parsed.get(permission);
    if (required === undefined) {
      required = parseRequiredPermission(permission);
      if (this.parsed.size < MAX_CACHED) this.parsed.set(permission, required);
    }
    return required;
  }
}
