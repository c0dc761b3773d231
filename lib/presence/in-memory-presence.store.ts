import { Injectable } from '@nestjs/common';
import type {
  PresenceConnection,
  PresenceRecord,
  PresenceStore,
  PresenceTransition,
  RoomMember,
  RoomMemberMeta,
  RoomPresenceConnection,
  RoomPresenceStore,
  RoomPresenceTransition,
} from '../interfaces/presence-store.interface.js';
import { flatString } from '../utils/flat-string.js';
import { userKey } from '../utils/user-key.js';

/** Settings of the in-memory presence store. */
export interface InMemoryPresenceStoreOptions {
  /** Offline users whose `lastSeen` is kept; past it the longest-offline is forgotten. @default 100000 */
  maxOfflineRecords?: number;
}

interface UserEntry {
  readonly tenantId: string;
  readonly userId: string;
  /** Open connections (lease ids): the id itself for one (the usual case), a set past one, null for none. */
  leases: string | Set<string> | null;
  since: number | null;
  lastSeen: number | null;
}

/** Sizes of the store's internal maps, for leak checks. */
export interface InMemoryPresenceStoreStats {
  /** Users with a record (online, or offline with a remembered `lastSeen`). */
  readonly records: number;
  readonly onlineUsers: number;
  /** Tenants with at least one online user. */
  readonly onlineTenants: number;
  readonly offlineRecords: number;
  readonly preferences: number;
  /** Rooms with at least one member. */
  readonly rooms: number;
  /** Members over all rooms. */
  readonly roomMembers: number;
  /** Users in at least one room. */
  readonly usersInRooms: number;
}

interface RoomMemberEntry {
  /** Lease ids of the user's connections in the room. */
  readonly leases: Set<string>;
  joinedAt: number;
  meta: RoomMemberMeta | null;
}

interface RoomEntry {
  /** Member ids, sorted by UTF-16 code units (pages are a binary search plus a slice). */
  readonly sorted: string[];
  readonly members: Map<string, RoomMemberEntry>;
}

/**
 * Single-process presence. Each call runs to completion before the next (Node's event loop),
 * which makes every call atomic. Online users of a tenant are kept sorted by id, so a page is
 * a binary search plus a slice. Offline records are bounded (oldest forgotten first).
 */
@Injectable()
export class InMemoryPresenceStore implements PresenceStore, RoomPresenceStore {
  private readonly entries = new Map<string, UserEntry>();
  /** Per tenant: ids of online users, sorted by UTF-16 code units. */
  private readonly online = new Map<string, string[]>();
  /** Keys of offline entries, oldest first (Map keeps insertion order). */
  private readonly offline = new Map<string, true>();
  private readonly preferences = new Map<string, string>();
  /** Per tenant+room key: the room's members. Empty rooms are removed. */
  private readonly rooms = new Map<string, RoomEntry>();
  /** Per user key: the rooms the user is in, sorted. */
  private readonly userRooms = new Map<string, string[]>();
  private readonly maxOfflineRecords: number;

  constructor(options: InMemoryPresenceStoreOptions = {}) {
    const max = options.maxOfflineRecords ?? 100_000;
    if (!Number.isInteger(max) || max < 0) throw new RangeError('InMemoryPresenceStore: maxOfflineRecords must be a non-negative integer');
    this.maxOfflineRecords = max;
  }

