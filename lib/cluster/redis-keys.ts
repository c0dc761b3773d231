/**
 * Hash-tag buckets of per-user data. Redis Cluster places a key by the `{tag}` in its name; every
 * key of one user (slots, presence, moderation) carries the tag of the user's bucket, and so does
 * each per-node index of that bucket and the tenant's online set of that bucket, so every script
 * touches one slot. 256 buckets spread users over up to 256 shards; reading a whole tenant or a
 * whole node walks the 256 buckets (pipelined). The layout is the same on a single Redis and on a
 * cluster, so moving from one to the other keeps every key where a client looks for it.
 */
export const USER_BUCKETS = 256;

/**
 * Every Redis key and stream name the library uses, built from one prefix. Each family has its
 * own fixed head and ends with the whole identifier (an encoded user key, a URI-encoded tenant,
 * or a validated node id), so two families or two identifiers can never produce the same key.
 * Identifiers are data: they are passed to Redis as KEYS/ARGV, never put in a script or a pattern.
 *
 * Hash tags (`{…}`, right after the prefix, which may not contain braces, so the tag is always
 * the first one): `{u<bucket>}` for per-user data and its indexes, `{nodes}` for the node
 * registry (heartbeats, alive keys, reap locks), `{bus}` for the cross-node streams (one XREAD
 * reads them all), `{t<bucket>}` for throttler counters.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The hash-tag bucket of a user key (0..USER_BUCKETS-1): FNV-1a of its UTF-16 units. */
  bucketOf(userKey: string): number {
    return fnv1a(userKey) % USER_BUCKETS;
  }

  /** Every bucket, for walks over a node's index or a tenant's online sets. */
  get buckets(): readonly number[] {
    return BUCKETS;
  }

  /** Hash: lease id → node id, the user's connection slots. */
  userLeases(userKey: string): string {
    return `${this.user(userKey)}lease:${userKey}`;
  }

  /** Hash: `[userKey, leaseId]` (JSON) → 1, the slots a node holds in one bucket (for reaping and rebuilding). */
  nodeLeases(nodeId: string, bucket: number): string {
    return `${this.prefix}{u${bucket}}node-leases:${nodeId}`;
  }

  /** Hash: lease id → node id, the user's open connections for presence. */
  presenceConnections(userKey: string): string {
    return `${this.user(userKey)}presence-conn:${userKey}`;
  }

  /** Hash: `since`, `lastSeen` of a user. */
  presenceRecord(userKey: string): string {
    return `${this.user(userKey)}presence-rec:${userKey}`;
  }

  /** Sorted set (all scores 0, so ordered by user id bytes): online users of a tenant in one bucket. */
  presenceOnline(tenantId: string, bucket: number): string {
    return `${this.prefix}{u${bucket}}presence-online:${encodeURIComponent(tenantId)}`;
  }

  /** String: a user's voluntary status. */
  presencePreference(userKey: string): string {
    return `${this.user(userKey)}presence-pref:${userKey}`;
  }

  /** Hash: `[tenantId, userId, leaseId]` (JSON) → 1, the presence connections a node holds in one bucket. */
  nodePresence(nodeId: string, bucket: number): string {
    return `${this.prefix}{u${bucket}}node-presence:${nodeId}`;
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
    return `${this.prefix}{nodes}nodes`;
  }

  /** String with a TTL of `nodeTimeoutMs`, renewed by each heartbeat: the node is alive while it exists. */
  nodeAlive(nodeId: string): string {
    return `${this.prefix}{nodes}node-alive:${nodeId}`;
  }

  /** String with a TTL: the node reaping a dead node holds it (one reaper per dead node). */
  reapLock(nodeId: string): string {
    return `${this.prefix}{nodes}reap-lock:${nodeId}`;
  }

  /** String (JSON ban record), expiring with the ban. */
  ban(userKey: string): string {
    return `${this.user(userKey)}ban:${userKey}`;
  }

  /** String (JSON permission list): a moderation override. */
  permissions(userKey: string): string {
    return `${this.user(userKey)}perm:${userKey}`;
  }

  /** Stream of cross-node messages on one channel (`moderation`, `presence`); all channels share one slot. */
  bus(channel: string): string {
    return `${this.prefix}{bus}bus:${channel}`;
  }

  /** Counter of one throttler window. */
  throttleHits(key: string, throttlerName: string): string {
    return `${this.throttle(key, throttlerName)}throttle:${encodeURIComponent(throttlerName)}:${key}`;
  }

  /** Flag of a blocked throttler key. */
  throttleBlock(key: string, throttlerName: string): string {
    return `${this.throttle(key, throttlerName)}throttle-block:${encodeURIComponent(throttlerName)}:${key}`;
  }

  /** Channel prefix of `@socket.io/redis-adapter`. */
  socketIo(): string {
    return `${this.prefix}socket.io`;
  }

  private user(userKey: string): string {
    return `${this.prefix}{u${this.bucketOf(userKey)}}`;
  }

  private throttle(key: string, throttlerName: string): string {
    return `${this.prefix}{t${fnv1a(`${throttlerName}\n${key}`) % USER_BUCKETS}}`;
  }
}

const BUCKETS: readonly number[] = Object.freeze(Array.from({ length: USER_BUCKETS }, (_, i) => i));

/** 32-bit FNV-1a over UTF-16 code units (stable across processes and versions). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Tenant and room, each URI-encoded (so neither can contain `{`, `}` or the `/` between them). */
function roomTag(tenantId: string, room: string): string {
  return `${encodeURIComponent(tenantId)}/${encodeURIComponent(room)}`;
}
