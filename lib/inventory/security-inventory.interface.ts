import type { OriginEnforcement } from '../interfaces/realtime-security-options.interface.js';

/** How a handler is reached. */
export type HandlerAccess = 'permission' | 'public' | 'denied';

/** One `@SubscribeMessage` handler and what it needs. */
export interface HandlerInventoryEntry {
  /** The event, as subscribed. */
  readonly event: string;
  /** Gateway class name. */
  readonly gateway: string;
  readonly method: string;
  /** `permission`: `@WsAuthorize`; `public`: `@WsPublic()`; `denied`: no decorator (refused with `FORBIDDEN`). */
  readonly access: HandlerAccess;
  /** The required permission, for `permission`. */
  readonly permission?: string;
  /** Where the resource id comes from (`channelId`, or `(function)`), when the permission is per instance. */
  readonly resource?: string;
}

/** One secured namespace, as a security reviewer reads it. */
export interface NamespaceInventoryEntry {
  /** The namespace (`/chat`), or a regex source for dynamic namespaces. */
  readonly namespace: string;
  readonly dynamic: boolean;
  /** The Socket.IO path. Transports and limits below are those of the server on this port and path. */
  readonly path: string;
  /** 0 when served on the HTTP server's port. */
  readonly port: number;
  readonly transports: readonly string[];
  /** Polling may upgrade to websocket. */
  readonly allowUpgrades: boolean;
  /** Credential carriers accepted at the handshake; a query-string token is always refused. */
  readonly credentials: readonly string[];
  readonly origins: {
    readonly enforce: OriginEnforcement;
    readonly allowed: readonly string[];
  };
  readonly tokens: {
    /** Seconds a socket may outlive its token; it is closed with `TOKEN_EXPIRED` then. */
    readonly graceSeconds: number;
    /** The in-band refresh event. */
    readonly refreshEvent: string;
  };
  readonly limits: {
    readonly maxConnectionsPerUser: number;
    readonly maxConnectionsTotal: number;
    /** The message-size cap (the smaller of the module's and the gateway's). */
    readonly maxMessageBytes: number;
    readonly connectTimeoutMs: number;
    /** Binary attachments per packet. */
    readonly maxAttachments: number;
    /** Bytes queued for a client that does not read before it is dropped. */
    readonly maxBufferedBytes: number;
    /** Messages per user (all sockets) per `messageWindowMs`; 0: off. */
    readonly messagesPerUser: number;
    readonly messageWindowMs: number;
    /** Engine.IO handshakes per address per `handshakeWindowMs`; 0: off. */
    readonly handshakesPerAddress: number;
    readonly handshakeWindowMs: number;
  };
  readonly handlers: readonly HandlerInventoryEntry[];
}

/** One `@Sse()` route: the streaming endpoint table of a security review. */
export interface StreamInventoryEntry {
  /** Controller path + route path, as declared (no global prefix). */
  readonly path: string;
  readonly controller: string;
  readonly method: string;
  /** `permission`: `@SseAuthorize`; `public`: `@SsePublic()`; `denied`: no decorator (refused with 403 `FORBIDDEN`). */
  readonly access: HandlerAccess;
  readonly permission?: string;
  readonly resource?: string;
  /** Credential carriers accepted before the first byte; a query-string token is always refused. */
  readonly credentials: readonly string[];
  readonly origins: { readonly enforce: OriginEnforcement; readonly allowed: readonly string[] };
  readonly limits: {
    /** Shared with the user's sockets. */
    readonly maxConnectionsPerUser: number;
    readonly maxConnectionsTotal: number;
    readonly handshakesPerAddress: number;
    readonly handshakeWindowMs: number;
    /** Bytes of events waiting for a slow reader before it is dropped. */
    readonly maxBufferedBytes: number;
    readonly heartbeatMs: number;
    /** 0: none. */
    readonly maxLifetimeMs: number;
  };
}

/** The start-up security inventory: every secured namespace and every handler with its access. */
export interface SecurityInventory {
  /** Epoch milliseconds. */
  readonly builtAt: number;
  readonly namespaces: readonly NamespaceInventoryEntry[];
  /** Handlers with neither `@WsAuthorize` nor `@WsPublic()`: refused at run time. */
  readonly denied: readonly HandlerInventoryEntry[];
  /** What happens on namespaces no gateway declares. */
  readonly undeclaredNamespaces: string;
  /** Where limits, presence, bans and permission changes live: this process, or Redis (cluster mode). */
  readonly state: 'in-memory' | 'redis';
  /** Every `@Sse()` route of the app, secured like a namespace. */
  readonly streams: readonly StreamInventoryEntry[];
  /** `@Sse()` routes with neither `@SseAuthorize` nor `@SsePublic()`: refused at run time. */
  readonly deniedStreams: readonly StreamInventoryEntry[];
}
