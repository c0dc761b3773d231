import { SecurityMetrics } from '../metrics/security-metrics.js';
import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { HandshakePipeline } from '../adapters/handshake.pipeline.js';
import { MessagePipeline } from '../adapters/message.pipeline.js';
import { NamespaceSecurity } from '../adapters/namespace-security.js';
import { TenantRooms } from '../authorization/tenant-rooms.service.js';
import { ConnectionLifecycle } from '../connections/connection-lifecycle.js';
import { WsSecurityExceptionFilter } from '../filters/ws-security-exception.filter.js';
import { WsAuthorizationGuard } from '../guards/ws-authorization.guard.js';
import { ModerationBus } from '../interfaces/moderation-bus.interface.js';
import { PermissionResolver } from '../interfaces/permission-resolver.interface.js';
import { SecurityInventoryService } from '../inventory/security-inventory.service.js';
import { ModerationService } from '../moderation/moderation.service.js';
import { ModerationEpochs } from '../moderation/moderation-epochs.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { RealtimeAuthenticator } from '../interfaces/authenticator.interface.js';
import { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';
import { ModerationStore } from '../interfaces/moderation-store.interface.js';
import { PresenceStore } from '../interfaces/presence-store.interface.js';
import { PresenceBroadcastService } from '../presence/presence-broadcast.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { HandshakeRateLimiter } from '../throttling/handshake-rate.limiter.js';
import { ConnectRateLimiter } from '../throttling/connect-rate.limiter.js';
import { OutboundBufferMonitor } from '../throttling/outbound-buffer.monitor.js';
import { TransportLimits } from '../throttling/transport-limits.service.js';
import { WsThrottlerGuard } from '../throttling/ws-throttler.guard.js';
import { UserMessageBudget } from '../throttling/user-message.budget.js';
import { WsThrottlerStorage } from '../throttling/ws-throttler-storage.interface.js';
import { ClusterNodeService } from '../cluster/cluster-node.service.js';
import { presenceBusProvider, redisConnectionProvider, redisStreamBusProvider, roomPresenceBusProvider } from '../cluster/cluster.providers.js';
import { RoomPresenceBus } from '../interfaces/room-presence-bus.interface.js';
import { RoomPresenceTracker } from '../presence/room-presence.tracker.js';
import { RoomPresenceDiffService } from '../presence/room-presence-diff.service.js';
import { PresenceBus } from '../interfaces/presence-bus.interface.js';
import { RealtimeSecurityConfigurableModule } from './realtime-security.module-definition.js';
import { SseStreamGuard } from '../sse/sse-stream.guard.js';
import { SseStreamService } from '../sse/sse-stream.service.js';
import { SseTicketService } from '../sse/sse-ticket.service.js';
import { SseTopics } from '../sse/sse-topics.service.js';
import {
  authenticatorProvider,
  connectionLeaseStoreProvider,
  gatewaySecurityEnhancerProvider,
  moderationBusProvider,
  moderationStoreProvider,
  permissionResolverProvider,
  nodeIdProvider,
  presenceStoreProvider,
  resolvedOptionsProvider,
  throttlerStorageProvider,
  sseGuardProvider,
  sseRoutesProvider,
} from './realtime-security.providers.js';

/**
 * Configure once, globally:
 * `RealtimeSecurityModule.forRoot({ jwt: { secret } })` or `forRootAsync({ useFactory, inject })`,
 * then `app.useWebSocketAdapter(new SecureIoAdapter(app))`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    permissionResolverProvider,
    moderationBusProvider,
    TenantRooms,
    ModerationService,
    ModerationEpochs,
    WsAuthorizationGuard,
    WsSecurityExceptionFilter,
    gatewaySecurityEnhancerProvider,
    SecurityInventoryService,
    resolvedOptionsProvider,
    authenticatorProvider,
    connectionLeaseStoreProvider,
    moderationStoreProvider,
    presenceStoreProvider,
    nodeIdProvider,
    SecurityEventsService,
    ConnectionLifecycle,
    HandshakePipeline,
    MessagePipeline,
    NamespaceSecurity,
    PresenceService,
    PresenceBroadcastService,
    throttlerStorageProvider,
    UserMessageBudget,
    WsThrottlerGuard,
    HandshakeRateLimiter,
    ConnectRateLimiter,
    OutboundBufferMonitor,
    TransportLimits,
    redisConnectionProvider,
    redisStreamBusProvider,
    presenceBusProvider,
    roomPresenceBusProvider,
    RoomPresenceTracker,
    RoomPresenceDiffService,
    ClusterNodeService,
    SecurityMetrics,
    SseTicketService,
    SseStreamService,
    SseTopics,
    SseStreamGuard,
    sseGuardProvider,
    sseRoutesProvider,
  ],
  exports: [
    PermissionResolver,
    ModerationBus,
    TenantRooms,
    ModerationService,
    WsAuthorizationGuard,
    WsSecurityExceptionFilter,
    SecurityInventoryService,
    RealtimeAuthenticator,
    ConnectionLeaseStore,
    ModerationStore,
    PresenceStore,
    PresenceService,
    PresenceBus,
    RoomPresenceBus,
    ClusterNodeService,
    SecurityEventsService,
    ConnectionLifecycle,
    NamespaceSecurity,
    WsThrottlerStorage,
    WsThrottlerGuard,
    HandshakeRateLimiter,
    SecurityMetrics,
    SseTicketService,
    SseStreamService,
    SseTopics,
  ],
})
export class RealtimeSecurityModule extends RealtimeSecurityConfigurableModule {}
