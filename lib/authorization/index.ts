export { grantCovers, hasPermission, parseRequiredPermission, type PermissionRequirement } from './permission.matcher.js';
export { checkResourceId, DEFAULT_RESOURCE_ID_PATTERN } from './resource-id.validator.js';
export { ClaimsPermissionResolver } from './claims-permission.resolver.js';
export { TenantRooms, TENANT_ROOM_PREFIX, type RoomJoinOptions } from './tenant-rooms.service.js';
export type { ResourceSelector } from './access-rule.js';