  async connectionOpened(connection: PresenceConnection, at: number): Promise<PresenceTransition> {
    let key = userKey(connection.tenantId, connection.userId);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      // Kept as long as the record: stored flat.
      key = flatString(key);
      entry = { tenantId: connection.tenantId, userId: connection.userId, leases: null, since: null, lastSeen: null };
      this.entries.set(key, entry);
    }
    const { leases } = entry;
    if (leases === connection.leaseId || (typeof leases === 'object' && leases !== null && leases.has(connection.leaseId))) return { change: 'none', record: toRecord(entry) };
    if (leases !== null) {
      if (typeof leases === 'string') entry.leases = new Set([leases, connection.leaseId]);
      else leases.add(connection.leaseId);
      return { change: 'none', record: toRecord(entry) };
    }
    entry.leases = connection.leaseId;
    entry.since = at;
    this.offline.delete(key);
    insertSorted(this.tenantList(entry.tenantId), entry.userId);
    return { change: 'online', record: toRecord(entry) };
  }

  async connectionClosed(connection: PresenceConnection, at: number): Promise<PresenceTransition> {
    const key = userKey(connection.tenantId, connection.userId);
    const entry = this.entries.get(key);
    if (entry === undefined) return { change: 'none', record: unknownRecord(connection.tenantId, connection.userId) };
    if (!removeLease(entry, connection.leaseId) || entry.leases !== null) return { change: 'none', record: toRecord(entry) };
    entry.since = null;
    entry.lastSeen = at;
    const list = this.online.get(entry.tenantId);
    if (list !== undefined) {
      removeSorted(list, entry.userId);
      if (list.length === 0) this.online.delete(entry.tenantId);
    }
    const record = toRecord(entry);
    this.remember(key);
    return { change: 'offline', record };
  }

  async get(tenantId: string, userId: string): Promise<PresenceRecord | null> {
    const entry = this.entries.get(userKey(tenantId, userId));
    return entry === undefined ? null : toRecord(entry);
  }

  async listOnline(tenantId: string, after: string | null, limit: number): Promise<readonly PresenceRecord[]> {
    const list = this.online.get(tenantId);
    if (list === undefined || limit <= 0) return [];
    const start = after === null ? 0 : upperBound(list, after);
    const page: PresenceRecord[] = [];
    for (const userId of list.slice(start, start + limit)) {
      const entry = this.entries.get(userKey(tenantId, userId));
      if (entry !== undefined) page.push(toRecord(entry));
    }
    return page;
  }

  async countOnline(tenantId: string): Promise<number> {
    return this.online.get(tenantId)?.length ?? 0;
  }

  async setPreference(tenantId: string, userId: string, preference: string | null): Promise<void> {
    const key = userKey(tenantId, userId);
    if (preference === null) this.preferences.delete(key);
    else this.preferences.set(key, preference);
  }

  async getPreference(tenantId: string, userId: string): Promise<string | null> {
    return this.preferences.get(userKey(tenantId, userId)) ?? null;
  }

  async roomJoined(connection: RoomPresenceConnection, at: number): Promise<RoomPresenceTransition> {
    const key = roomKey(connection.tenantId, connection.room);
    let room = this.rooms.get(key);
    if (room === undefined) {
      room = { sorted: [], members: new Map() };
      this.rooms.set(flatString(key), room);
    }
    let member = room.members.get(connection.userId);
    let change: RoomPresenceTransition['change'] = 'none';
    if (member === undefined) {
      member = { leases: new Set(), joinedAt: at, meta: null };
      room.members.set(connection.userId, member);
      insertSorted(room.sorted, connection.userId);
      const uKey = userKey(connection.tenantId, connection.userId);
      let rooms = this.userRooms.get(uKey);
      if (rooms === undefined) {
        rooms = [];
        this.userRooms.set(flatString(uKey), rooms);
      }
      insertSorted(rooms, connection.room);
      change = 'join';
    }
    member.leases.add(connection.leaseId);
    if (connection.meta !== undefined && connection.meta !== null) member.meta = Object.freeze({ ...connection.meta });
    return roomTransition(change, connection, toMember(connection.userId, member));
  }

  async roomLeft(connection: RoomPresenceConnection, at: number): Promise<RoomPresenceTransition> {
    void at;
    const key = roomKey(connection.tenantId, connection.room);
    const room = this.rooms.get(key);
    const member = room?.members.get(connection.userId);
    if (room === undefined || member === undefined) {
      return roomTransition('none', connection, Object.freeze({ userId: connection.userId, connections: 0, joinedAt: at, meta: null }));
    }
    if (!member.leases.delete(connection.leaseId) || member.leases.size > 0) return roomTransition('none', connection, toMember(connection.userId, member));
    room.members.delete(connection.userId);
    removeSorted(room.sorted, connection.userId);
    if (room.members.size === 0) this.rooms.delete(key);
    const uKey = userKey(connection.tenantId, connection.userId);
    const rooms = this.userRooms.get(uKey);
    if (rooms !== undefined) {
      removeSorted(rooms, connection.room);
      if (rooms.length === 0) this.userRooms.delete(uKey);
    }
    return roomTransition('leave', connection, toMember(connection.userId, member));
  }

  async roomMember(tenantId: string, room: string, userId: string): Promise<RoomMember | null> {
    const member = this.rooms.get(roomKey(tenantId, room))?.members.get(userId);
    return member === undefined ? null : toMember(userId, member);
  }

  async listRoom(tenantId: string, room: string, after: string | null, limit: number): Promise<readonly RoomMember[]> {
    const entry = this.rooms.get(roomKey(tenantId, room));
    if (entry === undefined || limit <= 0) return [];
    const start = after === null ? 0 : upperBound(entry.sorted, after);
    const page: RoomMember[] = [];
    for (let i = start; i < entry.sorted.length && page.length < limit; i += 1) {
      const userId = entry.sorted[i];
      const member = entry.members.get(userId);
      if (member !== undefined) page.push(toMember(userId, member));
    }
    return page;
  }

  async countRoom(tenantId: string, room: string): Promise<number> {
    return this.rooms.get(roomKey(tenantId, room))?.members.size ?? 0;
  }

  async roomsOf(tenantId: string, userId: string, limit: number): Promise<readonly string[]> {
    return (this.userRooms.get(userKey(tenantId, userId)) ?? []).slice(0, Math.max(0, limit));
  }

  /** Sizes of the internal maps (for tests and metrics). */
  get stats(): InMemoryPresenceStoreStats {
    let onlineUsers = 0;
    for (const list of this.online.values()) onlineUsers += list.length;
    let roomMembers = 0;
    for (const room of this.rooms.values()) roomMembers += room.members.size;
    return {
      rooms: this.rooms.size,
      roomMembers,
      usersInRooms: this.userRooms.size,
      records: this.entries.size,
      onlineUsers,
      onlineTenants: this.online.size,
      offlineRecords: this.offline.size,
      preferences: this.preferences.size,
    };
  }

  private tenantList(tenantId: string): string[] {
    let list = this.online.get(tenantId);
    if (list === undefined) {
      list = [];
      this.online.set(tenantId, list);
    }
    return list;
  }

  /** Keeps an offline entry for its `lastSeen`, forgetting the longest-offline past the bound. */
  private remember(key: string): void {
    // Kept as long as the offline record: stored flat.
    this.offline.set(flatString(key), true);
    while (this.offline.size > this.maxOfflineRecords) {
      const oldest = this.offline.keys().next().value as string;
      this.offline.delete(oldest);
      this.entries.delete(oldest);
    }
  }
}

