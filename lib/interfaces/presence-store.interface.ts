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
