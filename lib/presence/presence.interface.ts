import type { PresenceRecord, PresenceStatus, RoomMember } from '../interfaces/presence-store.interface.js';

/** An online/offline transition, as announced (after flap damping). */
export interface PresenceChange {
  readonly type: PresenceStatus;
  readonly tenantId: string;
  readonly userId: string;
  /** When the transition happened (epoch ms): the first open, or the last close. */
  readonly at: number;
  /** When the last connection closed (epoch ms); set on `offline`. */
  readonly lastSeen: number | null;
}

/** One user's presence as `PresenceService.get` answers it. */
export interface PresenceInfo extends PresenceRecord {
  /** The voluntary status server code set (e.g. `'dnd'`), or `null`. Never changes `status`. */
  readonly preference: string | null;
}

/** Paging of `PresenceService.listOnline`. */
export interface ListOnlineOptions {
  /** The `nextCursor` of the previous page; absent for the first page. */
  readonly cursor?: string;
  /** Users per page, 1..1000. @default 100 */
  readonly limit?: number;
}

/** A page of a tenant's online users. */
export interface PresencePage {
  readonly users: readonly PresenceRecord[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** A user entering or leaving a room, as announced (server-observed, every node). */
export interface RoomPresenceChange {
  readonly type: 'join' | 'leave';
  readonly tenantId: string;
  /** The room, `resource:id` (for example `channel:general`). */
  readonly room: string;
  readonly userId: string;
  /** When it happened (epoch ms). */
  readonly at: number;
}

/** Paging of `PresenceService.listInRoom`. */
export interface ListInRoomOptions {
  /** The `nextCursor` of the previous page; absent for the first page. */
  readonly cursor?: string;
  /** Members per page, 1..1000. @default 100 */
  readonly limit?: number;
}

/** A page of a room's members. */
export interface RoomPresencePage {
  readonly members: readonly RoomMember[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}
