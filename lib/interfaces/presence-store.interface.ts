/** Server-observed presence of one user. */
export interface PresenceRecord {
  readonly userId: string;
  readonly tenantId: string;
  readonly status: 'online' | 'offline';
  /** Open connections, all nodes together. */
  readonly connections: number;
  /** When the user came online (epoch ms), while online. */
  readonly since: number | null;
  /** When the user's last connection closed (epoch ms), once they have been offline. */
  readonly lastSeen: number | null;
}

/** Identifies one physical connection in the presence store. */
export interface PresenceConnection {
  readonly userKey: string;
  readonly userId: string;
  readonly tenantId: string;
  /** The connection lease id (unique per physical connection). */
  readonly leaseId: string;
  /** The node holding the connection (cluster mode), so a dead node's connections can be reaped. */
  readonly nodeId: string;
}

/** What a store call changed: `online`/`offline` when the user's status flipped, else `none`. */
export interface PresenceTransition {
  readonly change: 'online' | 'offline' | 'none';
  readonly record: PresenceRecord;
}

/** A page of a tenant's online users. */
export interface PresencePage {
  readonly users: readonly PresenceRecord[];
  /** Pass back to get the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/**
 * Where presence lives. Written only by the library's connection lifecycle; every
 * implementation passes the same contract suite. Opening/closing an unknown or already
 * closed connection is a no-op that reports `none`.
 */
export interface PresenceStore {
  connectionOpened(connection: PresenceConnection, at: number): Promise<PresenceTransition>;
  connectionClosed(connection: PresenceConnection, at: number): Promise<PresenceTransition>;
  get(tenantId: string, userId: string): Promise<PresenceRecord | null>;
  listOnline(tenantId: string, options?: { readonly cursor?: string; readonly limit?: number }): Promise<PresencePage>;
  countOnline(tenantId: string): Promise<number>;
}

/** Injection token of the active {@link PresenceStore}. */
export const PresenceStore = Symbol('PresenceStore');
