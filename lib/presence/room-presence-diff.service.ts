import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import { hasPermission, parseRequiredPermission, type PermissionRequirement } from '../authorization/permission.matcher.js';
import { TENANT_ROOM_PREFIX } from '../authorization/tenant-rooms.service.js';
import { describe } from '../connections/connection-lifecycle.js';
import { sessionOf } from '../connections/connection-session.js';
import type { PresenceRoomRef } from '../interfaces/realtime-security-options.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import type { RoomPresenceChange } from './presence.interface.js';
import { RoomPresenceTracker, parseRoomName, type RoomSocketJoin } from './room-presence.tracker.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** Ids per diff message: a burst larger than this goes out as several messages. */
const MAX_IDS_PER_DIFF = 1000;
/** Members per store read of a snapshot. */
const SNAPSHOT_PAGE = 500;

/** What a member receives: `{ <resource>Id: id, joins, leaves }` (for `channel`: `channelId`). */
export type RoomPresenceDiffPayload = Readonly<Record<string, string | readonly string[]>>;

interface PendingEntry {
  readonly type: 'join' | 'leave';
  /** Not sent before (a leave waits for the flap window). */
  readonly due: number;
}

interface PendingRoom {
  readonly tenantId: string;
  readonly room: string;
  readonly ref: PresenceRoomRef;
  readonly entries: Map<string, PendingEntry>;
  timer: NodeJS.Timeout | null;
}

/** Work in flight, for leak checks. */
export interface RoomPresenceDiffStats {
  /** Rooms with changes waiting to be sent. */
  readonly pendingRooms: number;
  /** Changes waiting over all rooms. */
  readonly pendingChanges: number;
}

/**
 * The optional `presence_diff` to the members of a room (on when `presence.rooms.diff.namespaces`
 * is set). Changes of every node are gathered per room for `intervalMs` and sent as one diff; a
 * leave waits `presence.flapWindowMs`, and a reconnect within it sends no leave (no N² storm
 * when many reconnect at once: one diff per room per interval). Clients apply diffs as set
 * operations: a join of a member already shown, or a leave of one not shown, changes nothing. Each receiver is a socket of this node in the room (so of the room's
 * tenant), on a configured namespace, whose live principal holds the permission on the room's id
 * at send time. A socket entering a room first gets the members as diffs of joins (paged, up
 * to `snapshotMaxMembers`). Internal: configure it through the module options.
 */
