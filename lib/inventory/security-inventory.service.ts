import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { describeSelector, readAccessRule } from '../authorization/access-rule.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { formatInventory } from './inventory.formatter.js';
import { discoverGateways, gatewayHandlers, gatewayOptions, gatewayPort } from './gateway-metadata.reader.js';
import type { HandlerInventoryEntry, NamespaceInventoryEntry, SecurityInventory, StreamInventoryEntry } from './security-inventory.interface.js';
import { SSE_ROUTES } from '../sse/sse.constants.js';
import type { SseRoute } from '../sse/sse-route.reader.js';
import { readSseRule } from '../sse/sse-access-rule.js';

const DEFAULT_TRANSPORTS = ['polling', 'websocket'];
const DEFAULT_PATH = '/socket.io';

/**
 * The security inventory: every secured namespace with its transports, accepted credentials,
 * Origin policy, token expiry and refresh, limits and message-size cap, and every handler with
 * its permission (or public, or DENIED). Built from the same metadata the guard enforces, logged
 * at start-up (`logInventory`), and available as a typed object from {@link getInventory}.
 */
@Injectable()
export class SecurityInventoryService implements OnApplicationBootstrap {
  private readonly logger = new Logger('RealtimeSecurity');
  private inventory?: SecurityInventory;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    private readonly discovery: DiscoveryService,
    @Optional() @Inject(SSE_ROUTES) private readonly sseRoutes: readonly SseRoute[] = [],
  ) {}

  onApplicationBootstrap(): void {
    const inventory = this.getInventory();
    if (!this.options.logInventory) return;
    this.logger.log(formatInventory(inventory));
    for (const handler of inventory.denied) {
      this.logger.warn(
        `${handler.gateway}.${handler.method} (event ${JSON.stringify(handler.event)}) has neither @WsAuthorize nor @WsPublic(): every message to it is refused with FORBIDDEN.`,
      );
    }
    for (const stream of inventory.deniedStreams) {
      this.logger.warn(`${stream.controller}.${stream.method} (@Sse ${JSON.stringify(stream.path)}) has neither @SseAuthorize nor @SsePublic(): every stream request to it is refused with 403 FORBIDDEN.`);
    }
  }

  /** The inventory (built once, at start-up). */
  getInventory(): SecurityInventory {
    this.inventory ??= this.build();
    return this.inventory;
  }

  private build(): SecurityInventory {
    const byKey = new Map<string, { entry: Omit<NamespaceInventoryEntry, 'handlers'>; handlers: HandlerInventoryEntry[] }>();
    // Engine settings (transports, size cap, timeouts) belong to the server, which Nest creates
    // from the first gateway bound on a port and path: later gateways there share it.
    const servers = new Map<string, Omit<NamespaceInventoryEntry, 'handlers' | 'namespace' | 'dynamic'>>();
    for (const gateway of discoverGateways(this.discovery)) {
      const options = gatewayOptions(gateway);
      const serverKey = `${gatewayPort(gateway)} ${options.path ?? DEFAULT_PATH}`;
      let server = servers.get(serverKey);
      if (server === undefined) {
        server = this.describeServer(gateway);
        servers.set(serverKey, server);
      }
      const namespace = options.namespace;
      const name = namespace instanceof RegExp ? namespace.source : normalizeNamespace(namespace);
      const key = `${serverKey} ${name}`;
      let group = byKey.get(key);
      if (group === undefined) {
        group = { entry: { ...server, namespace: name, dynamic: namespace instanceof RegExp }, handlers: [] };
        byKey.set(key, group);
      }
      group.handlers.push(...this.describeHandlers(gateway));
    }
    // `/` exists on every Socket.IO server and is secured like any other namespace.
    for (const [serverKey, server] of servers) {
      if (!byKey.has(`${serverKey} /`)) byKey.set(`${serverKey} /`, { entry: { ...server, namespace: '/', dynamic: false }, handlers: [] });
    }
    const namespaces = [...byKey.values()]
      .map(({ entry, handlers }) => Object.freeze({ ...entry, handlers: Object.freeze(handlers.sort((a, b) => a.event.localeCompare(b.event))) }))
      .sort((a, b) => a.port - b.port || a.path.localeCompare(b.path) || a.namespace.localeCompare(b.namespace));
    const denied = namespaces.flatMap((ns) => ns.handlers.filter((h) => h.access === 'denied'));
    const streams = Object.freeze(this.describeStreams());
    return Object.freeze({
      builtAt: Date.now(),
      namespaces: Object.freeze(namespaces),
      denied: Object.freeze(denied),
      undeclaredNamespaces: 'same handshake (authenticated, Origin-checked, limited); no handlers',
      state: this.options.redis === null ? 'in-memory' : 'redis',
      streams,
      deniedStreams: Object.freeze(streams.filter((s) => s.access === 'denied')),
    });
  }

  /** Every `@Sse()` route with what it accepts and needs. */
  private describeStreams(): StreamInventoryEntry[] {
    const o = this.options;
    const credentials = [
      ...(o.sse.tickets.enabled ? [`stream ticket (?${o.sse.tickets.queryParameter}=, single use, ${o.sse.tickets.ttlMs} ms)`] : []),
      ...(o.credentials.authorizationHeader ? ['Authorization: Bearer header'] : []),
      ...(o.credentials.cookieName !== null ? [`cookie ${o.credentials.cookieName}`] : []),
    ];
    return this.sseRoutes.map((route) => {
      const rule = readSseRule(route.handler, route.controller);
      const resource = rule.kind === 'permission' && rule.resource !== undefined ? (typeof rule.resource === 'string' ? rule.resource : '(function)') : undefined;
      return Object.freeze({
        path: route.path, controller: route.controller.name, method: route.methodName, access: rule.kind,
        ...(rule.kind === 'permission' ? { permission: rule.permission } : {}),
        ...(resource !== undefined ? { resource } : {}),
        credentials,
        origins: { enforce: o.origins.enforce, allowed: [...o.origins.allowed] },
        limits: {
          maxConnectionsPerUser: o.connections.maxPerUser, maxConnectionsTotal: o.connections.maxTotal,
          handshakesPerAddress: o.rateLimit.handshakesPerAddress, handshakeWindowMs: o.rateLimit.handshakeWindowMs,
          maxBufferedBytes: route.maxPendingDataLength ?? o.sse.maxBufferedBytes, heartbeatMs: o.sse.heartbeatMs, maxLifetimeMs: o.sse.maxLifetimeMs,
        },
      });
    }).sort((a, b) => a.path.localeCompare(b.path));
  }

  /** The server-wide settings, from the gateway whose options created the server. */
  private describeServer(gateway: Type<unknown>): Omit<NamespaceInventoryEntry, 'handlers' | 'namespace' | 'dynamic'> {
    const options = gatewayOptions(gateway);
    const raw = options as { transports?: unknown; allowUpgrades?: unknown; maxHttpBufferSize?: unknown; connectTimeout?: unknown };
    const o = this.options;
    const credentials = [
      ...(o.credentials.authPayload ? ['auth.token (handshake payload)'] : []),
      ...(o.credentials.authorizationHeader ? ['Authorization: Bearer header'] : []),
      ...(o.credentials.cookieName !== null ? [`cookie ${o.credentials.cookieName}`] : []),
    ];
    return {
      path: options.path ?? DEFAULT_PATH,
      port: gatewayPort(gateway),
      transports: Array.isArray(raw.transports) ? raw.transports.map(String) : DEFAULT_TRANSPORTS,
      allowUpgrades: raw.allowUpgrades !== false,
      credentials,
      origins: { enforce: o.origins.enforce, allowed: [...o.origins.allowed] },
      tokens: { graceSeconds: o.tokens.graceMs / 1000, refreshEvent: o.tokens.refreshEvent },
      limits: {
        maxConnectionsPerUser: o.connections.maxPerUser,
        maxConnectionsTotal: o.connections.maxTotal,
        maxMessageBytes: Math.min(typeof raw.maxHttpBufferSize === 'number' ? raw.maxHttpBufferSize : Infinity, o.transport.maxMessageBytes),
        connectTimeoutMs: Math.min(typeof raw.connectTimeout === 'number' ? raw.connectTimeout : Infinity, o.transport.connectTimeoutMs),
        maxAttachments: o.transport.maxAttachments,
        maxBufferedBytes: o.transport.maxBufferedBytes,
        messagesPerUser: o.rateLimit.messageLimit,
        messageWindowMs: o.rateLimit.messageWindowMs,
        handshakesPerAddress: o.rateLimit.handshakesPerAddress,
        handshakeWindowMs: o.rateLimit.handshakeWindowMs,
      },
    };
  }

  private describeHandlers(gateway: Type<unknown>): HandlerInventoryEntry[] {
    return gatewayHandlers(gateway).map(({ methodName, event, callback }) => {
      const rule = readAccessRule(callback, gateway);
      const base = { event, gateway: gateway.name, method: methodName };
      if (rule.kind !== 'permission') return Object.freeze({ ...base, access: rule.kind });
      const resource = describeSelector(rule.resource);
      return Object.freeze({ ...base, access: 'permission' as const, permission: rule.permission, ...(resource !== undefined ? { resource } : {}) });
    });
  }
}

function normalizeNamespace(namespace: string | undefined): string {
  if (namespace === undefined || namespace === '') return '/';
  return namespace.startsWith('/') ? namespace : `/${namespace}`;
}
