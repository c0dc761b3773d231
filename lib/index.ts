// The public API of nestjs-realtime-security, chosen explicitly: pipelines, lifecycle internals,
// providers, Redis store classes, metadata readers, schedulers and internal tokens stay private.
// The audit command has its own entry point, `nestjs-realtime-security/audit` (lib/cli).

// The module, its start-up error and its options
export { RealtimeSecurityModule } from './module/realtime-security.module.js';
export { InvalidRealtimeSecurityOptionsError } from './module/invalid-options.error.js';
export type {
  AuthorizationOptions,
  ConnectionLimitOptions,
  CredentialOptions,
  JsonWebKeySet,
  JwksLoader,
  JwksRefreshOptions,
  JwtAlgorithm,
  JwtVerificationOptions,
  MetricsOptions,
  OriginEnforcement,
  OriginOptions,
  PresenceAudience,
  PresenceBroadcastOptions,
  PresenceOptions,
  PresenceSubject,
  RateLimitOptions,
  RealtimeSecurityOptions,
  RedisClusterOptions,
  RedisUnavailablePolicy,
  TokenLifetimeOptions,
  TransportOptions,
} from './interfaces/realtime-security-options.interface.js';

// The Socket.IO adapter (app.useWebSocketAdapter(new SecureIoAdapter(app)))
export { SecureIoAdapter } from './adapters/secure-io.adapter.js';

// The authenticated principal, and the helpers to read it
export type { Principal } from './interfaces/principal.interface.js';
export { userKey } from './utils/user-key.js';
export { isIdentifier, MAX_IDENTIFIER_LENGTH } from './utils/identifier.js';

// Decorators
export { WsPrincipal } from './decorators/ws-principal.decorator.js';
export { WsAuthorize, type WsAuthorizeOptions } from './decorators/ws-authorize.decorator.js';
export type { ResourceSelector } from './authorization/access-rule.js';
export { WsPublic } from './decorators/ws-public.decorator.js';
export { WsThrottle, WsSkipThrottle, type WsThrottleOptions } from './throttling/ws-throttle.decorator.js';

// Validation pipe, exception filter, and the guards (exported to be extended)
export { WsValidationPipe } from './pipes/ws-validation.pipe.js';
export type { WsValidationPipeOptions } from './pipes/ws-validation-pipe-options.interface.js';
export { WsSecurityExceptionFilter } from './filters/ws-security-exception.filter.js';
export { WsAuthorizationGuard } from './guards/ws-authorization.guard.js';
export { WsThrottlerGuard } from './throttling/ws-throttler.guard.js';

// Errors on sockets: the exception, its stable codes, the body clients receive
export { WsSecurityException, type FieldError, type SecurityErrorBody, type WsSecurityExceptionDetails } from './exceptions/ws-security.exception.js';
export { SecurityErrorCode } from './exceptions/security-error-code.js';

// Authentication: the pluggable authenticator, the JWT one, Origin normalisation
export { RealtimeAuthenticator, type AuthenticationRequest, type CredentialSource } from './interfaces/authenticator.interface.js';
export { JwtAuthenticator } from './auth/jwt.authenticator.js';
export type { JwksKeySetStats } from './auth/jwks-key-set.js';
export { normalizeOrigin } from './auth/origin.policy.js';

// Authorization: the pluggable permission resolver, the claims one, the permission grammar, tenant rooms
export { PermissionResolver, type PermissionQuery } from './interfaces/permission-resolver.interface.js';
export { ClaimsPermissionResolver } from './authorization/claims-permission.resolver.js';
export { hasPermission, parseRequiredPermission } from './authorization/permission.matcher.js';
export { TenantRooms, type RoomJoinOptions } from './authorization/tenant-rooms.service.js';

// Connection ceilings: the pluggable lease store and its in-memory implementation
export { ConnectionLeaseStore } from './interfaces/connection-lease-store.interface.js';
export { InMemoryConnectionLeaseStore } from './connections/in-memory-connection-lease.store.js';

