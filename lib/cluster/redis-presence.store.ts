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
import { userKey } from '../utils/user-key.js';
import { everyHashFieldBatch, inBatches } from './batches.js';
import { indexField, parseField } from './redis-connection-lease.store.js';
import type { RedisConnection } from './redis-connection.js';
import { PRESENCE_CLOSE, PRESENCE_GET, PRESENCE_OPEN, PRESENCE_REAP, ROOM_JOIN, ROOM_LEAVE } from './redis-scripts.js';

const BATCH = 500;

/** Settings of the Redis presence store. */
export interface RedisPresenceStoreOptions {
  /** Seconds an offline user's `lastSeen` is kept. @default 2592000 (30 days) */
  readonly offlineRecordTtlSeconds?: number;
}

/** A connection this process opened, as it was opened. */
interface LocalConnection {
  readonly connection: PresenceConnection;
  readonly at: number;
  /** The open reached Redis (its `online`, if any, was announced by `PresenceService`). */
  confirmed: boolean;
}

/** A room membership this process wrote, as it was written. */
interface LocalRoomConnection {
  readonly connection: RoomPresenceConnection;
  readonly at: number;
  /** The join reached Redis (its `join`, if any, was announced). */
  confirmed: boolean;
}

/**
 * Presence in Redis, with the in-memory store's semantics, every call one Lua script:
 * - per user, a hash of open connections (lease id → node) and a record (`since`, `lastSeen`);
 * - per tenant, a sorted set of online user ids (all scores 0, so pages follow the ids' byte
 *   order: `listOnline` continues strictly after the cursor's id);
 * - per node, an index of its connections, so a dead node's can be closed (`reapNode`) and a
 *   node's rebuilt from its live sockets (`resync`).
 * `connections` counts all nodes together. Offline records expire after
 * `offlineRecordTtlSeconds`. Identifiers travel as KEYS/ARGV only.
 */
export class RedisPresenceStore implements PresenceStore, RoomPresenceStore {
  /** Connections of this node opened through this store and not closed: node-index field → connection. */
  private readonly local = new Map<string, LocalConnection>();
  /** Room memberships of this node written through this store and not left: node-rooms field → membership. */
  private readonly localRooms = new Map<string, LocalRoomConnection>();
  private readonly offlineTtl: number;

  constructor(
    private readonly redis: RedisConnection,
    private readonly nodeId: string,
    options: RedisPresenceStoreOptions = {},
  ) {
    const ttl = options.offlineRecordTtlSeconds ?? 30 * 24 * 3600;
    if (!Number.isInteger(ttl) || ttl < 1) throw new RangeError('RedisPresenceStore: offlineRecordTtlSeconds must be a positive integer');
    this.offlineTtl = ttl;
  }

  async connectionOpened(connection: PresenceConnection, at: number): Promise<PresenceTransition> {
    const field = presenceField(connection);
    const mine = connection.nodeId === this.nodeId;
    const entry: LocalConnection = { connection: freeze(connection), at, confirmed: false };
    if (mine && !this.local.has(field)) this.local.set(field, entry);
    const reply = await PRESENCE_OPEN.run(this.redis.commands, this.keysFor(connection), [connection.leaseId, connection.nodeId, at, connection.userId, field]);
    if (mine && this.local.get(field) === entry) entry.confirmed = true;
    return transition(connection.tenantId, connection.userId, reply);
  }

  async connectionClosed(connection: PresenceConnection, at: number): Promise<PresenceTransition> {
    const field = presenceField(connection);
    if (connection.nodeId === this.nodeId) this.local.delete(field);
    // With the slot release of the same connection when it comes in the same turn (one script).
    const reply = await this.redis.disconnects.close(connection.nodeId, userKey(connection.tenantId, connection.userId), connection.leaseId,
      this.keysFor(connection), [connection.leaseId, at, '', connection.userId, field, this.offlineTtl]);
    return transition(connection.tenantId, connection.userId, reply);
  }

  async get(tenantId: string, userId: string): Promise<PresenceRecord | null> {
    const key = userKey(tenantId, userId);
    const reply = await PRESENCE_GET.run(this.redis.commands, [this.redis.keys.presenceConnections(key), this.redis.keys.presenceRecord(key)], []);
    const { record, known } = parse(tenantId, userId, reply);
    return known ? record : null;
  }