/** Removes a lease id from the entry (null once none is left); true when it was there. */
function removeLease(entry: UserEntry, leaseId: string): boolean {
  const { leases } = entry;
  if (leases === null) return false;
  if (typeof leases === 'string') {
    if (leases !== leaseId) return false;
    entry.leases = null;
    return true;
  }
  if (!leases.delete(leaseId)) return false;
  if (leases.size === 0) entry.leases = null;
  return true;
}

/** Key of a room: tenant and room, URI-encoded like a user key. */
function roomKey(tenantId: string, room: string): string {
  return `${encodeURIComponent(tenantId)}/${encodeURIComponent(room)}`;
}

function toMember(userId: string, member: RoomMemberEntry): RoomMember {
  return Object.freeze({ userId, connections: member.leases.size, joinedAt: member.joinedAt, meta: member.meta });
}

function roomTransition(change: RoomPresenceTransition['change'], connection: RoomPresenceConnection, member: RoomMember): RoomPresenceTransition {
  return Object.freeze({ change, tenantId: connection.tenantId, room: connection.room, member });
}

function toRecord(entry: UserEntry): PresenceRecord {
  const { leases } = entry;
  const connections = leases === null ? 0 : typeof leases === 'string' ? 1 : leases.size;
  return Object.freeze({
    userId: entry.userId,
    tenantId: entry.tenantId,
    status: connections > 0 ? 'online' : 'offline',
    connections,
    since: connections > 0 ? entry.since : null,
    lastSeen: entry.lastSeen,
  });
}

function unknownRecord(tenantId: string, userId: string): PresenceRecord {
  return Object.freeze({ userId, tenantId, status: 'offline', connections: 0, since: null, lastSeen: null });
}

/** Index of the first element strictly greater than `value`. */
function upperBound(list: readonly string[], value: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(list: string[], value: string): void {
  const at = upperBound(list, value);
  if (at > 0 && list[at - 1] === value) return;
  list.splice(at, 0, value);
}

function removeSorted(list: string[], value: string): void {
  const at = upperBound(list, value) - 1;
  if (at >= 0 && list[at] === value) list.splice(at, 1);
}
