import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import { HandshakeRefusedError } from '../exceptions/handshake-refused.error.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { ExpiryScheduler } from '../auth/expiry.scheduler.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { userKey as toUserKey } from '../utils/user-key.js';
import { ConnectionSession, attachSession, sessionOf, type ConnectionLease } from './connection-session.js';
import { errorText } from '../utils/error-text.js';
import { ThrottledLog } from '../utils/throttled-log.js';
import { flatString } from '../utils/flat-string.js';
import { socketDisconnectReason, terminationReason, type DisconnectReason } from '../metrics/metric-labels.js';
import { SecurityMetrics } from '../metrics/security-metrics.js';

/** A server-observed change of a user's physical connections. The only input presence has. */
export interface ConnectionLifecycleEvent {
  readonly type: 'connected' | 'disconnected';
  readonly userKey: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly leaseId: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

type EngineConnection = Socket['conn'];

/**
 * A connection of another transport (a Server-Sent Events stream) that holds a slot of the same
 * per-user ceiling, counts for presence, and is ended by moderation and shutdown like a socket.
 */
export interface StreamConnection {
  readonly lease: ConnectionLease;
  /** The effective principal (token claims with any moderation override). */
  readonly principal: Principal;
  /** Where it is served (e.g. the route path), for security events. */
  readonly route: string;
  /** Ends the stream; with a code, the client is told why first. Idempotent. */
  end(code: SecurityErrorCode | null): void;
  /** Moderation replaced the user's permissions (`null`: the token's own): re-check access. */
  applyPermissions(override: readonly string[] | null): void;
}

/** Sizes of the lifecycle's internal indexes, for leak checks and metrics. */
export interface ConnectionLifecycleStats {
  /** Connection slots (leases) this process holds, pending handshakes included. */
  readonly leases: number;
  /** Open namespace sockets. */
  readonly sessions: number;
  /** Users with at least one open socket on this node. */
  readonly users: number;
  /** Tenants with at least one open socket on this node. */
  readonly tenants: number;
  /** Sockets waiting on their token expiry. */
  readonly expiryTimers: number;
}

/**
 * The connection lifecycle, in order: `admit` (handshake, takes the slot) → `open` (the socket
 * exists) → `close` (every close path ends here, and releases the slot exactly once).
 *
 * Close paths, all through `close()`: the socket's `disconnect` event (client close, transport
 * error or abrupt TCP loss, ping timeout, server `disconnect()`, server shutdown); `terminate()`
 * (ban, moderation, token expiry); `settle()` for a socket that passed the handshake but never
 * connected (its client left, or a later step refused it); `closeAll()` at application shutdown.
 */
@Injectable()
export class ConnectionLifecycle implements OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeSecurity');
  /** A failing lease store fails every admission and release: one log line per interval per step. */
  private readonly failures = new ThrottledLog(this.logger);
  /** Leases per engine connection: the lease itself in the usual case (one user), a map by user key only past one. */
  private readonly leasesByConn = new WeakMap<EngineConnection, ConnectionLease | Map<string, ConnectionLease>>();
  /** Open sessions per user: the session itself in the usual case, a set only past one. */
  private readonly sessionsByUser = new Map<string, ConnectionSession | Set<ConnectionSession>>();
  private readonly sessionsByTenant = new Map<string, Set<ConnectionSession>>();
  private sessionCount = 0;
  private readonly expiry = new ExpiryScheduler<ConnectionSession>((session) => this.onExpiryDue(session));
  private readonly changes = new Subject<ConnectionLifecycleEvent>();
  private readonly principalChanges = new Subject<ConnectionSession>();
  private activeLeases = 0;
  /** Open streams (other transports) per user. */
  private readonly streamsByUser = new Map<string, Set<StreamConnection>>();
  private openStreams = 0;

  /** The `disconnect` listener of every open socket (called with the socket as `this`; `close` is idempotent). */
  private readonly onDisconnect: (this: Socket, reason: unknown) => void;