  async listOnline(tenantId: string, after: string | null, limit: number): Promise<readonly PresenceRecord[]> {
    const { commands, keys } = this.redis;
    const page: PresenceRecord[] = [];
    let cursor = after;
    // The tenant's online users are spread over one sorted set per bucket: take the next `want`
    // ids of each (pipelined) and merge them in byte order. Users leaving between the two reads
    // are skipped; read on so a page is full while more exist.
    while (limit > 0 && page.length < limit) {
      const want = limit - page.length;
      const start = cursor === null ? '-' : `(${cursor}`;
      const perBucket = await Promise.all(keys.buckets.map((bucket) => commands.zrangebylex(keys.presenceOnline(tenantId, bucket), start, '+', 'LIMIT', 0, want)));
      const ids = perBucket.flat().sort(compareBytes).slice(0, want);
      if (ids.length === 0) break;
      const records = await Promise.all(ids.map((id) => this.get(tenantId, id)));
      for (const record of records) if (record?.status === 'online') page.push(record);
      if (ids.length < want) break;
      cursor = ids[ids.length - 1];
    }
    return page;
  }

  async countOnline(tenantId: string): Promise<number> {
    const { commands, keys } = this.redis;
    const counts = await Promise.all(keys.buckets.map((bucket) => commands.zcard(keys.presenceOnline(tenantId, bucket))));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async setPreference(tenantId: string, userId: string, preference: string | null): Promise<void> {
    const key = this.redis.keys.presencePreference(userKey(tenantId, userId));
    if (preference === null) await this.redis.commands.del(key);
    else await this.redis.commands.set(key, preference);
  }

  async getPreference(tenantId: string, userId: string): Promise<string | null> {
    return this.redis.commands.get(this.redis.keys.presencePreference(userKey(tenantId, userId)));
  }

  async roomJoined(connection: RoomPresenceConnection, at: number): Promise<RoomPresenceTransition> {
    const field = roomField(connection);
    const mine = connection.nodeId === this.nodeId;
    const entry: LocalRoomConnection = { connection: freezeRoom(connection), at, confirmed: false };
    if (mine && !this.localRooms.has(field)) this.localRooms.set(field, entry);
    const result = await this.writeJoin(connection, at, field);
    if (mine && this.localRooms.get(field) === entry) entry.confirmed = true;
    return result;
  }

  async roomLeft(connection: RoomPresenceConnection, at: number): Promise<RoomPresenceTransition> {
    void at;
    const field = roomField(connection);
    if (connection.nodeId === this.nodeId) this.localRooms.delete(field);
    return this.writeLeave(connection, field, '');
  }

  async roomMember(tenantId: string, room: string, userId: string): Promise<RoomMember | null> {
    const raw = await this.redis.commands.hget(this.redis.keys.roomMemberData(tenantId, room), userId);
    return raw === null ? null : memberFromJson(userId, raw);
  }

  async listRoom(tenantId: string, room: string, after: string | null, limit: number): Promise<readonly RoomMember[]> {
    const { commands, keys } = this.redis;
    const page: RoomMember[] = [];
    let cursor = after;
    // Members leaving between the two reads are skipped; read on so a page is full while more exist.
    while (limit > 0 && page.length < limit) {
      const want = limit - page.length;
      const ids = await commands.zrangebylex(keys.roomMembers(tenantId, room), cursor === null ? '-' : `(${cursor}`, '+', 'LIMIT', 0, want);
      if (ids.length === 0) break;
      const data = await commands.hmget(keys.roomMemberData(tenantId, room), ...ids);
      for (const [i, id] of ids.entries()) {
        const raw = data[i];
        if (raw !== null && raw !== undefined) {
          const member = memberFromJson(id, raw);
          if (member.connections > 0) page.push(member);
        }
      }
      if (ids.length < want) break;
      cursor = ids[ids.length - 1];
    }
    return page;
  }

  async countRoom(tenantId: string, room: string): Promise<number> {
    return this.redis.commands.zcard(this.redis.keys.roomMembers(tenantId, room));
  }

  async roomsOf(tenantId: string, userId: string, limit: number): Promise<readonly string[]> {
    if (limit <= 0) return [];
    return this.redis.commands.zrangebylex(this.redis.keys.userRooms(userKey(tenantId, userId)), '-', '+', 'LIMIT', 0, limit);
  }

  /** Room memberships of this node the store believes held. */
  get localRoomCount(): number {
    return this.localRooms.size;
  }

  /**
   * Makes Redis hold exactly this node's live room memberships (as {@link resync} does for
   * connections). Returns the changes to announce: every `leave`, and a `join` only for a
   * membership whose join never reached Redis, so a flush causes no storm.
   */
  async resyncRooms(): Promise<RoomPresenceTransition[]> {
    const { commands, keys } = this.redis;
    const indexed = await commands.hkeys(keys.nodeRooms(this.nodeId));
    const changes: RoomPresenceTransition[] = [];
    const stale = indexed.filter((field) => !this.localRooms.has(field));
    await inBatches(stale, BATCH, async (field) => {
      const parsed = parseField(field, 4);
      if (parsed === null) {
        await commands.hdel(keys.nodeRooms(this.nodeId), field);
        return;
      }
      const [tenantId, room, userId, leaseId] = parsed;
      const change = await this.writeLeave({ tenantId, room, userId, leaseId, nodeId: this.nodeId }, field, this.nodeId);
      if (change.change === 'leave') changes.push(change);
    });
    await inBatches([...this.localRooms], BATCH, async ([field, entry]) => {
      const change = await this.writeJoin(entry.connection, entry.at, field);
      if (change.change === 'join' && !entry.confirmed) changes.push(change);
      entry.confirmed = true;
    });
    return changes;
  }

  /**
   * Removes every room membership of a dead node, a batch at a time; calls `onChange` for each
   * user who left a room. Stops, returning `false`, as soon as that node is alive again.
   */
  async reapNodeRooms(deadNodeId: string, onChange: (change: RoomPresenceTransition) => void): Promise<boolean> {
    const { commands, keys } = this.redis;
    const index = keys.nodeRooms(deadNodeId);
    return everyHashFieldBatch(commands, index, BATCH, async (fields) => {
      if (deadNodeId !== this.nodeId && (await commands.exists(keys.nodeAlive(deadNodeId))) === 1) return false;
      const changes = await Promise.all(fields.map(async (field) => {
        const parsed = parseField(field, 4);
        if (parsed === null) {
          await commands.hdel(index, field);
          return null;
        }
        const [tenantId, room, userId, leaseId] = parsed;
        return this.writeLeave({ tenantId, room, userId, leaseId, nodeId: deadNodeId }, field, deadNodeId);
      }));
      for (const change of changes) if (change !== null && change.change === 'leave') onChange(change);
      return true;
    });
  }

  /** The room script, then the user's room index and this node's index (other slots: separate commands). */
  private async writeJoin(connection: RoomPresenceConnection, at: number, field: string): Promise<RoomPresenceTransition> {
    const { commands, keys } = this.redis;
    const meta = connection.meta === undefined || connection.meta === null ? '' : JSON.stringify(connection.meta);
    const reply = await ROOM_JOIN.run(commands, this.roomKeys(connection.tenantId, connection.room), [connection.leaseId, connection.nodeId, at, connection.userId, meta]);
    await Promise.all([
      commands.hset(keys.nodeRooms(connection.nodeId), field, '1'),
      commands.zadd(keys.userRooms(userKey(connection.tenantId, connection.userId)), 0, connection.room),
    ]);
    return roomTransitionOf(connection, reply);
  }

  private async writeLeave(connection: RoomPresenceConnection, field: string, owner: string): Promise<RoomPresenceTransition> {
    const { commands, keys } = this.redis;
    const roomKeys = this.roomKeys(connection.tenantId, connection.room);
    const reply = await ROOM_LEAVE.run(commands, roomKeys, [connection.leaseId, connection.userId, owner]);
    await commands.hdel(keys.nodeRooms(connection.nodeId), field);
    const change = roomTransitionOf(connection, reply);
    if (change.change === 'leave') {
      const index = keys.userRooms(userKey(connection.tenantId, connection.userId));
      await commands.zrem(index, connection.room);
      // A join on another node may have landed between the script and the ZREM: put the room back.
      if ((await commands.zscore(roomKeys[0], connection.userId)) !== null) await commands.zadd(index, 0, connection.room);
    }
    return change;
  }

  private roomKeys(tenantId: string, room: string): string[] {
    const { keys } = this.redis;
    return [keys.roomMembers(tenantId, room), keys.roomMemberData(tenantId, room), keys.roomConnections(tenantId, room)];
  }

  /** Connections of this node the store believes open. */
  get localCount(): number {
    return this.local.size;
  }

  /**
   * Makes Redis hold exactly this node's live connections: closes indexed ones this node no
   * longer has (their users go offline at `now` when it was their last) and writes back live
   * ones that vanished. Returns the transitions to announce: every `offline`, and an `online`
   * only when the user was not already announced online (an open that never reached Redis,
   * or a user another node reaped while this one was unreachable), so a flush causes no storm.
   */
  async resync(now: number): Promise<PresenceTransition[]> {
    const { commands, keys } = this.redis;
    const indexed = (await Promise.all(keys.buckets.map(async (bucket) =>
      (await commands.hkeys(keys.nodePresence(this.nodeId, bucket))).map((field) => ({ bucket, field }))))).flat();
    const changes: PresenceTransition[] = [];
    const stale = indexed.filter(({ field }) => !this.local.has(field));
    await inBatches(stale, BATCH, async ({ bucket, field }) => {
      const [tenantId, userId, leaseId] = parseField(field, 3) ?? ['', '', ''];
      if (tenantId === '' || keys.bucketOf(userKey(tenantId, userId)) !== bucket) {
        await commands.hdel(keys.nodePresence(this.nodeId, bucket), field);
        return;
      }
      const reply = await PRESENCE_CLOSE.run(commands, this.keysFor({ tenantId, userId, leaseId, nodeId: this.nodeId }), [leaseId, now, '', userId, field, this.offlineTtl]);
      const change = transition(tenantId, userId, reply);
      if (change.change === 'offline') changes.push(change);
    });
    await inBatches([...this.local], BATCH, async ([field, entry]) => {
      const { connection, at } = entry;
      const reply = await PRESENCE_OPEN.run(commands, this.keysFor(connection), [connection.leaseId, connection.nodeId, at, connection.userId, field]);
      const change = transition(connection.tenantId, connection.userId, reply);
      if (change.change === 'online' && (!entry.confirmed || change.record.lastSeen !== null)) changes.push(change);
      entry.confirmed = true;
    });
    return changes;
  }

  /**
   * Closes every connection of a dead node, bucket by bucket, a batch at a time, with `lastSeen`
   * = `lastSeen` (the node's last heartbeat). Calls `onChange` for each user who went offline.
   * Stops, returning `false`, as soon as that node turns out to be alive again (checked before
   * each batch: its alive key lives in another slot of a cluster).
   */
  async reapNode(deadNodeId: string, lastSeen: number, onChange: (change: PresenceTransition) => void): Promise<boolean> {
    const { commands, keys } = this.redis;
    const alive = keys.nodeAlive(deadNodeId);
    const stillDead = async () => (await commands.exists(alive)) === 0;
    if (!(await stillDead())) return false;
    const complete = await Promise.all(keys.buckets.map((bucket) => {
      const index = keys.nodePresence(deadNodeId, bucket);
      return everyHashFieldBatch(commands, index, BATCH, async (fields) => {
        if (!(await stillDead())) return false;
        const replies = await Promise.all(fields.map(async (field) => {
          const [tenantId, userId, leaseId] = parseField(field, 3) ?? ['', '', ''];
          const key = userKey(tenantId, userId);
          // A damaged field, or one filed under the wrong bucket, names no connection here: drop it.
          if (tenantId === '' || keys.bucketOf(key) !== bucket) {
            await commands.hdel(index, field);
            return null;
          }
          const reply = await PRESENCE_REAP.run(commands, [
            keys.presenceConnections(key), keys.presenceRecord(key), keys.presenceOnline(tenantId, bucket), index,
          ], [leaseId, lastSeen, deadNodeId, userId, field, this.offlineTtl]);
          return transition(tenantId, userId, reply);
        }));
        for (const change of replies) if (change !== null && change.change === 'offline') onChange(change);
        return true;
      });
    }));
    return complete.every(Boolean) && (await stillDead());
  }

  private keysFor(connection: PresenceConnection): string[] {
    const key = userKey(connection.tenantId, connection.userId);
    const { keys } = this.redis;
    const bucket = keys.bucketOf(key);
    return [keys.presenceConnections(key), keys.presenceRecord(key), keys.presenceOnline(connection.tenantId, bucket), keys.nodePresence(connection.nodeId, bucket)];
  }
}

/** Byte order of UTF-8, as Redis orders sorted-set members of equal score. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function presenceField(connection: PresenceConnection): string {
  return indexField(connection.tenantId, connection.userId, connection.leaseId);
}

function roomField(connection: RoomPresenceConnection): string {
  return indexField(connection.tenantId, connection.room, connection.userId, connection.leaseId);
}

function freezeRoom(connection: RoomPresenceConnection): RoomPresenceConnection {
  return Object.freeze({
    tenantId: connection.tenantId, userId: connection.userId, leaseId: connection.leaseId, nodeId: connection.nodeId,
    room: connection.room, meta: connection.meta ?? null,
  });
}

/** Reads a room script's reply: {change, connections, joinedAt, metadata JSON}. */
function roomTransitionOf(connection: RoomPresenceConnection, reply: unknown): RoomPresenceTransition {
  const [changeRaw, connectionsRaw, joinedRaw, metaRaw] = Array.isArray(reply) ? reply : [];
  const change = changeRaw === 'join' || changeRaw === 'leave' ? changeRaw : 'none';
  const member: RoomMember = Object.freeze({
    userId: connection.userId,
    connections: Math.max(0, Number(connectionsRaw) || 0),
    joinedAt: Number(joinedRaw) || 0,
    meta: parseMeta(metaRaw),
  });
  return Object.freeze({ change, tenantId: connection.tenantId, room: connection.room, member });
}

function memberFromJson(userId: string, raw: string): RoomMember {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = null;
  }
  const v = (value !== null && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  return Object.freeze({ userId, connections: Math.max(0, Number(v.c) || 0), joinedAt: Number(v.j) || 0, meta: parseMeta(v.m) });
}

/** Metadata as stored (a JSON object string written by this store), or `null`. */
function parseMeta(raw: unknown): RoomMemberMeta | null {
  if (typeof raw !== 'string' || raw === '') return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    const meta: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
      if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) meta[k] = v;
    }
    return Object.freeze(meta);
  } catch {
    return null;
  }
}

