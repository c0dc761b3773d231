import type { MeterProvider } from '@opentelemetry/api';
import type { Type } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import type { WsThrottlerStorage } from '../throttling/ws-throttler-storage.interface.js';
import type { RealtimeAuthenticator } from './authenticator.interface.js';
import type { PermissionResolver } from './permission-resolver.interface.js';
import type { ConnectionLeaseStore } from './connection-lease-store.interface.js';
import type { PresenceStore } from './presence-store.interface.js';
import type { ResolvedSseOptions } from '../sse/sse-options.interface.js';
import type { JwksLoader, JwtAlgorithm, OriginEnforcement, PresenceAudience, RecoveryOptions, RedisUnavailablePolicy, RoomMemberMetadata } from './realtime-security-options.interface.js';

/** Options after validation, with every default filled in. Internal. */
export interface ResolvedRealtimeSecurityOptions {
  readonly jwt: {
    readonly secret?: string | Buffer;
    readonly publicKey?: string | Buffer;
    readonly jwks?: ResolvedJwksOptions;
    readonly algorithms: readonly JwtAlgorithm[];
    readonly issuer?: readonly string[];
    readonly audience?: readonly string[];
    readonly clockToleranceSeconds: number;
    readonly tenantClaim: string;
    readonly permissionsClaim: string;
  } | null;
  readonly authenticator: Type<RealtimeAuthenticator> | RealtimeAuthenticator | null;
  readonly credentials: {
    readonly authPayload: boolean;
    readonly authorizationHeader: boolean;
    readonly cookieName: string | null;
  };
  readonly origins: {
    readonly allowed: ReadonlySet<string>;
    readonly enforce: OriginEnforcement;
  };
  readonly tokens: {
    readonly graceMs: number;
    readonly refreshEvent: string;
  };
  readonly connections: {
    readonly maxPerUser: number;
    readonly maxTotal: number;
    readonly store: Type<ConnectionLeaseStore> | ConnectionLeaseStore | null;
  };
  readonly presence: {
    readonly flapWindowMs: number;
    readonly broadcast: {
      readonly namespaces: ReadonlySet<string>;
      readonly event: string;
      readonly permission: string;
      readonly audience: PresenceAudience | null;
    };
    readonly store: Type<PresenceStore> | PresenceStore | null;
    readonly rooms: {
      readonly enabled: boolean;
      readonly maxRoomsPerConnection: number;
      readonly metadata: RoomMemberMetadata | null;
      readonly diff: {
        readonly namespaces: ReadonlySet<string>;
        readonly event: string;
        readonly permission: string;
        readonly intervalMs: number;
        readonly snapshotMaxMembers: number;
      };
    };
  };
  readonly transport: {
    readonly maxMessageBytes: number;
    readonly connectTimeoutMs: number;
    readonly pingIntervalMs: number;
    readonly pingTimeoutMs: number;
    readonly perMessageDeflate: boolean;
    readonly maxAttachments: number;
    readonly maxBufferedBytes: number;
  };
  readonly rateLimit: {
    readonly messageLimit: number;
    readonly messageWindowMs: number;
    readonly strikes: number;
    readonly strikeGraceMs: number;
    readonly storage: Type<WsThrottlerStorage> | WsThrottlerStorage | null;
    readonly handshakesPerAddress: number;
    readonly handshakeWindowMs: number;
    readonly maxTrackedAddresses: number;
    readonly connectsPerUser: number;
    readonly refusedConnectsPerConnection: number;
    readonly trustedProxies: readonly string[];
  };
  readonly logSecurityEvents: boolean;
  readonly authorization: {
    readonly permissionResolver: Type<PermissionResolver> | PermissionResolver | null;
    readonly resourceIdPattern: RegExp;
  };
  readonly recovery: {
    readonly authorizeRoom: NonNullable<RecoveryOptions['authorizeRoom']> | null;
  };
  readonly logInventory: boolean;
  readonly redis: ResolvedRedisOptions | null;
  readonly metrics: {
    readonly enabled: boolean;
    readonly prefix: string;
    readonly meterProvider: MeterProvider | null;
  };
  readonly sse: ResolvedSseOptions;
}

/** `jwt.jwks` after validation. Internal. */
export interface ResolvedJwksOptions {
  /** The parsed URL, or the app's loader. */
  readonly source: URL | JwksLoader;
  readonly intervalMs: number;
  readonly cooldownMs: number;
  readonly timeoutMs: number;
}

/** Cluster-mode options after validation. Internal. */
export interface ResolvedRedisOptions {
  readonly url: string | null;
  /** Seed nodes of a Redis Cluster. */
  readonly nodes: readonly { readonly host: string; readonly port: number }[] | null;
  readonly client: Redis | Cluster | null;
  readonly keyPrefix: string;
  /** The process's name as configured (the node id adds a per-start suffix). */
  readonly nodeName: string;
  readonly heartbeatMs: number;
  readonly nodeTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly onUnavailable: RedisUnavailablePolicy;
}