@Injectable()
export class RoomPresenceDiffService implements OnApplicationShutdown {
  private readonly failures = new ThrottledLog(new Logger('RealtimeSecurity'));
  private readonly pending = new Map<string, PendingRoom>();
  private readonly subscriptions: Subscription[] = [];
  private readonly required: PermissionRequirement | null;
  private stopped = false;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    private readonly tracker: RoomPresenceTracker,
  ) {
    this.required = parseRequiredPermission(options.presence.rooms.diff.permission);
    if (!tracker.enabled || options.presence.rooms.diff.namespaces.size === 0) return;
    this.subscriptions.push(
      tracker.changes$.subscribe((change) => this.gather(change)),
      tracker.socketJoined$.subscribe((join) => void this.snapshot(join)),
    );
  }

  get stats(): RoomPresenceDiffStats {
    let pendingChanges = 0;
    for (const room of this.pending.values()) pendingChanges += room.entries.size;
    return { pendingRooms: this.pending.size, pendingChanges };
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    for (const room of this.pending.values()) if (room.timer !== null) clearTimeout(room.timer);
    this.pending.clear();
  }

  private gather(change: RoomPresenceChange): void {
    const ref = parseRoomName(change.room);
    if (ref === null || this.stopped) return;
    const key = `${encodeURIComponent(change.tenantId)}/${encodeURIComponent(change.room)}`;
    let room = this.pending.get(key);
    if (room === undefined) {
      room = { tenantId: change.tenantId, room: change.room, ref, entries: new Map(), timer: null };
      this.pending.set(key, room);
    }
    // The latest change of a user wins: a leave followed by a join within the flap window (a
    // reconnect) sends no leave, only a join (needed by members who entered the room meanwhile,
    // harmless to the others); a join followed by a leave sends the leave.
    const now = Date.now();
    room.entries.set(change.userId, { type: change.type, due: change.type === 'leave' ? now + this.options.presence.flapWindowMs : now });
    this.schedule(key, room, this.options.presence.rooms.diff.intervalMs);
  }

  private schedule(key: string, room: PendingRoom, delay: number): void {
    if (room.timer !== null) return;
    room.timer = setTimeout(() => {
      room.timer = null;
      this.flush(key, room);
    }, delay);
    room.timer.unref();
  }

  private flush(key: string, room: PendingRoom): void {
    const now = Date.now();
    const joins: string[] = [];
    const leaves: string[] = [];
    let nextDue = Number.POSITIVE_INFINITY;
    for (const [userId, entry] of room.entries) {
      if (entry.due > now) {
        nextDue = Math.min(nextDue, entry.due);
        continue;
      }
      (entry.type === 'join' ? joins : leaves).push(userId);
      room.entries.delete(userId);
    }
    if (room.entries.size === 0) this.pending.delete(key);
    else this.schedule(key, room, Math.max(this.options.presence.rooms.diff.intervalMs, nextDue - now));
    for (let i = 0; i < Math.max(joins.length, leaves.length); i += MAX_IDS_PER_DIFF) {
      this.sendToRoom(room.tenantId, room.ref, joins.slice(i, i + MAX_IDS_PER_DIFF), leaves.slice(i, i + MAX_IDS_PER_DIFF));
    }
  }

  private sendToRoom(tenantId: string, ref: PresenceRoomRef, joins: readonly string[], leaves: readonly string[]): void {
    const payload = diffPayload(ref, joins, leaves);
    const name = socketIoRoom(tenantId, ref);
    for (const namespaceName of this.options.presence.rooms.diff.namespaces) {
      const namespace = this.tracker.namespace(namespaceName);
      const ids = namespace?.adapter.rooms.get(name);
      if (namespace === undefined || ids === undefined) continue;
      for (const id of ids) {
        const socket = namespace.sockets.get(id);
        if (socket !== undefined && this.allowed(socket, tenantId, ref)) socket.emit(this.options.presence.rooms.diff.event, payload);
      }
    }
  }

  /** The members so far, to a socket that just entered the room (pages of joins). */
  private async snapshot(join: RoomSocketJoin): Promise<void> {
    const { snapshotMaxMembers } = this.options.presence.rooms.diff;
    const store = this.tracker.store;
    if (store === null || snapshotMaxMembers === 0 || !this.options.presence.rooms.diff.namespaces.has(join.socket.nsp.name)) return;
    if (!this.allowed(join.socket, join.tenantId, join.ref)) return;
    try {
      let after: string | null = null;
      let sent = 0;
      while (sent < snapshotMaxMembers && !this.stopped) {
        const limit = Math.min(SNAPSHOT_PAGE, snapshotMaxMembers - sent);
        const page = await store.listRoom(join.tenantId, join.room, after, limit);
        if (page.length === 0 || !join.socket.connected) break;
        join.socket.emit(this.options.presence.rooms.diff.event, diffPayload(join.ref, page.map((m) => m.userId), []));
        sent += page.length;
        if (page.length < limit) break;
        after = page[page.length - 1].userId;
      }
    } catch (error) {
      this.failures.error('snapshot', `presence store failed on a room snapshot: ${describe(error)}`);
    }
  }

  /** An open session of the room's tenant whose live principal holds the permission on the room's id. */
  private allowed(socket: Socket, tenantId: string, ref: PresenceRoomRef): boolean {
    const session = sessionOf(socket);
    if (session === undefined || session.state !== 'open' || session.principal.tenantId !== tenantId || this.required === null) return false;
    return hasPermission(session.principal.permissions, { resource: this.required.resource, action: this.required.action, id: ref.id });
  }
}

/** The Socket.IO room `TenantRooms` puts the members in (same encoding as `TenantRooms.roomFor`). */
function socketIoRoom(tenantId: string, ref: PresenceRoomRef): string {
  return `${TENANT_ROOM_PREFIX}${encodeURIComponent(tenantId)}/${ref.resource}/${encodeURIComponent(ref.id)}`;
}

function diffPayload(ref: PresenceRoomRef, joins: readonly string[], leaves: readonly string[]): RoomPresenceDiffPayload {
  return { [`${ref.resource}Id`]: ref.id, joins, leaves };
}
