import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { Namespace, Socket } from 'socket.io';
import { NODE_ID, RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle, describe, type ConnectionLifecycleEvent } from '../connections/connection-lifecycle.js';
import { sessionOf, type ConnectionSession } from '../connections/connection-session.js';
import { PresenceStore, isRoomPresenceStore, type RoomMemberMeta, type RoomPresenceConnection, type RoomPresenceStore, type RoomPresenceTransition } from '../interfaces/presence-store.interface.js';
import type { PresenceRoomRef } from '../interfaces/realtime-security-options.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { RoomPresenceBus } from '../interfaces/room-presence-bus.interface.js';
import type { RoomPresenceChange } from './presence.interface.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** Pauses before retrying a failed room write (a lost leave would leave a ghost member). */
const RETRY_DELAYS_MS = [100, 500] as const;
const MAX_META_FIELDS = 8;
const META_NAME = /^[A-Za-z0-9_.-]{1,32}$/;
const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_META_STRING = 128;

/** A socket that has just entered a room (its join is in the store). Internal, for the diff snapshot. */
export interface RoomSocketJoin {
  readonly socket: Socket;
  readonly session: ConnectionSession;
  readonly tenantId: string;
  readonly room: string;
  readonly ref: PresenceRoomRef;
}

/** Rooms of one physical connection on this node: room → sockets of the connection in it. */
interface LeaseRooms {
  readonly session: ConnectionSession;
  readonly rooms: Map<string, number>;
}

/** Work in flight and local indexes, for leak checks and metrics. */
export interface RoomPresenceTrackerStats {
  /** Users with room writes queued or running. */
  readonly pendingWrites: number;
  /** Physical connections of this node in at least one room. */
  readonly connectionsInRooms: number;
  /** Memberships (connection × room) of this node. */
  readonly memberships: number;
}

/** The store name of resource `id`: `resource:id` (a resource name never contains `:`). */
export function roomName(ref: PresenceRoomRef): string {
  return `${ref.resource}:${ref.id}`;
}

/** Splits a `resource:id` room name; `null` for anything else. */
export function parseRoomName(room: string): PresenceRoomRef | null {
  const at = room.indexOf(':');
  if (at <= 0 || at === room.length - 1) return null;
  return { resource: room.slice(0, at), id: room.slice(at + 1) };
}

/**
 * Room presence, derived only from what the server observes: a socket entering a room through
 * `TenantRooms.join`, leaving through `TenantRooms.leave`, evicted by a permission re-check, or
 * closing (every close path: client, transport loss, ban, expiry, shutdown). A user is in a room
 * while at least one of their physical connections is; several namespace sockets of one
 * connection in the same room count once. Writes are serialised per user and retried like user
 * presence; joins and leaves are announced on `changes$` and to the other nodes. Internal: the
 * public side is `PresenceService` (queries, `roomChanges$`).
 */
