import type {
  PresenceConnection,
  PresenceRecord,
  PresenceStore,
  PresenceTransition,
} from '../interfaces/presence-store.interface.js';
import { userKey } from '../utils/user-key.js';
import { everyHashFieldBatch, inBatches } from './batches.js';
import { indexField, parseField } from './redis-connection-lease.store.js';
import type { RedisConnection } from './redis-connection.js';
import { PRESENCE_CLOSE, PRESENCE_GET, PRESENCE_OPEN, PRESENCE_REAP } from './redis-scripts.js';

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
export class RedisPresenceStore implements PresenceStore {
  /** Connections of this node opened through this store and not closed: node-index field → connection. */
  private readonly local = new Map<string, LocalConnection>();
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
    const reply = await PRESENCE_CLOSE.run(this.redis.commands, this.keysFor(connection), [connection.leaseId, at, '', connection.userId, field, this.offlineTtl]);
    return transition(connection.tenantId, connection.userId, reply);
  }

  async get(tenantId: string, userId: string): Promise<PresenceRecord | null> {
    const key = userKey(tenantId, userId);
    const reply = await PRESENCE_GET.run(this.redis.commands, [this.redis.keys.presenceConnections(key), this.redis.keys.presenceRecord(key)], []);
    const { record, known } = parse(tenantId, userId, reply);
    return known ? record : null;
  }

  async listOnline(tenantId: string, after: string | null, limit: number): Promise<readonly PresenceRecord[]> {
    const page: PresenceRecord[] = [];
    let cursor = after;
    // Users leaving between the two reads are skipped; read on so a page is full while more exist.
    while (limit > 0 && page.length < limit) {
      const want = limit - page.length;
      const ids = await this.redis.commands.zrangebylex(this.redis.keys.presenceOnline(tenantId), cursor === null ? '-' : `(${cursor}`, '+', 'LIMIT', 0, want);
      if (ids.length === 0) break;
      const records = await Promise.all(ids.map((id) => this.get(tenantId, id)));
      for (const record of records) if (record?.status === 'online') page.push(record);
      if (ids.length < want) break;
      cursor = ids[ids.length - 1];
    }
    return page;
  }

  async countOnline(tenantId: string): Promise<number> {
    return this.redis.commands.zcard(this.redis.keys.presenceOnline(tenantId));
  }

  async setPreference(tenantId: string, userId: string, preference: string | null): Promise<void> {
    const key = this.redis.keys.presencePreference(userKey(tenantId, userId));
    if (preference === null) await this.redis.commands.del(key);
    else await this.redis.commands.set(key, preference);
  }

  async getPreference(tenantId: string, userId: string): Promise<string | null> {
    return this.redis.commands.get(this.redis.keys.presencePreference(userKey(tenantId, userId)));
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
    const indexed = await commands.hkeys(keys.nodePresence(this.nodeId));
    const changes: PresenceTransition[] = [];
    const stale = indexed.filter((field) => !this.local.has(field));
    await inBatches(stale, BATCH, async (field) => {
      const [tenantId, userId, leaseId] = parseField(field, 3) ?? ['', '', ''];
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
   * Closes every connection of a dead node, a batch at a time, with `lastSeen` = `lastSeen`
   * (the node's last heartbeat). Calls `onChange` for each user who went offline. Stops,
   * returning `false`, as soon as that node turns out to be alive again.
   */
  async reapNode(deadNodeId: string, lastSeen: number, onChange: (change: PresenceTransition) => void): Promise<boolean> {
    const { commands, keys } = this.redis;
    const index = keys.nodePresence(deadNodeId);
    const alive = keys.nodeAlive(deadNodeId);
    return everyHashFieldBatch(commands, index, BATCH, async (fields) => {
      const replies = await Promise.all(fields.map(async (field) => {
        const [tenantId, userId, leaseId] = parseField(field, 3) ?? ['', '', ''];
        const key = userKey(tenantId, userId);
        const reply = await PRESENCE_REAP.run(commands, [
          keys.presenceConnections(key), keys.presenceRecord(key), keys.presenceOnline(tenantId), index, alive,
        ], [leaseId, lastSeen, deadNodeId, userId, field, this.offlineTtl]);
        return reply === -1 ? null : transition(tenantId, userId, reply);
      }));
      if (replies.includes(null)) return false;
      for (const change of replies) if (change !== null && change.change === 'offline') onChange(change);
      return true;
    });
  }

  private keysFor(connection: PresenceConnection): string[] {
    const key = userKey(connection.tenantId, connection.userId);
    const { keys } = this.redis;
    return [keys.presenceConnections(key), keys.presenceRecord(key), keys.presenceOnline(connection.tenantId), keys.nodePresence(connection.nodeId)];
  }
}

function presenceField(connection: PresenceConnection): string {
  return indexField(connection.tenantId, connection.userId, connection.leaseId);
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
