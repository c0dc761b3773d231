import { Inject, Injectable } from '@nestjs/common';
import type { Namespace, ServerOptions, Socket } from 'socket.io';
import { REDIS_CONNECTION } from '../cluster/cluster.constants.js';
import type { RedisConnection } from '../cluster/redis-connection.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { TenantRooms } from '../authorization/tenant-rooms.service.js';
import { ConnectionLifecycle } from '../connections/connection-lifecycle.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { TransportLimits } from '../throttling/transport-limits.service.js';
import { HandshakePipeline, type EngineGate, type NamespaceMiddleware } from './handshake.pipeline.js';
import { MessagePipeline } from './message.pipeline.js';

const secured = new WeakSet<Namespace>();

/** Puts the handshake and message pipelines on namespaces, and the safe settings on servers. */
@Injectable()
export class NamespaceSecurity {
  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    private readonly handshake: HandshakePipeline,
    private readonly messages: MessagePipeline,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly limits: TransportLimits,
    private readonly rooms: TenantRooms,
    @Inject(REDIS_CONNECTION) private readonly redis: RedisConnection | null,
  ) {}

  /**
   * Makes the handshake pipeline the first middleware of `nsp` and opens sessions on
   * `connection`. The app's later `use()` calls run inside the handshake, after authentication
   * (they see `socket.data.principal`). Children of a dynamic namespace inherit both from their
   * parent; a child's own `use()` calls run after its parent's. Idempotent.
   */
  secure(nsp: Namespace): void {
    if (secured.has(nsp)) return;
    secured.add(nsp);
    const children = new WeakMap<Namespace, NamespaceMiddleware[]>();
    let own: NamespaceMiddleware[] = [];
    nsp.use(this.handshake.middleware((socket) => (socket.nsp === nsp ? own : [...own, ...(children.get(socket.nsp) ?? [])])));
    own = captureUse(nsp);
    const parent = nsp as Namespace & { createChild?: (name: string) => Namespace };
    if (typeof parent.createChild === 'function') {
      const createChild = parent.createChild.bind(parent);
      parent.createChild = (name: string) => {
        const child = createChild(name);
        // Secured through its parent's middleware and listeners; Socket.IO then passes it to
        // `server.of(name)`, which must not secure it a second time.
        secured.add(child);
        children.set(child, captureUse(child));
        return child;
      };
    }
    nsp.on('connection', (socket: Socket) => {
      const session = this.lifecycle.open(socket);
      if (session === undefined) socket.disconnect(true);
      else {
        // The message pipeline first (closed or expired sessions are answered as such), then the limits.
        this.messages.install(session);
        this.limits.watch(socket);
        // Tenant rooms a recovered socket kept (re-checked at its handshake) enter room presence.
        if (socket.recovered) void this.rooms.enterRecovered(socket, session);
      }
    });
  }

  /** Gateway options with the library's limits applied on top; a gateway may tighten, not loosen. */
  serverOptions(gateway: Partial<ServerOptions> = {}): Partial<ServerOptions> {
    const t = this.options.transport;
    const recovery = gateway.connectionStateRecovery;
    const appGate = gateway.allowRequest;
    const gate: EngineGate = appGate === undefined
      ? this.handshake.engineGate
      : (req, callback) => this.handshake.engineGate(req, (err, ok) => (ok ? appGate(req, callback) : callback(err, ok)));
    const allowed = [...this.options.origins.allowed];
    // Cluster mode: broadcasts, rooms and disconnectSockets() reach every node (a gateway's own adapter wins).
    const adapter = gateway.adapter ?? this.redis?.socketIoAdapter();
    return {
      ...gateway,
      ...(adapter !== undefined ? { adapter } : {}),
      maxHttpBufferSize: Math.min(gateway.maxHttpBufferSize ?? Infinity, t.maxMessageBytes),
      connectTimeout: Math.min(gateway.connectTimeout ?? Infinity, t.connectTimeoutMs),
      pingInterval: t.pingIntervalMs,
      pingTimeout: t.pingTimeoutMs,
      perMessageDeflate: t.perMessageDeflate ? { threshold: 1024 } : false,
      allowEIO3: false,
      // Per-address handshake rate first: a flood never reaches the Origin check.
      allowRequest: this.limits.gate(gate),
      // Binary attachments per packet capped (a custom parser of the gateway's is kept as is).
      parser: gateway.parser ?? this.limits.parser,
      cors: gateway.cors ?? (allowed.length > 0 ? { origin: allowed, credentials: true } : undefined),
      // Recovery must never skip authentication.
      ...(recovery !== undefined ? { connectionStateRecovery: { ...recovery, skipMiddlewares: false } } : {}),
    };
  }
}

/** Redirects `nsp.use()` into a list the handshake runs at its app-middleware step. */
function captureUse(nsp: Namespace): NamespaceMiddleware[] {
  const list: NamespaceMiddleware[] = [];
  nsp.use = (fn: NamespaceMiddleware) => {
    list.push(fn);
    return nsp;
  };
  return list;
}
