import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle, describe } from '../connections/connection-lifecycle.js';
import { sessionOf, type ConnectionSession } from '../connections/connection-session.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { PermissionResolver } from '../interfaces/permission-resolver.interface.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { isPermissionName, parseRequiredPermission } from './permission.matcher.js';
import { checkResourceId } from './resource-id.validator.js';
import { ThrottledLog } from '../utils/throttled-log.js';
import { RoomPresenceTracker } from '../presence/room-presence.tracker.js';

/**
 * Prefix of every tenant room. A tenant room name always contains `:` and `/`, so it can never
 * equal a socket id (Socket.IO's are base64url) or a room of another tenant (each part is
 * URI-encoded).
 */
export const TENANT_ROOM_PREFIX = 'rt-room:';

/** Options of {@link TenantRooms.join}. */
export interface RoomJoinOptions {
  /** The permission the socket needs to be in the room. @default `${resource}:read` */
  readonly permission?: string;
  /** The event on whose behalf the socket joins, passed to the permission resolver. @default `${resource}:join` */
  readonly event?: string;
}

interface JoinedRoom {
  readonly resource: string;
  readonly id: string;
  readonly permission: string;
  readonly event: string;
}

/** Re-checks of a principal that changed while the resolver was answering, before giving up. */
const MAX_RECHECKS = 3;

/**
 * Tenant-scoped rooms. Handlers name a resource and an id from the message; this service turns
 * them into a room of the principal's own tenant, checks the permission the room needs, and
 * remembers it, so that a permission change (moderation override, or a refreshed token with
 * fewer permissions) evicts the socket from rooms it may no longer read.
 *
 * ```ts
 * await rooms.join(socket, 'channel', dto.channelId);              // needs channel:read[:id]
 * server.to(rooms.roomFor(principal, 'channel', dto.channelId)).emit('message', message);
 * ```
 */