function freeze(connection: PresenceConnection): PresenceConnection {
  return Object.freeze({ tenantId: connection.tenantId, userId: connection.userId, leaseId: connection.leaseId, nodeId: connection.nodeId });
}

function transition(tenantId: string, userId: string, reply: unknown): PresenceTransition {
  const { change, record } = parse(tenantId, userId, reply);
  return Object.freeze({ change, record });
}

/** Reads a presence script's reply: {change, connections, since, lastSeen, recordExists}. */
function parse(tenantId: string, userId: string, reply: unknown): { change: PresenceTransition['change']; record: PresenceRecord; known: boolean } {
  const [changeRaw, connectionsRaw, sinceRaw, lastSeenRaw, existsRaw] = Array.isArray(reply) ? reply : [];
  const connections = Number(connectionsRaw) || 0;
  const change = changeRaw === 'online' || changeRaw === 'offline' ? changeRaw : 'none';
  const since = connections > 0 && sinceRaw !== '' && sinceRaw !== undefined ? Number(sinceRaw) : null;
  const lastSeen = lastSeenRaw !== '' && lastSeenRaw !== undefined ? Number(lastSeenRaw) : null;
  const record: PresenceRecord = Object.freeze({
    userId, tenantId, status: connections > 0 ? 'online' : 'offline', connections, since, lastSeen,
  });
  return { change, record, known: connections > 0 || Number(existsRaw) === 1 };
}