@Injectable()
export class RoomPresenceTracker implements OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly failures = new ThrottledLog(this.logger);
  private readonly socketRooms = new WeakMap<Socket, Set<string>>();
  private readonly leases = new Map<string, LeaseRooms>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly changes = new Subject<RoomPresenceChange>();
  private readonly joins = new Subject<RoomSocketJoin>();
  private readonly knownNamespaces = new Map<string, Namespace>();
  private readonly subscription: Subscription | null;
  private readonly unsubscribeBus: () => void;
  private readonly roomStore: RoomPresenceStore | null;
  private readonly onSocketDisconnect: (this: Socket) => void;
  private membershipCount = 0;

  /** Room joins and leaves, this node's and every other node's. Subscribers must not throw. */
  readonly changes$: Observable<RoomPresenceChange> = this.changes.asObservable();

  /** Sockets of this node that just entered a room (after the store has the join). */
  readonly socketJoined$: Observable<RoomSocketJoin> = this.joins.asObservable();

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(PresenceStore) store: PresenceStore,
    @Inject(NODE_ID) private readonly nodeId: string,
    lifecycle: ConnectionLifecycle,
    @Inject(RoomPresenceBus) private readonly bus: RoomPresenceBus,
  ) {
    const enabled = options.presence.rooms.enabled;
    if (enabled && !isRoomPresenceStore(store)) {
      throw new Error('presence.rooms.enabled needs a presence store that implements RoomPresenceStore (the built-in stores do).');
    }
    this.roomStore = enabled && isRoomPresenceStore(store) ? store : null;
    this.subscription = enabled ? lifecycle.changes$.subscribe((event) => this.onLifecycle(event)) : null;
    this.unsubscribeBus = enabled
      ? bus.subscribe((message) => {
        if (message.origin !== this.nodeId) this.changes.next(message.change);
      })
      : () => undefined;
    const tracker = this;
    this.onSocketDisconnect = function onSocketDisconnect(this: Socket): void {
      tracker.socketGone(this);
    };
  }

  /** True when room presence is on (`presence.rooms.enabled`). */
  get enabled(): boolean {
    return this.roomStore !== null;
  }

  /** The store, when room presence is on. */
  get store(): RoomPresenceStore | null {
    return this.roomStore;
  }

  /** Namespaces whose sockets entered a room on this node (for the diffs). */
  namespace(name: string): Namespace | undefined {
    return this.knownNamespaces.get(name);
  }

  get stats(): RoomPresenceTrackerStats {
    return { pendingWrites: this.queues.size, connectionsInRooms: this.leases.size, memberships: this.membershipCount };
  }

  /**
   * The socket is in the room now (called by `TenantRooms.join` once Socket.IO has it). Resolves
   * once the store has the join. A socket already counted in the room, or no longer open, is a no-op.
   */
  async joined(socket: Socket, session: ConnectionSession, ref: PresenceRoomRef): Promise<void> {
    if (this.roomStore === null || session.state !== 'open') return;
    const room = roomName(ref);
    let rooms = this.socketRooms.get(socket);
    if (rooms?.has(room)) return;
    if (rooms === undefined) {
      rooms = new Set();
      this.socketRooms.set(socket, rooms);
      // Every close path of an open socket ends with its `disconnect` event.
      socket.once('disconnect', this.onSocketDisconnect);
    }
    rooms.add(room);
    if (!this.knownNamespaces.has(socket.nsp.name)) this.knownNamespaces.set(socket.nsp.name, socket.nsp);
    const lease = session.lease;
    let held = this.leases.get(lease.id);
    if (held === undefined) {
      held = { session, rooms: new Map() };
      this.leases.set(lease.id, held);
    }
    const sockets = held.rooms.get(room) ?? 0;
    held.rooms.set(room, sockets + 1);
    if (sockets > 0) {
      this.joins.next(Object.freeze({ socket, session, tenantId: lease.tenantId, room, ref }));
      return;
    }
    this.membershipCount += 1;
    const connection: RoomPresenceConnection = {
      tenantId: lease.tenantId, userId: lease.userId, leaseId: lease.id, nodeId: this.nodeId, room, meta: this.metadataFor(session, ref),
    };
    const at = Date.now();
    await this.enqueue(lease.userKey, 'roomJoined', async () => {
      this.announce(await retried(() => this.store!.roomJoined(connection, at)), this.nodeId);
    });
    if (session.state === 'open' && this.socketRooms.get(socket)?.has(room) === true) {
      this.joins.next(Object.freeze({ socket, session, tenantId: lease.tenantId, room, ref }));
    }
  }

  /** The socket left the room (`TenantRooms.leave`, or an eviction). Resolves once the store has it. */
  async left(socket: Socket, session: ConnectionSession, ref: PresenceRoomRef): Promise<void> {
    if (this.roomStore === null) return;
    const room = roomName(ref);
    const rooms = this.socketRooms.get(socket);
    if (rooms === undefined || !rooms.delete(room)) return;
    await this.release(session, room);
  }

  /** Resolves once every room change observed so far has reached the store. */
  async flush(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  /**
   * Announces a store transition (`join`/`leave`) here and on every node; `origin` is the
   * announcer (this node, or a node reaping or rebuilding).
   */
  announce(transition: RoomPresenceTransition, origin: string): void {
    if (transition.change === 'none') return;
    const change: RoomPresenceChange = Object.freeze({
      type: transition.change, tenantId: transition.tenantId, room: transition.room, userId: transition.member.userId, at: Date.now(),
    });
    // Another origin (a reaper, a rebuild) is delivered back to this node by the bus, like any other node.
    if (origin === this.nodeId) this.changes.next(change);
    this.bus.publish({ origin, change }).catch((error: unknown) => {
      this.failures.error('publish', `room presence bus failed on publish: ${describe(error)}`);
    });
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    this.unsubscribeBus();
    this.changes.complete();
    this.joins.complete();
  }

  private socketGone(socket: Socket): void {
    const rooms = this.socketRooms.get(socket);
    if (rooms === undefined) return;
    this.socketRooms.delete(socket);
    const session = sessionOf(socket);
    if (session === undefined) return;
    for (const room of rooms) void this.release(session, room);
  }

  /** One socket of the connection is out of the room; the connection leaves it with its last socket. */
  private async release(session: ConnectionSession, room: string): Promise<void> {
    const leaseId = session.lease.id;
    const held = this.leases.get(leaseId);
    const sockets = held?.rooms.get(room);
    if (held === undefined || sockets === undefined) return;
    if (sockets > 1) {
      held.rooms.set(room, sockets - 1);
      return;
    }
    held.rooms.delete(room);
    if (held.rooms.size === 0) this.leases.delete(leaseId);
    await this.writeLeave(held.session, room);
  }

  /** Belt and braces: a physical connection closed; whatever it still holds leaves. */
  private onLifecycle(event: ConnectionLifecycleEvent): void {
    if (event.type !== 'disconnected') return;
    const held = this.leases.get(event.leaseId);
    if (held === undefined) return;
    this.leases.delete(event.leaseId);
    for (const room of held.rooms.keys()) void this.writeLeave(held.session, room);
  }

  private writeLeave(session: ConnectionSession, room: string): Promise<void> {
    this.membershipCount -= 1;
    const lease = session.lease;
    const connection: RoomPresenceConnection = { tenantId: lease.tenantId, userId: lease.userId, leaseId: lease.id, nodeId: this.nodeId, room };
    const at = Date.now();
    return this.enqueue(lease.userKey, 'roomLeft', async () => {
      this.announce(await retried(() => this.store!.roomLeft(connection, at)), this.nodeId);
    });
  }

  /** The app's server-side fields for this member, checked; anything out of shape is dropped (and logged). */
  private metadataFor(session: ConnectionSession, ref: PresenceRoomRef): RoomMemberMeta | null {
    const compute = this.options.presence.rooms.metadata;
    if (compute === null) return null;
    let value: unknown;
    try {
      value = compute(session.principal, ref);
    } catch (error) {
      this.failures.error('metadata', `presence.rooms.metadata failed (member kept without fields): ${describe(error)}`);
      return null;
    }
    if (value === undefined || value === null) return null;
    const meta = checkMeta(value);
    if (meta === null) this.failures.error('metadata-shape', 'presence.rooms.metadata returned fields out of shape (at most 8; names of 1..32 letters, digits, _.-; string ≤128, finite number or boolean): member kept without fields');
    return meta;
  }

  /** Chains `task` after the user's previous room writes; resolves when it ran (failures are logged). */
  private enqueue(key: string, step: string, task: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(key) ?? Promise.resolve()).then(task).catch((error: unknown) => {
      this.failures.error(step, `presence store failed on ${step}: ${describe(error)}`);
    });
    this.queues.set(key, next);
    void next.then(() => {
      if (this.queues.get(key) === next) this.queues.delete(key);
    });
    return next;
  }
}

function checkMeta(value: unknown): RoomMemberMeta | null {
  if (typeof value !== 'object' || Array.isArray(value) || value === null) return null;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_META_FIELDS) return null;
  const meta: Record<string, string | number | boolean> = {};
  for (const [name, field] of entries) {
    if (!META_NAME.test(name) || RESERVED_NAMES.has(name)) return null;
    if (typeof field === 'string' ? field.length > MAX_META_STRING : typeof field === 'number' ? !Number.isFinite(field) : typeof field !== 'boolean') return null;
    meta[name] = field as string | number | boolean;
  }
  return Object.freeze(meta);
}

/** Runs a store write, retrying after each of `RETRY_DELAYS_MS`; the last failure is thrown. */
async function retried<T>(write: () => Promise<T>): Promise<T> {
  for (const pause of RETRY_DELAYS_MS) {
    try {
      return await write();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, pause).unref());
    }
  }
  return write();
}
