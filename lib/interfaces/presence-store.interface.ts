/** A user's server-observed status: online while they hold at least one authenticated connection. */
export type PresenceStatus = 'online' | 'offline';

/** Server-observed presence of one user. */
export interface PresenceRecord {
  readonly userId: string;
  readonly tenantId: string;
  readonly status: PresenceStatus;
  /** Open connections, all nodes together. */
  readonly connections: number;
  /** When the user came online (epoch ms), while online; `null` while offline. */
  readonly since: number | null;
  /** When the user's last connection closed (epoch ms), kept while they are online again; `null` if never. */
  readonly lastSeen: number | null;
}

/** Identifies one physical connection in the presence store. */
export interface PresenceConnection {
  readonly userId: string;
  readonly tenantId: string;
  /** The connection lease id (unique per physical connection). */
  readonly leaseId: string;
  /** The node holding the connection (cluster mode), so a dead node's connections can be reaped. */
  readonly nodeId: string;
}

/** What a store call changed: `online`/`offline` when the user's status flipped, else `none`. */
export interface PresenceTransition {
  readonly change: PresenceStatus | 'none';
  /** The user's record after the call. */
  readonly record: PresenceRecord;
}

/**
 * Where presence lives. Written only by the library's connection lifecycle (through
 * `PresenceService`); every implementation passes the contract suite in
 * `test/contract/presence-store.contract.ts`. Each call must be atomic on its own (one Lua
 * script on Redis) so that several nodes writing the same user never lose a connection.
 *
 * Opening an already open connection, or closing an unknown or already closed one, is a no-op
 * that reports `none` and creates no entry.
 */
export interface PresenceStore {
  connectionOpened(connection: PresenceConnection, at: number): Promise<PresenceTransition>;
  connectionClosed(connection: PresenceConnection, at: number): Promise<PresenceTransition>;
  /** The user's record, or `null` for a user the store does not know (never seen, or forgotten). */
  get(tenantId: string, userId: string): Promise<PresenceRecord | null>;
  /**
   * Up to `limit` online users of the tenant whose `userId` comes strictly after `after` in the
   * store's own total order of user ids (`null`: from the start). Each online user appears
   * exactly once over a full walk while nothing changes; a user present for the whole walk is
   * never skipped even when others come and go. (`PresenceService` builds cursors on this.)
   */
  listOnline(tenantId: string, after: string | null, limit: number): Promise<readonly PresenceRecord[]>;
  countOnline(tenantId: string): Promise<number>;
  /** A voluntary status ("dnd", "away") set by server code; `null` clears it. Never touches online/offline. */
  setPreference(tenantId: string, userId: string, preference: string | null): Promise<void>;
  getPreference(tenantId: string, userId: string): Promise<string | null>;
}

/** Injection token of the active {@link PresenceStore}. */
export const PresenceStore = Symbol('PresenceStore');

/**
 * Server-side fields an application attaches to a room member (for example a display role),
 * from `presence.rooms.metadata`: at most 8 fields, names of 1..32 letters, digits and `_.-`,
 * values a string of up to 128 characters, a finite number or a boolean. Never client input.
 */
export type RoomMemberMeta = Readonly<Record<string, string | number | boolean>>;

/** One physical connection's membership of one room, as written to the store. */
export interface RoomPresenceConnection extends PresenceConnection {
  /** The room within the tenant, `resource:id` (for example `channel:general`). */
  readonly room: string;
  /** Server-side fields of the member; `null`/absent keeps what the store has. */
  readonly meta?: RoomMemberMeta | null;
}

/** A user in a room, as the store answers it. */
export interface RoomMember {
  readonly userId: string;
  /** Connections of the user in the room, all nodes together (0 after the last one left). */
  readonly connections: number;
  /** When the user's first connection entered the room (epoch ms). */
  readonly joinedAt: number;
  readonly meta: RoomMemberMeta | null;
}

/** What a room write changed: `join` when the user entered the room, `leave` when they left it. */
export interface RoomPresenceTransition {
  readonly change: 'join' | 'leave' | 'none';
  readonly tenantId: string;
  readonly room: string;
  /** The member after the call (`connections: 0` after a leave). */
  readonly member: RoomMember;
}

/**
 * Room presence, on the same store as user presence (`presence.rooms.enabled`). Both built-in
 * stores implement it and pass the room part of `test/contract/presence-store.contract.ts`.
 * Each write is atomic on its own; joining with a connection already in the room, or leaving
 * with one that is not, is a no-op that reports `none`. A user is a member while at least one
 * of their connections is in the room.
 */
export interface RoomPresenceStore {
  roomJoined(connection: RoomPresenceConnection, at: number): Promise<RoomPresenceTransition>;
  roomLeft(connection: RoomPresenceConnection, at: number): Promise<RoomPresenceTransition>;
  /** One member, or `null` when the user is not in the room. */
  roomMember(tenantId: string, room: string, userId: string): Promise<RoomMember | null>;
  /** Up to `limit` members whose `userId` comes strictly after `after` in the store's order (as `listOnline`). */
  listRoom(tenantId: string, room: string, after: string | null, limit: number): Promise<readonly RoomMember[]>;
  countRoom(tenantId: string, room: string): Promise<number>;
  /** Up to `limit` rooms the user is in (in the store's order of room names). */
  roomsOf(tenantId: string, userId: string, limit: number): Promise<readonly string[]>;
}

/** Names of the {@link RoomPresenceStore} methods (checked when room presence is on). */
export const ROOM_PRESENCE_STORE_METHODS = ['roomJoined', 'roomLeft', 'roomMember', 'listRoom', 'countRoom', 'roomsOf'] as const;

/** True when `store` implements {@link RoomPresenceStore}. */
export function isRoomPresenceStore(store: unknown): store is RoomPresenceStore {
  return typeof store === 'object' && store !== null
    && ROOM_PRESENCE_STORE_METHODS.every((m) => typeof (store as Record<string, unknown>)[m] === 'function');
}
