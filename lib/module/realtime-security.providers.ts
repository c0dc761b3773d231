import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Provider } from '@nestjs/common';
import { APP_GUARD, DiscoveryService, ModuleRef } from '@nestjs/core';
import { NODE_ID, RESOLVED_OPTIONS } from '../constants.js';
import { JwtAuthenticator } from '../auth/jwt.authenticator.js';
import { ClaimsPermissionResolver } from '../authorization/claims-permission.resolver.js';
import { MessagePipeline } from '../adapters/message.pipeline.js';
import { GatewaySecurityEnhancer } from '../authorization/gateway-security.enhancer.js';
import { WsSecurityExceptionFilter } from '../filters/ws-security-exception.filter.js';
import { discoverGateways } from '../inventory/gateway-metadata.reader.js';
import { ModerationBus } from '../interfaces/moderation-bus.interface.js';
import { PermissionResolver } from '../interfaces/permission-resolver.interface.js';
import { InProcessModerationBus } from '../moderation/in-process-moderation.bus.js';
import { InMemoryConnectionLeaseStore } from '../connections/in-memory-connection-lease.store.js';
import { RealtimeAuthenticator } from '../interfaces/authenticator.interface.js';
import { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';
import { ModerationStore } from '../interfaces/moderation-store.interface.js';
import { PresenceStore } from '../interfaces/presence-store.interface.js';
import type { RealtimeSecurityOptions } from '../interfaces/realtime-security-options.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { InMemoryModerationStore } from '../moderation/in-memory-moderation.store.js';
import { InMemoryPresenceStore } from '../presence/in-memory-presence.store.js';
import { REDIS_CONNECTION, REDIS_STREAM_BUS } from '../cluster/cluster.constants.js';
import { RedisConnectionLeaseStore } from '../cluster/redis-connection-lease.store.js';
import type { RedisConnection } from '../cluster/redis-connection.js';
import { RedisModerationBus } from '../cluster/redis-moderation.bus.js';
import { RedisModerationStore } from '../cluster/redis-moderation.store.js';
import { RedisPresenceStore } from '../cluster/redis-presence.store.js';
import type { RedisStreamBus } from '../cluster/redis-stream.bus.js';
import { RedisThrottlerStorage } from '../cluster/redis-throttler.storage.js';
import { REALTIME_SECURITY_OPTIONS } from './realtime-security.module-definition.js';
import { resolveOptions } from './options.validator.js';
import { InMemoryThrottlerStorage } from '../throttling/in-memory-throttler.storage.js';
import { WsThrottlerStorage } from '../throttling/ws-throttler-storage.interface.js';
import { SSE_ROUTES } from '../sse/sse.constants.js';
import { applyPendingBound, discoverSseRoutes, secureSseRoute, type SseRoute } from '../sse/sse-route.reader.js';
import { SseStreamGuard } from '../sse/sse-stream.guard.js';
import { SSE_STREAM_INTERCEPTOR } from '../sse/sse-stream.interceptor.js';

/** Options are validated once here; a bad one fails start-up with a message naming the fix. */
export const resolvedOptionsProvider: Provider = {
  provide: RESOLVED_OPTIONS,
  useFactory: (options: RealtimeSecurityOptions) => resolveOptions(options),
  inject: [REALTIME_SECURITY_OPTIONS],
};

/** The custom authenticator when one is configured (a class is built through Nest DI), else JWT. */
export const authenticatorProvider: Provider = {
  provide: RealtimeAuthenticator,
  useFactory: async (options: ResolvedRealtimeSecurityOptions, moduleRef: ModuleRef): Promise<RealtimeAuthenticator> => {
    const custom = options.authenticator;
    if (custom === null) return new JwtAuthenticator(options.jwt as NonNullable<ResolvedRealtimeSecurityOptions['jwt']>);
    return typeof custom === 'function' ? moduleRef.create(custom) : custom;
  },
  inject: [RESOLVED_OPTIONS, ModuleRef],
};

/** `connections.store` when configured (a class is built through Nest DI), else the in-memory store. */
export const connectionLeaseStoreProvider: Provider = {
  provide: ConnectionLeaseStore,
  useFactory: async (options: ResolvedRealtimeSecurityOptions, moduleRef: ModuleRef, redis: RedisConnection | null, nodeId: string): Promise<ConnectionLeaseStore> => {
    const custom = options.connections.store;
    if (custom === null) return redis !== null ? new RedisConnectionLeaseStore(redis, nodeId, redis.settings.onUnavailable) : new InMemoryConnectionLeaseStore();
    return typeof custom === 'function' ? moduleRef.create(custom) : custom;
  },
  inject: [RESOLVED_OPTIONS, ModuleRef, REDIS_CONNECTION, NODE_ID],
};

/** `presence.store` when configured (a class is built through Nest DI), else the in-memory store. */
export const presenceStoreProvider: Provider = {
  provide: PresenceStore,
  useFactory: async (options: ResolvedRealtimeSecurityOptions, moduleRef: ModuleRef, redis: RedisConnection | null, nodeId: string): Promise<PresenceStore> => {
    const custom = options.presence.store;
    if (custom === null) return redis !== null ? new RedisPresenceStore(redis, nodeId) : new InMemoryPresenceStore();
    return typeof custom === 'function' ? moduleRef.create(custom) : custom;
  },
  inject: [RESOLVED_OPTIONS, ModuleRef, REDIS_CONNECTION, NODE_ID],
};

/** This process's name in presence records (cluster mode reaps a dead node's connections by it). */
export const nodeIdProvider: Provider = {
  provide: NODE_ID,
  useFactory: (options: ResolvedRealtimeSecurityOptions): string =>
    `${options.redis?.nodeName ?? `${hostname()}:${process.pid}`}:${randomUUID().slice(0, 8)}`,
  inject: [RESOLVED_OPTIONS],
};

/** Bans and permission overrides: on Redis in cluster mode, in memory otherwise. */
export const moderationStoreProvider: Provider = {
  provide: ModerationStore,
  useFactory: (redis: RedisConnection | null): ModerationStore =>
    redis !== null ? new RedisModerationStore(redis, redis.settings.onUnavailable) : new InMemoryModerationStore(),
  inject: [REDIS_CONNECTION],
};

/** `authorization.permissionResolver` when configured (a class is built through Nest DI), else the claims resolver. */
export const permissionResolverProvider: Provider = {
  provide: PermissionResolver,
  useFactory: async (options: ResolvedRealtimeSecurityOptions, moduleRef: ModuleRef): Promise<PermissionResolver> => {
    const custom = options.authorization.permissionResolver;
    if (custom === null) return new ClaimsPermissionResolver();
    return typeof custom === 'function' ? moduleRef.create(custom) : custom;
  },
  inject: [RESOLVED_OPTIONS, ModuleRef],
};

/** Carries moderation commands between nodes: over Redis in cluster mode, in-process otherwise. */
export const moderationBusProvider: Provider = {
  provide: ModerationBus,
  useFactory: (bus: RedisStreamBus | null): ModerationBus => (bus !== null ? new RedisModerationBus(bus) : new InProcessModerationBus()),
  inject: [REDIS_STREAM_BUS],
};

/**
 * Puts the authorization guard and the exception filter on every gateway class. A factory on
 * purpose: it runs when providers are instantiated, before Nest binds gateways (which is when
 * their guards and filters are read).
 */
export const gatewaySecurityEnhancerProvider: Provider = {
  provide: GatewaySecurityEnhancer,
  useFactory: (discovery: DiscoveryService, pipeline: MessagePipeline, filter: WsSecurityExceptionFilter): GatewaySecurityEnhancer => {
    const enhancer = new GatewaySecurityEnhancer(pipeline, filter);
    enhancer.enhance(discoverGateways(discovery));
    return enhancer;
  },
  inject: [DiscoveryService, MessagePipeline, WsSecurityExceptionFilter],
};

/** `rateLimit.storage` when configured (a class is built through Nest DI), else in-memory counters. */
export const throttlerStorageProvider: Provider = {
  provide: WsThrottlerStorage,
  useFactory: async (options: ResolvedRealtimeSecurityOptions, moduleRef: ModuleRef, redis: RedisConnection | null): Promise<WsThrottlerStorage> => {
    const custom = options.rateLimit.storage;
    if (custom === null) return redis !== null ? new RedisThrottlerStorage(redis, redis.settings.onUnavailable) : new InMemoryThrottlerStorage();
    return typeof custom === 'function' ? moduleRef.create(custom) : custom;
  },
  inject: [RESOLVED_OPTIONS, ModuleRef, REDIS_CONNECTION],
};

/**
 * Every `@Sse()` route of the app, found at start-up: each gets the stream interceptor (first of
 * its own), and `sse.maxBufferedBytes` unless it sets its own `maxPendingDataLength`.
 * The inventory lists them. A factory on purpose: it runs before Nest registers routes (which
 * is when their interceptors and SSE options are read).
 */
export const sseRoutesProvider: Provider = {
  provide: SSE_ROUTES,
  useFactory: (discovery: DiscoveryService, options: ResolvedRealtimeSecurityOptions): readonly SseRoute[] => {
    const routes = discoverSseRoutes(discovery);
    for (const route of routes) {
      applyPendingBound(route, options.sse.maxBufferedBytes);
      secureSseRoute(route, SSE_STREAM_INTERCEPTOR);
    }
    return Object.freeze(routes);
  },
  inject: [DiscoveryService, RESOLVED_OPTIONS],
};

/**
 * Every `@Sse()` route is authenticated, authorized and counted: a global guard, so a route
 * added in any module is covered (deny by default). Synchronous and immediate for anything else.
 */
export const sseGuardProvider: Provider = {
  provide: APP_GUARD,
  useExisting: SseStreamGuard,
};
