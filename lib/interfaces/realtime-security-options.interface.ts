import type { SseOptions } from '../sse/sse-options.interface.js';
import type { Type } from '@nestjs/common';
import type { RealtimeAuthenticator } from './authenticator.interface.js';
import type { PermissionResolver } from './permission-resolver.interface.js';
import type { ConnectionLeaseStore } from './connection-lease-store.interface.js';
import type { PresenceStore, RoomMemberMeta } from './presence-store.interface.js';
import type { Principal } from './principal.interface.js';
import type { WsThrottlerStorage } from '../throttling/ws-throttler-storage.interface.js';
import type { Cluster, Redis } from 'ioredis';
import type { MeterProvider } from '@opentelemetry/api';
import type { JSONWebKeySet } from 'jose';

/** JWT algorithms that may be pinned. `none` is deliberately absent; `EdDSA` is Ed25519. */
export type JwtAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'EdDSA';

/** A JSON Web Key Set (RFC 7517 §5): `{ keys: [...] }`, public keys only. */
export type JsonWebKeySet = JSONWebKeySet;

/**
 * Returns the current key set, e.g. read from a file or fetched with the app's own HTTP client.
 * Called like the URL is fetched: at start, every `jwksRefresh.intervalMs`, and for an unknown
 * `kid` at most once per `jwksRefresh.cooldownMs`; a throw or a timeout keeps the last good set.
 */
export type JwksLoader = () => JsonWebKeySet | Promise<JsonWebKeySet>;

/** How the `jwt.jwks` key set is kept fresh. */
export interface JwksRefreshOptions {
  /** The key set is fetched again in the background this often, in ms (1,000..86,400,000). @default 300000 (5 min) */
  intervalMs?: number;
  /**
   * Least time between two fetches caused by tokens whose `kid` is not in the set, in ms
   * (100..600,000): however many such handshakes arrive, they share one fetch per cooldown and
   * wait for it (a valid key published since the last fetch is found; a random `kid` costs nothing).
   * Also the least time between two attempts while the key set cannot be fetched. `cooldownMs` +
   * `timeoutMs` must stay below `transport.connectTimeoutMs` (the longest such a handshake waits).
   * @default 5000
   */
  cooldownMs?: number;
  /** A fetch (or `JwksLoader` call) that has not answered after this many ms fails (100..60,000). @default 3000 */
  timeoutMs?: number;
}

/**
 * How JWTs are verified: `HS*`, `RS*`, `ES*`, `PS*` with one static key through `@nestjs/jwt`;
 * `EdDSA` and key sets (`jwks`) through `jose`. Exactly one of `secret`, `publicKey`, `jwks`.
 */
export interface JwtVerificationOptions {
  /** HMAC key for `HS*` algorithms, at least 32 bytes. @default undefined */
  secret?: string | Buffer;
  /** PEM public key for `RS*`, `ES*`, `PS*`, `EdDSA` algorithms. @default undefined */
  publicKey?: string | Buffer;
  /**
   * The issuer's JSON Web Key Set: its URL (`https://`, or `http://` to a loopback host), or a
   * function returning it. A token's key is chosen by its `kid`, and the key's `kty`, `alg`,
   * `use` and `key_ops` must fit the token's pinned algorithm. Cached and refreshed in the
   * background (see `jwksRefresh`); with no key set fetched yet, handshakes are refused with
   * `SERVICE_UNAVAILABLE`. Only public-key algorithms may be pinned with it. @default undefined
   */
  jwks?: string | URL | JwksLoader;
  /** Refresh interval, unknown-`kid` cooldown and timeout of `jwks`. @default { intervalMs: 300000, cooldownMs: 5000, timeoutMs: 3000 } */
  jwksRefresh?: JwksRefreshOptions;
  /**
   * The only algorithms accepted; never empty, never `none`, never HMAC and public-key together.
   * @default ['HS256'], or ['RS256'] with `jwks`
   */
  algorithms?: JwtAlgorithm[];
  /** Required `iss` claim (one of). @default undefined (not checked) */
  issuer?: string[];
  /** Required `aud` claim (one of). @default undefined (not checked) */
  audience?: string[];
  /**
   * Clock skew tolerated on `exp` and `nbf`, in seconds (0..300). A token is accepted until
   * `exp` + this (the principal's `expiresAt`); a connected socket closes then, plus `tokens.graceSeconds`.
   * @default 5
   */
  clockToleranceSeconds?: number;
  /** Claim that holds the tenant id (required in every token). @default 'tenant' */
  tenantClaim?: string;
  /** Claim that holds the permission list. @default 'perms' */
  permissionsClaim?: string;
}

