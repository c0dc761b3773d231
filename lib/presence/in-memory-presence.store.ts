import { Injectable } from '@nestjs/common';
import type {
  PresenceConnection,
  PresenceRecord,
  PresenceStore,
  PresenceTransition,
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
}

/**
 * Single-process presence. Each call runs to completion before the next (Node's event loop),
 * which makes every call atomic. Online users of a tenant are kept sorted by id, so a page is
 * a binary search plus a slice. Offline records are bounded (oldest forgotten first).
 */
@Injectable()
export class InMemoryPresenceStore implements PresenceStore {
  private readonly entries = new Map<string, UserEntry>();
  /** Per tenant: ids of online users, sorted by UTF-16 code units. */
  private readonly online = new Map<string, string[]>();
  /** Keys of offline entries, oldest first (Map keeps insertion order). */
  private readonly offline = new Map<string, true>();
  private readonly preferences = new Map<string, string>();
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

  /** Sizes of the internal maps (for tests and metrics). */
  get stats(): InMemoryPresenceStoreStats {
    let onlineUsers = 0;
    for (const list of this.online.values()) onlineUsers += list.length;
    return {
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
