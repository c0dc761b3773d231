/**
 * Every Redis key and stream name the library uses, built from one prefix. Each family has its
 * own fixed head and ends with the whole identifier (an encoded user key, a URI-encoded tenant,
 * or a validated node id), so two families or two identifiers can never produce the same key.
 * Identifiers are data: they are passed to Redis as KEYS/ARGV, never put in a script or a pattern.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** Hash: lease id → node id, the user's connection slots. */
  userLeases(userKey: string): string {
    return `${this.prefix}lease:${userKey}`;
  }

  /** Hash: `[userKey, leaseId]` (JSON) → 1, the slots a node holds (for reaping and rebuilding). */
  nodeLeases(nodeId: string): string {
    return `${this.prefix}node-leases:${nodeId}`;
  }

  /** Hash: lease id → node id, the user's open connections for presence. */
  presenceConnections(userKey: string): string {
    return `${this.prefix}presence-conn:${userKey}`;
  }

  /** Hash: `since`, `lastSeen` of a user. */
  presenceRecord(userKey: string): string {
    return `${this.prefix}presence-rec:${userKey}`;
  }

  /** Sorted set (all scores 0, so ordered by user id bytes): online users of a tenant. */
  presenceOnline(tenantId: string): string {
    return `${this.prefix}presence-online:${encodeURIComponent(tenantId)}`;
  }

  /** String: a user's voluntary status. */
  presencePreference(userKey: string): string {
    return `${this.prefix}presence-pref:${userKey}`;
  }

  /** Hash: `[tenantId, userId, leaseId]` (JSON) → 1, the presence connections a node holds. */
  nodePresence(nodeId: string): string {
    return `${this.prefix}node-presence:${nodeId}`;
  }

  /**
   * Sorted set (all scores 0): the user ids in one room of a tenant. The room's three keys share
   * one hash tag (tenant + room), so a room script touches a single Redis Cluster slot.
   */
  roomMembers(tenantId: string, room: string): string {
    return `${this.prefix}room-m:{${roomTag(tenantId, room)}}`;
  }

  /** Hash: user id → JSON `{c, j, m}` (connections in the room, joinedAt, metadata). Same tag as `roomMembers`. */
  roomMemberData(tenantId: string, room: string): string {
    return `${this.prefix}room-d:{${roomTag(tenantId, room)}}`;
  }

  /** Hash: lease id → node id, the connections in one room. Same tag as `roomMembers`. */
  roomConnections(tenantId: string, room: string): string {
    return `${this.prefix}room-c:{${roomTag(tenantId, room)}}`;
  }

  /** Sorted set (all scores 0): the rooms a user is in (tagged by user). */
  userRooms(userKey: string): string {
    return `${this.prefix}user-rooms:{${userKey}}`;
  }

  /** Hash: `[tenantId, room, userId, leaseId]` (JSON) → 1, the room memberships a node holds. */
  nodeRooms(nodeId: string): string {
    return `${this.prefix}node-rooms:${nodeId}`;
  }

  /** Hash: node id → its last heartbeat (epoch ms, the node's clock): every registered node. */
  nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** String with a TTL of `nodeTimeoutMs`, renewed by each heartbeat: the node is alive while it exists. */
  nodeAlive(nodeId: string): string {
    return `${this.prefix}node-alive:${nodeId}`;
  }

  /** String with a TTL: the node reaping a dead node holds it (one reaper per dead node). */
  reapLock(nodeId: string): string {
    return `${this.prefix}reap-lock:${nodeId}`;
  }

  /** String (JSON ban record), expiring with the ban. */
  ban(userKey: string): string {
    return `${this.prefix}ban:${userKey}`;
  }

  /** String (JSON permission list): a moderation override. */
  permissions(userKey: string): string {
    return `${this.prefix}perm:${userKey}`;
  }

  /** Stream of cross-node messages on one channel (`moderation`, `presence`). */
  bus(channel: string): string {
    return `${this.prefix}bus:${channel}`;
  }

  /** Counter of one throttler window. */
  throttleHits(key: string, throttlerName: string): string {
    return `${this.prefix}throttle:${encodeURIComponent(throttlerName)}:${key}`;
  }

  /** Flag of a blocked throttler key. */
  throttleBlock(key: string, throttlerName: string): string {
    return `${this.prefix}throttle-block:${encodeURIComponent(throttlerName)}:${key}`;
  }

  /** Channel prefix of `@socket.io/redis-adapter`. */
  socketIo(): string {
    return `${this.prefix}socket.io`;
  }
}

/** Tenant and room, each URI-encoded (so neither can contain `{`, `}` or the `/` between them). */
function roomTag(tenantId: string, room: string): string {
  return `${encodeURIComponent(tenantId)}/${encodeURIComponent(room)}`;
}