/** Which credentials a handshake may carry. */
export interface CredentialOptions {
  /** Accept the Socket.IO handshake payload `auth: { token }`. @default true */
  authPayload?: boolean;
  /** Accept an `Authorization: Bearer <token>` header on the handshake request. @default true */
  authorizationHeader?: boolean;
  /**
   * Accept a cookie of this name (browsers). Needs `origins.allowed`. Prefer a `__Host-` name
   * (e.g. `'__Host-rt_session'`, set with `Secure; Path=/` and no `Domain`): no sibling subdomain
   * can then plant one. A handshake carrying the cookie twice is refused `UNAUTHORIZED`.
   * @default undefined (cookies ignored)
   */
  cookieName?: string;
}

/**
 * When the Origin header is checked against the allowlist:
 * - `cookie`: for cookie-authenticated handshakes (the cross-site WebSocket hijacking case);
 * - `browser`: whenever a handshake carries an Origin header (non-browser clients send none);
 * - `always`: every handshake must carry an allowed Origin.
 */
export type OriginEnforcement = 'cookie' | 'browser' | 'always';

/** The Origin allowlist. */
export interface OriginOptions {
  /** Exact origins, `scheme://host[:port]`; no wildcards, no suffix matching. @default [] */
  allowed?: string[];
  /** When the allowlist is enforced. @default 'cookie' */
  enforce?: OriginEnforcement;
}

/** Token lifetime while connected. */
export interface TokenLifetimeOptions {
  /** Seconds a socket may stay open after its token's `exp` (0..300). @default 0 */
  graceSeconds?: number;
  /** The event a client emits with `{ token }` to refresh in band. @default 'auth:refresh' */
  refreshEvent?: string;
}

/** Connection ceilings, checked at handshake. */
export interface ConnectionLimitOptions {
  /** Open connections one user may hold across all namespaces (1..10). @default 5 */
  maxPerUser?: number;
  /** Open connections this process accepts in all (1..1,000,000); past it `SERVICE_UNAVAILABLE`. @default 10000 */
  maxTotal?: number;
  /**
   * Where per-user slots are counted (class, built through Nest DI, or instance). Must pass the
   * lease store contract suite. @default InMemoryConnectionLeaseStore
   */
  store?: Type<ConnectionLeaseStore> | ConnectionLeaseStore;
}

/** The user a presence change is about. */
export interface PresenceSubject {
  readonly tenantId: string;
  readonly userId: string;
}

/**
 * Decides whether `viewer` (the live principal of a connected socket of the subject's own
 * tenant) may receive a subject's presence. Sockets of other tenants are never asked.
 */
export type PresenceAudience = (viewer: Principal, subject: PresenceSubject) => boolean;

/** The built-in `presence_update` broadcast. */
export interface PresenceBroadcastOptions {
  /** Namespaces whose sockets may receive it, exact names such as `'/chat'`; empty turns it off. @default [] */
  namespaces?: string[];
  /** The event name. @default 'presence_update' */
  event?: string;
  /**
   * The permission a viewer needs (grammar of `@WsAuthorize`); used when `audience` is not given.
   * @default 'presence:read'
   */
  permission?: string;
  /** Replaces the permission check (the same-tenant rule always applies). @default undefined */
  audience?: PresenceAudience;
}