  /** Physical connections opening and closing, as observed by the server. */
  readonly changes$: Observable<ConnectionLifecycleEvent> = this.changes.asObservable();

  /** Open sessions whose principal was just replaced (token refresh, moderation override). */
  readonly principalChanges$: Observable<ConnectionSession> = this.principalChanges.asObservable();

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(ConnectionLeaseStore) private readonly leases: ConnectionLeaseStore,
    private readonly events: SecurityEventsService,
    private readonly metrics: SecurityMetrics,
  ) {
    const lifecycle = this;
    this.onDisconnect = function onDisconnect(this: Socket, reason: unknown): void {
      const session = sessionOf(this);
      if (session !== undefined) lifecycle.close(session, socketDisconnectReason(reason));
    };
    // Open connections and online users are read at collection time: nothing counted per connection.
    metrics.watchConnections({
      forEachOpenSocket: (visit) => {
        for (const held of this.sessionsByUser.values()) {
          if (held instanceof ConnectionSession) visit(held.socket.nsp.name, held.socket.conn.transport?.name);
          else for (const session of held) visit(session.socket.nsp.name, session.socket.conn.transport?.name);
        }
      },
      get onlineUsers() {
        return lifecycle.sessionsByUser.size;
      },
    });
  }

  /** Connections (leases) this process holds now. */
  get connectionCount(): number {
    return this.activeLeases;
  }

  /** Open streams (Server-Sent Events) on this node; each holds one of {@link connectionCount}. */
  get streamCount(): number {
    return this.openStreams;
  }

  /** Sizes of the internal indexes (they return to zero when every socket has closed). */
  get stats(): ConnectionLifecycleStats {
    return {
      leases: this.activeLeases,
      sessions: this.sessionCount,
      users: this.sessionsByUser.size,
      tenants: this.sessionsByTenant.size,
      expiryTimers: this.expiry.size,
    };
  }

  /**
   * Last handshake step: takes the user's connection slot (shared per physical connection) and
   * attaches the session. Throws `HandshakeRefusedError` when a ceiling is reached. `key` is the
   * principal's user key, when the caller has it already.
   */
  async admit(socket: Socket, principal: Principal, permissionOverride: readonly string[] | null, key = toUserKey(principal.tenantId, principal.userId)): Promise<ConnectionSession> {
    const lease = await this.takeLease(socket.conn, key, principal);
    const session = new ConnectionSession(socket, principal, lease, permissionOverride);
    attachSession(socket, session);
    return session;
  }

  /** Called once the Socket.IO middleware chain has finished: a session that never opened is closed. */
  settle(session: ConnectionSession): void {
    // Socket.IO connects (or drops) the socket on the tick after the chain ends.
    process.nextTick(() => {
      if (session.state === 'pending') this.close(session);
    });
  }

  /** The socket is connected: index it, schedule its expiry, and watch for its close. */
  open(socket: Socket): ConnectionSession | undefined {
    const session = sessionOf(socket);
    if (session === undefined || session.state !== 'pending') return undefined;
    session.state = 'open';
    addUserSession(this.sessionsByUser, session.userKey, session);
    addTo(this.sessionsByTenant, session.lease.tenantId, session);
    this.sessionCount += 1;
    socket.on('disconnect', this.onDisconnect);
    this.scheduleExpiry(session);
    if (!session.lease.opened) {
      session.lease.opened = true;
      this.emitChange('connected', session.lease);
    }
    return session;
  }

  /**
   * Every close path ends here; idempotent. Releases the slot when its last socket closes.
   * `reason` (for metrics) is what ended an open socket; a reason `terminate` set wins.
   */
  close(session: ConnectionSession, reason: DisconnectReason = 'server'): void {
    if (session.state === 'closed') return;
    if (session.state === 'open') this.metrics.disconnected(session.socket.nsp.name, session.endReason ?? reason);
    session.state = 'closed';
    this.expiry.cancel(session);
    if (removeUserSession(this.sessionsByUser, session.userKey, session)) this.sessionCount -= 1;
    removeFrom(this.sessionsByTenant, session.lease.tenantId, session);
    this.dropLeaseRef(session.socket.conn, session.lease);
  }

  /** Replaces the principal after an in-band refresh and moves the expiry deadline. */
  refresh(session: ConnectionSession, principal: Principal, permissionOverride: readonly string[] | null): void {
    session.tokenPrincipal = principal;
    session.principal = ConnectionSession.effective(principal, permissionOverride);
    if (session.state !== 'open') return;
    this.scheduleExpiry(session);
    this.principalChanges.next(session);
  }

  /** True while this lifecycle holds `session` open (O(1); no array built). */
  holds(session: ConnectionSession): boolean {
    const held = this.sessionsByUser.get(session.userKey);
    return held === session || (held instanceof Set && held.has(session));
  }

  /** Open sessions of a user on this node. */
  sessionsOf(userKey: string): readonly ConnectionSession[] {
    const held = this.sessionsByUser.get(userKey);
    return held === undefined ? [] : held instanceof ConnectionSession ? [held] : [...held];
  }

  /** Open sessions of a tenant on this node, every namespace (a live view: do not close while iterating). */
  tenantSessions(tenantId: string): ReadonlySet<ConnectionSession> {
    return this.sessionsByTenant.get(tenantId) ?? EMPTY;
  }

  /** Every open session on this node. */
  allSessions(): ConnectionSession[] {
    const all: ConnectionSession[] = [];
    for (const held of this.sessionsByUser.values()) {
      if (held instanceof ConnectionSession) all.push(held);
      else all.push(...held);
    }
    return all;
  }

  /** True when the token of this session is past its expiry plus grace. */
  isExpired(session: ConnectionSession, now = Date.now()): boolean {
    return session.principal.expiresAt + this.options.tokens.graceMs <= now;
  }

  /** Tells the client why (as an `exception` event), then closes its whole connection. */
  terminate(session: ConnectionSession, code: SecurityErrorCode): void {
    if (session.state === 'closed') return;
    session.endReason ??= terminationReason(code);
    const socket = session.socket;
    if (socket.connected) socket.emit('exception', new WsSecurityException(code).getBody());
    socket.disconnect(true);
    this.close(session);
  }

  /**
   * Closes every open socket of this node, releasing each slot once. Runs at application
   * shutdown, after Nest has closed the Socket.IO servers (so normally there is nothing left).
   */
  closeAll(): void {
    for (const session of this.allSessions()) {
      session.endReason ??= 'shutdown';
      session.socket.disconnect(true);
      this.close(session, 'shutdown');
    }
    for (const streams of [...this.streamsByUser.values()]) {
      for (const stream of [...streams]) stream.end(null);
    }
  }

  /**
   * A stream's admission: takes a slot of the user's ceiling (the same store, atomically, as
   * sockets) and of the per-process maximum. Throws `HandshakeRefusedError` (`CONNECTION_LIMIT`,
   * or `SERVICE_UNAVAILABLE` when the process is full or the store fails). The lease must reach
   * {@link releaseStream} exactly once, opened or not.
   */
  async admitStream(principal: Principal, key = toUserKey(principal.tenantId, principal.userId)): Promise<ConnectionLease> {
    if (this.activeLeases >= this.options.connections.maxTotal) {
      throw new HandshakeRefusedError(SecurityErrorCode.SERVICE_UNAVAILABLE);
    }
    this.activeLeases += 1;
    const id = nextLeaseId();
    const outcome = await Promise.resolve().then(() => this.leases.acquire(key, id, this.options.connections.maxPerUser)).catch((error: unknown) => {
      this.failures.error('acquire', `connection lease store failed on acquire: ${describe(error)}`);
      return null;
    });
    if (outcome !== true) {
      this.activeLeases -= 1;
      throw new HandshakeRefusedError(outcome === null ? SecurityErrorCode.SERVICE_UNAVAILABLE : SecurityErrorCode.CONNECTION_LIMIT);
    }
    return { id, userKey: key, userId: principal.userId, tenantId: principal.tenantId, granted: Promise.resolve(true), refs: 1, opened: false, released: false };
  }

  /** The stream is open: it counts for presence (`connected`) and moderation reaches it. */
  openStream(stream: StreamConnection): void {
    const { lease } = stream;
    if (lease.released || lease.opened) return;
    lease.opened = true;
    let set = this.streamsByUser.get(lease.userKey);
    if (set === undefined) {
      set = new Set();
      this.streamsByUser.set(lease.userKey, set);
    }
    set.add(stream);
    this.openStreams += 1;
    this.emitChange('connected', lease);
  }

  /** Every close path of a stream ends here: releases its slot once (idempotent). */
  releaseStream(stream: StreamConnection): void {
    const { lease } = stream;
    if (lease.released) return;
    lease.released = true;
    lease.refs = 0;
    this.activeLeases -= 1;
    const set = this.streamsByUser.get(lease.userKey);
    if (set !== undefined && set.delete(stream)) {
      this.openStreams -= 1;
      if (set.size === 0) this.streamsByUser.delete(lease.userKey);
    }
    this.leases.release(lease.userKey, lease.id).catch((error: unknown) => {
      this.failures.error('release', `connection lease store failed on release: ${describe(error)}`);
    });
    if (lease.opened) this.emitChange('disconnected', lease);
  }

  /** Open streams of a user on this node. */
  streamsOf(userKey: string): readonly StreamConnection[] {
    const set = this.streamsByUser.get(userKey);
    return set === undefined ? [] : [...set];
  }

  onModuleDestroy(): void {
    this.expiry.clear();
  }

  /** Nest closes the Socket.IO servers after `onModuleDestroy`: their closes are still reported. */
  onApplicationShutdown(): void {
    this.closeAll();
    this.changes.complete();
    this.principalChanges.complete();
  }

  private scheduleExpiry(session: ConnectionSession): void {
    this.expiry.schedule(session, session.principal.expiresAt + this.options.tokens.graceMs);
  }

  private onExpiryDue(session: ConnectionSession): void {
    if (session.state !== 'open') return;
    if (!this.isExpired(session)) {
      this.scheduleExpiry(session);
      return;
    }
    const { userId, tenantId } = session.principal;
    this.events.emit({ kind: 'token_expired', code: SecurityErrorCode.TOKEN_EXPIRED, userId, tenantId, namespace: session.socket.nsp.name });
    this.terminate(session, SecurityErrorCode.TOKEN_EXPIRED);
  }

  private async takeLease(conn: EngineConnection, key: string, principal: Principal): Promise<ConnectionLease> {
    const held = this.leasesByConn.get(conn);
    const existing = held === undefined ? undefined : held instanceof Map ? held.get(key) : held.userKey === key ? held : undefined;
    if (existing !== undefined && !existing.released) {
      existing.refs += 1;
      if (await existing.granted) return existing;
      existing.refs -= 1;
      throw new HandshakeRefusedError(SecurityErrorCode.CONNECTION_LIMIT);
    }
    if (this.activeLeases >= this.options.connections.maxTotal) {
      throw new HandshakeRefusedError(SecurityErrorCode.SERVICE_UNAVAILABLE);
    }
    this.activeLeases += 1;
    const id = nextLeaseId();
    // Through a promise, so a store that throws synchronously still gives the slot back below.
    const granted = Promise.resolve().then(() => this.leases.acquire(key, id, this.options.connections.maxPerUser)).catch((error: unknown) => {
      this.failures.error('acquire', `connection lease store failed on acquire: ${describe(error)}`);
      // The outcome is unknown: a store that timed out may still take the slot later (a Redis
      // script runs once Redis gets to it). Released at once, idempotently, so it never stays.
      this.leases.release(key, id).catch((releaseError: unknown) => {
        this.failures.error('release', `connection lease store failed on release: ${describe(releaseError)}`);
      });
      return null;
    });
    const lease: ConnectionLease = {
      id, userKey: key, userId: principal.userId, tenantId: principal.tenantId,
      granted: granted.then((ok) => ok === true), refs: 1, opened: false, released: false,
    };
    const current = this.leasesByConn.get(conn);
    if (current === undefined || (!(current instanceof Map) && current.userKey === key)) this.leasesByConn.set(conn, lease);
    else if (current instanceof Map) current.set(key, lease);
    else this.leasesByConn.set(conn, new Map([[current.userKey, current], [key, lease]]));
    const outcome = await granted;
    if (outcome === true) return lease;
    lease.released = true;
    this.forgetLease(conn, lease);
    this.activeLeases -= 1;
    throw new HandshakeRefusedError(outcome === null ? SecurityErrorCode.SERVICE_UNAVAILABLE : SecurityErrorCode.CONNECTION_LIMIT);
  }

  private dropLeaseRef(conn: EngineConnection, lease: ConnectionLease): void {
    lease.refs -= 1;
    if (lease.refs > 0 || lease.released) return;
    lease.released = true;
    this.forgetLease(conn, lease);
    this.activeLeases -= 1;
    this.leases.release(lease.userKey, lease.id).catch((error: unknown) => {
      this.failures.error('release', `connection lease store failed on release: ${describe(error)}`);
    });
    if (lease.opened) this.emitChange('disconnected', lease);
  }

  private forgetLease(conn: EngineConnection, lease: ConnectionLease): void {
    const held = this.leasesByConn.get(conn);
    if (held === lease) {
      this.leasesByConn.delete(conn);
      return;
    }
    if (!(held instanceof Map) || held.get(lease.userKey) !== lease) return;
    held.delete(lease.userKey);
    if (held.size === 0) this.leasesByConn.delete(conn);
  }

  private emitChange(type: ConnectionLifecycleEvent['type'], lease: ConnectionLease): void {
    this.changes.next(Object.freeze({ type, userKey: lease.userKey, userId: lease.userId, tenantId: lease.tenantId, leaseId: lease.id, at: Date.now() }));
  }
}