// Presence: the service, its types, the pluggable store and bus with their in-memory implementations
export { PresenceService, type PresenceServiceStats } from './presence/presence.service.js';
export type { ListOnlineOptions, PresenceChange, PresenceInfo, PresencePage } from './presence/presence.interface.js';
export type { PresenceUpdatePayload } from './presence/presence-broadcast.service.js';
export { InvalidPresenceQueryError } from './presence/invalid-presence-query.error.js';
export {
  PresenceStore,
  type PresenceConnection,
  type PresenceRecord,
  type PresenceStatus,
  type PresenceTransition,
} from './interfaces/presence-store.interface.js';
export {
  InMemoryPresenceStore,
  type InMemoryPresenceStoreOptions,
  type InMemoryPresenceStoreStats,
} from './presence/in-memory-presence.store.js';
export { PresenceBus, type PresenceBusMessage } from './interfaces/presence-bus.interface.js';
export { InProcessPresenceBus } from './presence/in-process-presence.bus.js';

// Room presence: who is in each room joined through TenantRooms (PresenceService.listInRoom and friends)
export type { ListInRoomOptions, RoomPresenceChange, RoomPresencePage } from './presence/presence.interface.js';
export {
  isRoomPresenceStore,
  type RoomMember,
  type RoomMemberMeta,
  type RoomPresenceConnection,
  type RoomPresenceStore,
  type RoomPresenceTransition,
} from './interfaces/presence-store.interface.js';
export type { PresenceRoomRef, RoomMemberMetadata, RoomPresenceDiffOptions, RoomPresenceOptions } from './interfaces/realtime-security-options.interface.js';
export type { RoomPresenceDiffPayload } from './presence/room-presence-diff.service.js';
export { RoomPresenceBus, type RoomPresenceBusMessage } from './interfaces/room-presence-bus.interface.js';
export { InProcessRoomPresenceBus } from './presence/in-process-room-presence.bus.js';

// Moderation: the service, the pluggable store and bus with their in-memory implementations
export { ModerationService, type BanOptions } from './moderation/moderation.service.js';
export { ModerationStore, type BanRecord, type ModerationRecord } from './interfaces/moderation-store.interface.js';
export { InMemoryModerationStore } from './moderation/in-memory-moderation.store.js';
export { ModerationBus, type ModerationCommand } from './interfaces/moderation-bus.interface.js';
export { InProcessModerationBus } from './moderation/in-process-moderation.bus.js';

// Message rate limits: the pluggable storage (@nestjs/throttler's contract) and its in-memory implementation
export { WsThrottlerStorage, type WsThrottlerStorageRecord } from './throttling/ws-throttler-storage.interface.js';
export { InMemoryThrottlerStorage } from './throttling/in-memory-throttler.storage.js';

// Security events
export { SecurityEventsService } from './events/security-events.service.js';
export type { SecurityEvent, SecurityEventKind } from './interfaces/security-event.interface.js';

// The security inventory (every namespace and handler with its access rule)
export { SecurityInventoryService } from './inventory/security-inventory.service.js';
export type {
  HandlerAccess,
  HandlerInventoryEntry,
  NamespaceInventoryEntry,
  SecurityInventory,
} from './inventory/security-inventory.interface.js';

// Metrics: the OpenTelemetry instruments of every security decision (the app brings the SDK)
export { SecurityMetrics, METER_NAME, type OpenConnectionSource } from './metrics/security-metrics.js';
export { OTHER as METRICS_OTHER_VALUE, type ConnectionTransport, type DisconnectReason, type ModerationAction, type RedisFailureKind } from './metrics/metric-labels.js';
// Server-Sent Events: every @Sse() route authenticated, authorized, counted, revocable
export { SseAuthorize, type SseAuthorizeOptions } from './sse/sse-authorize.decorator.js';
export { SsePublic } from './sse/sse-public.decorator.js';
export { SsePrincipal } from './sse/sse-principal.decorator.js';
export type { SseRequestView, SseResourceSelector } from './sse/sse-access-rule.js';
export type { SseOptions, SseTicketOptions } from './sse/sse-options.interface.js';
export { SseRefusedException } from './sse/sse-refused.exception.js';
export { SseTicketService, type StreamTicket } from './sse/sse-ticket.service.js';
export { SseTopics } from './sse/sse-topics.service.js';
export { SseStreamService, type SseStreamStats } from './sse/sse-stream.service.js';
export { ssePrincipalOf } from './sse/sse-request.js';