/** The room a member joined through `TenantRooms`: its resource and id (for example `channel`, `general`). */
export interface PresenceRoomRef {
  readonly resource: string;
  readonly id: string;
}

/**
 * Server-side fields of a room member, computed at each join from the live principal (for
 * example `{ role: 'host' }`); `undefined`/`null` for none. Never fed by client input.
 */
export type RoomMemberMetadata = (principal: Principal, room: PresenceRoomRef) => RoomMemberMeta | null | undefined;

/** Live room diffs (`presence_diff`) to the members of a room. */
export interface RoomPresenceDiffOptions {
  /** Namespaces whose sockets in the room may receive diffs, exact names such as `'/chat'`; empty turns diffs off. @default [] */
  namespaces?: string[];
  /** The event name. Its payload is `{ <resource>Id, joins, leaves }` (for `channel`: `channelId`). @default 'presence_diff' */
  event?: string;
  /**
   * The permission a member needs to receive diffs, checked on the room's id at send time
   * (`presence:read` covers every room, `presence:read:general` one). @default 'presence:read'
   */
  permission?: string;
  /** Changes are gathered this many ms and sent as one diff per room (10..10000). @default 100 */
  intervalMs?: number;
  /**
   * A socket joining a room first receives its current members as diffs of joins, up to this
   * many (0..100000; 0: no snapshot); the rest through the paged queries. @default 1000
   */
  snapshotMaxMembers?: number;
}

/** Room presence: who is in each room joined through `TenantRooms`. */
export interface RoomPresenceOptions {
  /** Track who is in each room (`PresenceService.listInRoom` and friends). @default false */
  enabled?: boolean;
  /**
   * Rooms one socket may be in through `TenantRooms.join` (1..10000); the next join is refused
   * with `ROOM_LIMIT`. Applies whether or not room presence is on. @default 100
   */
  maxRoomsPerConnection?: number;
  /** Server-side fields of each member. @default undefined (none) */
  metadata?: RoomMemberMetadata;
  /** Live diffs to the room. @default { namespaces: [] } (off) */
  diff?: RoomPresenceDiffOptions;
}

/** Server-computed presence. */
export interface PresenceOptions {
  /** Room presence and its live diffs. @default { enabled: false, maxRoomsPerConnection: 100 } */
  rooms?: RoomPresenceOptions;
  /**
   * A reconnect within this many ms of the last close announces neither offline nor online
   * (0..60000; 0 announces every change at once). Queries are never delayed. @default 2000
   */
  flapWindowMs?: number;
  /** Broadcast `presence_update` to allowed sockets. @default { namespaces: [] } (off) */
  broadcast?: PresenceBroadcastOptions;
  /**
   * Where presence lives (class, built through Nest DI, or instance). Must pass the presence
   * store contract suite. @default InMemoryPresenceStore
   */
  store?: Type<PresenceStore> | PresenceStore;
}