const EMPTY: ReadonlySet<ConnectionSession> = new Set();

/** Lease ids: a random prefix per process, then a counter; unique across nodes, and short flat strings. */
const LEASE_ID_PREFIX = randomBytes(9).toString('base64url');
let leaseCounter = 0;

function nextLeaseId(): string {
  leaseCounter += 1;
  return flatString(`${LEASE_ID_PREFIX}.${leaseCounter.toString(36)}`);
}

function addTo<K>(index: Map<K, Set<ConnectionSession>>, key: K, session: ConnectionSession): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(session);
}

/** Adds the session to a per-user index that holds a lone session as itself. */
function addUserSession(index: Map<string, ConnectionSession | Set<ConnectionSession>>, key: string, session: ConnectionSession): void {
  const held = index.get(key);
  if (held === undefined) index.set(key, session);
  else if (held instanceof ConnectionSession) {
    if (held !== session) index.set(key, new Set([held, session]));
  } else held.add(session);
}

/** Removes the session from a per-user index; deletes the key once none is left. True when it was there. */
function removeUserSession(index: Map<string, ConnectionSession | Set<ConnectionSession>>, key: string, session: ConnectionSession): boolean {
  const held = index.get(key);
  if (held === session) {
    index.delete(key);
    return true;
  }
  if (held === undefined || held instanceof ConnectionSession || !held.delete(session)) return false;
  if (held.size === 0) index.delete(key);
  return true;
}

/** Removes the session; deletes the key once its set is empty. True when it was there. */
function removeFrom<K>(index: Map<K, Set<ConnectionSession>>, key: K, session: ConnectionSession): boolean {
  const set = index.get(key);
  if (set === undefined || !set.delete(session)) return false;
  if (set.size === 0) index.delete(key);
  return true;
}

/** An error's class and message only (`errorText`: URL credentials removed, 300 characters at most); never a stack. */
export function describe(error: unknown): string {
  return errorText(error);
}
