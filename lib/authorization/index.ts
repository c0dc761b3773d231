export * from './permission.matcher.js';
export { checkResourceId, DEFAULT_RESOURCE_ID_PATTERN, MAX_RESOURCE_ID_LENGTH } from './resource-id.validator.js';
export { ClaimsPermissionResolver } from './claims-permission.resolver.js';
export { TenantRooms, TENANT_ROOM_PREFIX, type RoomJoinOptions } from './tenant-rooms.service.js';
export type { AccessRule, PermissionRule, PublicRule, DeniedRule, ResourceSelector } from './access-rule.js';