/** Socket.IO and Engine.IO settings the adapter applies; gateway options cannot loosen them. */
export interface TransportOptions {
  /** Largest message or polling body in bytes; polling over it gets 413, websocket is closed. @default 65536 */
  maxMessageBytes?: number;
  /** A client that does not send CONNECT within this many ms is closed. @default 10000 */
  connectTimeoutMs?: number;
  /** Engine.IO ping interval in ms. @default 25000 */
  pingIntervalMs?: number;
  /** Engine.IO ping timeout in ms. @default 20000 */
  pingTimeoutMs?: number;
  /** WebSocket permessage-deflate (off: a compressed bomb cannot bypass the size cap). @default false */
  perMessageDeflate?: boolean;
  /** Binary attachments one message may carry (0..100); a packet announcing more closes the connection. @default 10 */
  maxAttachments?: number;
  /**
   * Bytes queued for one client that does not read (65,536..268,435,456); past it the connection
   * is dropped and its queue discarded. Bytes the kernel accepted do not count; a burst sent to
   * one client within one tick does, so keep it above your largest burst. @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
}

/**
 * Message and handshake rate limits. Message limits run as a global guard on every gateway
 * handler, per user (all sockets together); see `WsThrottlerGuard`.
 */
export interface RateLimitOptions {
  /**
   * Messages one user may send per `messageWindowMs`, all sockets (and, with a shared storage,
   * all nodes) together (0..1,000,000); past it the ack resolves `RATE_LIMITED` with
   * `retryAfterMs`. A handler with its own `@Throttle({ default: { limit, ttl } })` (or
   * `@WsThrottle`) counts separately; `@SkipThrottle()` (or `@WsSkipThrottle()`) exempts one.
   * 0 turns message limits off. @default 100
   */
  messageLimit?: number;
  /** The window of `messageLimit`, in ms (1000..3,600,000). @default 10000 */
  messageWindowMs?: number;
  /**
   * Strikes a socket may get in a row; the next one disconnects it (0..1000; 0 disconnects on the
   * first strike). A strike is a refusal decided after the grace (`strikeGraceMs`); the socket's
   * acks already promised are answered before the close. An accepted message resets the count.
   * @default 5
   */
  strikes?: number;
  /**
   * How long after a socket's first refusal (since its last accepted message) further refusals
   * count no strike, in ms (0..60,000): the time the refusal needs to reach the client and the
   * client to stop, so a burst already in flight (an offline outbox flushed at once) is answered
   * `RATE_LIMITED` without a penalty. At most 10 × the limit refusals are forgiven this way; a
   * client that keeps sending after the grace is disconnected after `strikes` more refusals.
   * 0 counts every refusal as a strike. @default 2000
   */
  strikeGraceMs?: number;
  /**
   * Where message counters live: a `@nestjs/throttler` `ThrottlerStorage` (class, built through
   * Nest DI, or instance). Share one (e.g. on Redis) between nodes to limit users cluster-wide.
   * @default InMemoryThrottlerStorage
   */
  storage?: Type<WsThrottlerStorage> | WsThrottlerStorage;
  /**
   * Engine.IO handshakes accepted from one address per `handshakeWindowMs` (IPv6 per /64), as a
   * token bucket (0..1,000,000); past it HTTP 403 `RATE_LIMITED`. 0 turns it off. @default 600
   */
  handshakesPerAddress?: number;
  /** The window of `handshakesPerAddress`, in ms (1000..3,600,000). @default 60000 */
  handshakeWindowMs?: number;
  /** Addresses remembered at once (100..10,000,000); the least recently seen is forgotten first. @default 100000 */
  maxTrackedAddresses?: number;
  /**
   * Socket.IO CONNECTs one authenticated user may make per `handshakeWindowMs` on each node, as a
   * token bucket (0..1,000,000); past it the CONNECT is refused `RATE_LIMITED` before any Redis
   * call, which bounds the Redis traffic one user's connect churn causes. Every CONNECT (after a
   * connection's first) is also charged to the address bucket of `handshakesPerAddress`. 0 turns
   * the per-user limit off. @default 600
   */
  connectsPerUser?: number;
  /**
   * Refused CONNECTs one Engine.IO connection may get (1..100); the last one closes it, so a
   * client guessing credentials pays a new handshake every few tries. @default 3
   */
  refusedConnectsPerConnection?: number;
  /**
   * Reverse proxies in front of the app, by exact IP address (at most 100). A handshake whose TCP
   * peer is one of them is counted against the client it names in `X-Forwarded-For` (the
   * right-most entry that is not itself a listed proxy; the peer when the header is missing or
   * malformed), so clients behind one proxy do not share its handshake budget. The header is
   * never read from any other peer. @default [] (the header is never trusted)
   */
  trustedProxies?: readonly string[];
}

/** A room Socket.IO restored to a recovered socket that is not a {@link TenantRooms} room. */
export interface RecoveredRoom {
  /** The recovering socket's principal (moderation override applied), already authenticated as the session's own user. */
  readonly principal: Principal;
  /** The room name as the previous connection had it. */
  readonly room: string;
  /** The socket's namespace, e.g. `'/chat'`. */
  readonly namespace: string;
}

/**
 * Socket.IO connection-state recovery (a gateway's `connectionStateRecovery`). Socket.IO puts a
 * recovered socket back in its previous rooms before any middleware; the handshake then
 * re-checks each one before the socket connects, and drops the rooms that fail together with
 * the missed packets sent to them.
 */
export interface RecoveryOptions {
  /**
   * Decides whether a recovered socket keeps a room that is not a `TenantRooms` room (tenant
   * rooms are re-checked like a join). `false`, a throw or a rejection drops the room. The
   * socket's own id room is always kept. @default undefined (every such room is dropped)
   */
  authorizeRoom?: (room: RecoveredRoom) => boolean | Promise<boolean>;
}

/** Per-message authorization (`@WsAuthorize`). */
export interface AuthorizationOptions {
  /**
   * Decides permissions instead of the principal's claims (class, built through Nest DI, or
   * instance); may be async, e.g. a membership lookup. An error it throws refuses the message
   * with `INTERNAL`. @default undefined (the claims resolver: the principal's `permissions`)
   */
  permissionResolver?: Type<PermissionResolver> | PermissionResolver;
  /**
   * What a resource id named by a message (`@WsAuthorize(p, { resource })`, `TenantRooms`) must
   * match, on top of fixed rules that always apply: 1..256 characters, no control, format or
   * unassigned characters, no `:` or `*`, not `__proto__`/`constructor`/`prototype`. No `g`/`y` flag.
   * @default /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
   */
  resourceIdPattern?: RegExp;
}

/**
 * While Redis cannot be reached:
 * - `fail-closed`: new handshakes are refused with `SERVICE_UNAVAILABLE` (no slot can be counted,
 *   no ban can be checked);
 * - `fail-open`: new handshakes are accepted with this node's own per-user count and no ban or
 *   permission-override check (bans stored before the outage are enforced again on recovery).
 * Either way, open connections stay open, token expiry keeps being enforced, and state is
 * rebuilt from the live sockets when Redis is back.
 */
export type RedisUnavailablePolicy = 'fail-closed' | 'fail-open';

/**
 * Cluster mode: every guarantee holds across all nodes sharing one Redis (standalone or Sentinel)
 * or one sharded Redis Cluster (Redis 7+; broadcasts then use sharded pub/sub).
 */
export interface RedisClusterOptions {
  /** `redis://[:password@]host:port[/db]` (`rediss://` for TLS). Exactly one of `url`, `nodes` or `client` is required. @default undefined */
  url?: string;
  /**
   * Seed nodes of a Redis Cluster (7+), as `host:port` (1..64 of them; the rest of the cluster is
   * discovered from them). For a password or TLS, pass your own `Cluster` as `client`.
   * @default undefined
   */
  nodes?: readonly string[];
  /**
   * An ioredis client whose connection settings are reused: a `Redis` (one instance) or a
   * `Cluster` (Redis Cluster). The library opens its own connections with `client.duplicate()`
   * and never closes this one. @default undefined
   */
  client?: Redis | Cluster;
  /** Prefix of every key, stream and channel (1..64 characters, no spaces, `{}` or `*?[]`). @default 'rts:' */
  keyPrefix?: string;
  /**
   * This process's name (1..64 of letters, digits and `._:-`); a random suffix is added at each
   * start, so a restarted process never inherits its predecessor's connections.
   * @default `${hostname}-${pid}`
   */
  nodeId?: string;
  /** How often each node renews its heartbeat, in ms (200..10,000). @default 1000 */
  heartbeatMs?: number;
  /**
   * A node without a heartbeat for this long (ms, at least 3 × `heartbeatMs`, at most 60,000) is
   * dead: another node releases its slots and takes its users offline. The bound on ghosts is
   * `nodeTimeoutMs + heartbeatMs` plus the reaping itself. @default 5000
   */
  nodeTimeoutMs?: number;
  /** Bound on one Redis command, in ms (100..10,000); past it the call fails like an outage. @default 2000 */
  commandTimeoutMs?: number;
  /** What new handshakes get while Redis is unreachable (see {@link RedisUnavailablePolicy}). @default 'fail-closed' */
  onUnavailable?: RedisUnavailablePolicy;
}

/**
 * OpenTelemetry metrics of every security decision, through `@opentelemetry/api` only: the app
 * brings the SDK and the exporter (Prometheus, OTLP). Attributes come from closed sets only (no
 * user, tenant, token, address or client-chosen text).
 */
export interface MetricsOptions {
  /**
   * Record metrics. With no meter provider registered, the API's no-op meter makes them free, so
   * this is on by default: registering an SDK is all an app does to get them.
   * @default true
   */
  enabled?: boolean;
  /**
   * Prefix of every instrument name (`realtime_security.handshakes` → Prometheus
   * `realtime_security_handshakes_total`): a letter, then letters, digits, `_` or `.` (at most 64).
   * @default 'realtime_security'
   */
  prefix?: string;
  /**
   * The meter provider to use instead of the global one (`metrics.setGlobalMeterProvider()`).
   * The global one is read at application bootstrap, so register it before `app.listen()`.
   * @default undefined (the global provider)
   */
  meterProvider?: MeterProvider;
}

/** Everything `RealtimeSecurityModule.forRoot()` accepts. */
export interface RealtimeSecurityOptions {
  /** JWT verification. Required unless `authenticator` is given. @default undefined */
  jwt?: JwtVerificationOptions;
  /**
   * A custom authenticator (class, resolved through Nest DI, or instance) used instead of JWT.
   * @default undefined (the JWT authenticator)
   */
  authenticator?: Type<RealtimeAuthenticator> | RealtimeAuthenticator;
  /** Accepted credential carriers. @default { authPayload: true, authorizationHeader: true } */
  credentials?: CredentialOptions;
  /** Origin allowlist and when it applies. @default { allowed: [], enforce: 'cookie' } */
  origins?: OriginOptions;
  /** Token expiry while connected and in-band refresh. @default { graceSeconds: 0, refreshEvent: 'auth:refresh' } */
  tokens?: TokenLifetimeOptions;
  /** Per-user and per-process connection ceilings. @default { maxPerUser: 5, maxTotal: 10000 } */
  connections?: ConnectionLimitOptions;
  /** Presence: flap damping, the `presence_update` broadcast, the store. @default see {@link PresenceOptions} */
  presence?: PresenceOptions;
  /** Transport limits and timeouts. @default see {@link TransportOptions} */
  transport?: TransportOptions;
  /** Message rate per user and handshake rate per address. @default see {@link RateLimitOptions} */
  rateLimit?: RateLimitOptions;
  /** Log security events through Nest's logger. @default true */
  logSecurityEvents?: boolean;
  /** Per-message authorization: the permission resolver, the resource id shape. @default see {@link AuthorizationOptions} */
  authorization?: AuthorizationOptions;
  /** What a session recovered by Socket.IO's connection-state recovery keeps. @default { authorizeRoom: undefined } (non-tenant rooms dropped) */
  recovery?: RecoveryOptions;
  /** Log the security inventory (every namespace and handler with its permission) at start-up. @default true */
  logInventory?: boolean;
  /**
   * Cluster mode on Redis: connection slots, presence, bans, rate limits and broadcasts shared by
   * every node. @default undefined (single node, in-memory state)
   */
  redis?: RedisClusterOptions;
  /** OpenTelemetry metrics: on/off, the name prefix, the meter provider. @default { enabled: true, prefix: 'realtime_security' } */
  metrics?: MetricsOptions;
  /** Server-Sent Events (`@Sse()` routes): heartbeats, slow readers, lifetime, stream tickets. @default see {@link SseOptions} */
  sse?: SseOptions;
}