@Injectable()
export class TenantRooms implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('RealtimeSecurity');
  /** A failing resolver fails every re-check: one log line per interval. */
  private readonly failures = new ThrottledLog(this.logger);
  private readonly joined = new WeakMap<Socket, Map<string, JoinedRoom>>();
  /**
   * The same maps by the socket's `data` object: Socket.IO's in-memory connection-state recovery
   * hands that object to the recovering socket, so its rooms are re-checked with the very
   * permission they were joined with.
   */
  private readonly joinedByData = new WeakMap<object, Map<string, JoinedRoom>>();
  /** The re-check running for a session, and for which principal (one at a time per principal). */
  private readonly revalidating = new WeakMap<ConnectionSession, { principal: Principal; done: Promise<number> }>();
  private subscription?: Subscription;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(PermissionResolver) private readonly resolver: PermissionResolver,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly events: SecurityEventsService,
    private readonly presence: RoomPresenceTracker,
  ) {}

  onModuleInit(): void {
    this.subscription = this.lifecycle.principalChanges$.subscribe((session) => void this.revalidate(session));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /**
   * The room of resource `id` in the principal's tenant. Throws `VALIDATION_FAILED` for an id
   * that is not a valid resource id (it is client input), and an `Error` for a bad `resource`
   * (a programming error).
   */
  roomFor(principal: Pick<Principal, 'tenantId'>, resource: string, id: unknown): string {
    assertResourceName(resource);
    const checked = checkResourceId(id, this.options.authorization.resourceIdPattern);
    if (checked === null) throw invalidResourceId();
    return `${TENANT_ROOM_PREFIX}${encodeURIComponent(principal.tenantId)}/${resource}/${encodeURIComponent(checked)}`;
  }

  /**
   * Joins the socket to resource `id` of its tenant after checking `options.permission` (by
   * default `resource:read`) on that id with the permission resolver. Throws `FORBIDDEN`,
   * `VALIDATION_FAILED`, `ROOM_LIMIT` (past `presence.rooms.maxRoomsPerConnection`) or
   * `UNAUTHORIZED` (closed socket). Returns the room name. With room presence on, resolves
   * once the user is in the room's presence.
   */
  async join(socket: Socket, resource: string, id: unknown, options: RoomJoinOptions = {}): Promise<string> {
    const session = openSession(socket);
    const room = this.roomFor(session.principal, resource, id);
    const permission = options.permission ?? `${resource}:read`;
    if (parseRequiredPermission(permission) === null) throw new Error(`TenantRooms.join: '${permission}' is not a permission ('resource:action').`);
    const entry: JoinedRoom = { resource, id: id as string, permission, event: options.event ?? `${resource}:join` };
    this.checkRoomLimit(socket, room);
    if (!(await this.allowedNow(session, entry))) {
      const { userId, tenantId } = session.principal;
      this.events.emit({ kind: 'forbidden', code: SecurityErrorCode.FORBIDDEN, userId, tenantId, namespace: socket.nsp.name, event: entry.event, permission });
      throw new WsSecurityException(SecurityErrorCode.FORBIDDEN);
    }
    // Again after the await: concurrent joins of one socket must not pass the limit together.
    this.checkRoomLimit(socket, room);
    // Recorded before joining, in the same tick as the last check: a permission change that
    // lands after this point sees the room and evicts it.
    this.track(socket, room, entry);
    await socket.join(room);
    if (this.joined.get(socket)?.get(room) === entry) await this.presence.joined(socket, session, { resource, id: entry.id });
    return room;
  }

  /**
   * Connection-state recovery: Socket.IO put a recovered socket back in the rooms of its previous
   * connection before any check ran. For a tenant room, this re-runs the check a join made (the
   * permission it was joined with, when this process made the join; else `resource:read`) with
   * the session's current principal, and tracks the room again so a later permission change
   * evicts it. `false` (the caller drops the room) for a room of another tenant, a name that is
   * not a valid tenant room, a refusal or a resolver failure. Internal: called by the handshake.
   */
  async reauthorizeRecovered(session: ConnectionSession, room: string, previousData: object | null): Promise<boolean> {
    const parsed = parseTenantRoom(room);
    if (parsed === null || parsed.tenantId !== session.principal.tenantId || !isPermissionName(parsed.resource)) return false;
    const checked = checkResourceId(parsed.id, this.options.authorization.resourceIdPattern);
    if (checked === null || this.roomFor(session.principal, parsed.resource, checked) !== room) return false;
    const joinedBefore = previousData !== null ? this.joinedByData.get(previousData)?.get(room) : undefined;
    const entry: JoinedRoom = joinedBefore !== undefined && joinedBefore.resource === parsed.resource && joinedBefore.id === checked
      ? joinedBefore
      : { resource: parsed.resource, id: checked, permission: `${parsed.resource}:read`, event: `${parsed.resource}:join` };
    let allowed = false;
    try {
      allowed = await this.allowedNow(session, entry);
    } catch (error) {
      if (!(error instanceof WsSecurityException)) this.failures.error('recovery', `permission resolver failed while re-checking a recovered room (dropping it): ${describe(error)}`);
    }
    if (!allowed) {
      const { userId, tenantId } = session.principal;
      this.events.emit({ kind: 'forbidden', code: SecurityErrorCode.FORBIDDEN, userId, tenantId, namespace: session.socket.nsp.name, event: entry.event, permission: entry.permission, reason: 'recovered_room' });
      return false;
    }
    this.track(session.socket, room, entry);
    return true;
  }

  /**
   * A recovered socket that kept tenant rooms is connected now: it enters their room presence,
   * as a join does (its previous connection left them when it closed). Internal: called on
   * `connection`, once the session is open.
   */
  async enterRecovered(socket: Socket, session: ConnectionSession): Promise<void> {
    const rooms = this.joined.get(socket);
    if (rooms === undefined) return;
    await Promise.all([...rooms.values()].map(async (entry) => {
      try {
        await this.presence.joined(socket, session, { resource: entry.resource, id: entry.id });
      } catch (error) {
        this.failures.error('recovery', `room presence of a recovered room failed: ${describe(error)}`);
      }
    }));
  }

  private track(socket: Socket, room: string, entry: JoinedRoom): void {
    let rooms = this.joined.get(socket);
    if (rooms === undefined) {
      rooms = new Map();
      this.joined.set(socket, rooms);
      const data: unknown = socket.data;
      if (data !== null && typeof data === 'object') this.joinedByData.set(data, rooms);
    }
    rooms.set(room, entry);
  }

  /** Refuses a new room past `presence.rooms.maxRoomsPerConnection` (a room already joined is fine). */
  private checkRoomLimit(socket: Socket, room: string): void {
    const rooms = this.joined.get(socket);
    if (rooms === undefined || rooms.has(room) || rooms.size < this.options.presence.rooms.maxRoomsPerConnection) return;
    throw new WsSecurityException(SecurityErrorCode.ROOM_LIMIT);
  }

  /** Leaves resource `id` of the socket's tenant; `false` when the socket was not in it. */
  async leave(socket: Socket, resource: string, id: unknown): Promise<boolean> {
    const session = openSession(socket);
    const room = this.roomFor(session.principal, resource, id);
    const rooms = this.joined.get(socket);
    const tracked = rooms?.delete(room) ?? false;
    if (!tracked && !socket.rooms.has(room)) return false;
    await socket.leave(room);
    if (tracked) await this.presence.left(socket, session, { resource, id: id as string });
    return true;
  }

  /** True when the socket is in resource `id` of its tenant. Never throws for a bad id (`false`). */
  has(socket: Socket, resource: string, id: unknown): boolean {
    const session = sessionOf(socket);
    if (session === undefined) return false;
    assertResourceName(resource);
    const checked = checkResourceId(id, this.options.authorization.resourceIdPattern);
    return checked !== null && socket.rooms.has(this.roomFor(session.principal, resource, checked));
  }

  /**
   * Re-checks every room the socket joined through {@link join} against its current principal
   * and leaves those it may no longer be in (also when the resolver fails: fail closed).
   * Runs by itself whenever a session's principal changes; a call for a principal already being
   * re-checked joins that run. Resolves with how many rooms it left.
   */
  revalidate(session: ConnectionSession): Promise<number> {
    const running = this.revalidating.get(session);
    if (running !== undefined && running.principal === session.principal) return running.done;
    const done: Promise<number> = this.evictForbidden(session).finally(() => {
      if (this.revalidating.get(session)?.done === done) this.revalidating.delete(session);
    });
    this.revalidating.set(session, { principal: session.principal, done });
    return done;
  }

  private async evictForbidden(session: ConnectionSession): Promise<number> {
    const socket = session.socket;
    const rooms = this.joined.get(socket);
    if (rooms === undefined || rooms.size === 0) return 0;
    let evicted = 0;
    await Promise.all([...rooms].map(async ([room, entry]) => {
      let allowed = false;
      try {
        allowed = session.state !== 'closed' && (await this.allowedNow(session, entry));
      } catch (error) {
        if (!(error instanceof WsSecurityException)) this.failures.error('recheck', `permission resolver failed while re-checking rooms (evicting): ${describe(error)}`);
      }
      if (allowed || rooms.get(room) !== entry) return;
      rooms.delete(room);
      evicted += 1;
      await socket.leave(room);
      await this.presence.left(socket, session, { resource: entry.resource, id: entry.id });
    }));
    return evicted;
  }

  /** Asks the resolver with the current principal; asks again if the principal changed meanwhile. */
  private async allowedNow(session: ConnectionSession, entry: JoinedRoom): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_RECHECKS; attempt += 1) {
      const principal = session.principal;
      const allowed = await this.resolver.isAllowed({
        principal,
        permission: entry.permission,
        resourceId: entry.id,
        namespace: session.socket.nsp.name,
        event: entry.event,
      });
      // A pending session is one being re-checked at its handshake (recovery, moderation change).
      if (session.state === 'closed') throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
      if (session.principal === principal) return allowed === true;
    }
    return false;
  }
}

/** The parts of a tenant room name, decoded; `null` for anything that is not one. */
function parseTenantRoom(room: string): { tenantId: string; resource: string; id: string } | null {
  if (!room.startsWith(TENANT_ROOM_PREFIX)) return null;
  const parts = room.slice(TENANT_ROOM_PREFIX.length).split('/');
  if (parts.length !== 3) return null;
  try {
    return { tenantId: decodeURIComponent(parts[0]), resource: parts[1], id: decodeURIComponent(parts[2]) };
  } catch {
    return null;
  }
}

function openSession(socket: Socket): ConnectionSession {
  const session = sessionOf(socket);
  if (session === undefined || session.state !== 'open') throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
  return session;
}

function assertResourceName(resource: string): void {
  if (!isPermissionName(resource)) {
    throw new Error(`TenantRooms: resource ${JSON.stringify(String(resource)).slice(0, 80)} is not a resource name (letters, digits, _.-).`);
  }
}

function invalidResourceId(): WsSecurityException {
  return new WsSecurityException(SecurityErrorCode.VALIDATION_FAILED, { fields: [{ path: 'resource', constraints: ['resourceId'] }] });
}
