import { Inject, Injectable } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { HandshakeRateLimiter } from './handshake-rate.limiter.js';

type EngineConnection = Socket['conn'];

interface ConnectionCounts {
  connects: number;
  refused: number;
}

interface UserBucket {
  tokens: number;
  at: number;
  /** A refusal was reported since the last accepted CONNECT (one event per flood). */
  reported: boolean;
}

/** Users whose CONNECT buckets are remembered at once; the least recently seen is forgotten first. */
const MAX_TRACKED_USERS = 100_000;

/**
 * Socket.IO CONNECT packets, which one Engine.IO connection may send without end (each namespace
 * connect, each refused one, each connect after a disconnect). Every CONNECT is charged:
 * - to the address, in the same bucket as Engine.IO handshakes (`rateLimit.handshakesPerAddress`;
 *   a connection's first CONNECT is covered by its Engine.IO handshake), before anything else;
 * - once authenticated, to the user (`rateLimit.connectsPerUser` per `rateLimit.handshakeWindowMs`,
 *   a token bucket per node), before the handshake's first Redis call, so one user's CONNECT
 *   churn costs Redis at most that many handshakes per window on each node;
 * and a connection whose CONNECTs were refused `rateLimit.refusedConnectsPerConnection` times is
 * closed (a credential guesser must open a new connection, and pay a handshake, every few tries).
 */
@Injectable()
export class ConnectRateLimiter {
  private readonly connections = new WeakMap<EngineConnection, ConnectionCounts>();
  private readonly users = new Map<string, UserBucket>();
  private readonly userCapacity: number;
  private readonly userPerMs: number;
  private readonly maxRefused: number;

  constructor(
    @Inject(RESOLVED_OPTIONS) options: ResolvedRealtimeSecurityOptions,
    private readonly addresses: HandshakeRateLimiter,
    private readonly events: SecurityEventsService,
  ) {
    this.userCapacity = options.rateLimit.connectsPerUser;
    this.userPerMs = options.rateLimit.connectsPerUser / options.rateLimit.handshakeWindowMs;
    this.maxRefused = options.rateLimit.refusedConnectsPerConnection;
  }

  /** Users tracked now (bounded). */
  get trackedUsers(): number {
    return this.users.size;
  }

  /** Charges this CONNECT to the connection's address; `false` when the address has none left. */
  chargeAddress(socket: Socket): boolean {
    const counts = this.countsOf(socket.conn);
    counts.connects += 1;
    // The first CONNECT of a connection was paid by its Engine.IO handshake; later ones go to the
    // same bucket (behind a trusted proxy, the forwarded client's, not the proxy's).
    return counts.connects === 1 || this.addresses.tryAcquire(this.addresses.clientAddress(socket.request));
  }

  /** Charges this CONNECT to the authenticated user (`userKey`); `false` past `connectsPerUser`. */
  chargeUser(principal: Pick<Principal, 'userId' | 'tenantId'>, userKey: string, now = Date.now()): boolean {
    if (this.userCapacity === 0) return true;
    const bucket = this.users.get(userKey);
    let tokens = this.userCapacity;
    let reported = false;
    if (bucket !== undefined) {
      tokens = Math.min(this.userCapacity, bucket.tokens + (now - bucket.at) * this.userPerMs);
      reported = bucket.reported;
      this.users.delete(userKey);
    } else if (this.users.size >= MAX_TRACKED_USERS) {
      const oldest = this.users.keys().next().value;
      if (oldest !== undefined) this.users.delete(oldest);
    }
    const allowed = tokens >= 1;
    // Map order is recency order: re-inserted last.
    this.users.set(userKey, { tokens: allowed ? tokens - 1 : tokens, at: now, reported: !allowed });
    if (!allowed && !reported) {
      this.events.emit({ kind: 'rate_limited', code: SecurityErrorCode.RATE_LIMITED, userId: principal.userId, tenantId: principal.tenantId, reason: 'connects_per_user' });
    }
    return allowed;
  }

  /** Counts a refused CONNECT; `true` when the connection has used up its refusals and must close. */
  refused(socket: Socket): boolean {
    const counts = this.countsOf(socket.conn);
    counts.refused += 1;
    return counts.refused >= this.maxRefused;
  }

  private countsOf(conn: EngineConnection): ConnectionCounts {
    let counts = this.connections.get(conn);
    if (counts === undefined) {
      counts = { connects: 0, refused: 0 };
      this.connections.set(conn, counts);
    }
    return counts;
  }
}
