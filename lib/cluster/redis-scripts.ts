import { RedisScript } from './redis-script.js';

/**
 * The Lua scripts of the Redis stores, each one atomic round trip. Every key is declared in
 * KEYS; every identifier (user key, lease id, tenant, user id, node id) arrives in ARGV. The keys
 * of one call always share a hash tag (see `RedisKeys`), so every script runs on a Redis Cluster.
 */

/**
 * Check-and-take a connection slot.
 * KEYS: user leases, node leases. ARGV: lease id, max, node id, node-index field, force (1: no ceiling, for rebuilding).
 * Returns 1 when already held, 2 when taken now, 0 when full.
 */
export const LEASE_ACQUIRE = new RedisScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[4], '1')
  return 1
end
if ARGV[5] ~= '1' and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], '1')
return 2
`);

/**
 * Give a slot back (idempotent).
 * KEYS: user leases, node leases. ARGV: lease id, node-index field.
 */
export const LEASE_RELEASE = new RedisScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
`);

/**
 * Release a dead node's slot (only if the slot is still that node's). The caller checks that the
 * node is still dead before each batch: its alive key lives in another slot of a cluster.
 * KEYS: user leases, dead node's leases (the user's bucket). ARGV: lease id, node-index field, dead node id.
 * Returns 1.
 */
export const LEASE_REAP = new RedisScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[3] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
`);

/**
 * Shared tail of the presence scripts: the user's record after the call. `k` shifts the KEYS it
 * reads (a script that first works on other keys passes the presence keys after them).
 */
const presenceRecord = (k = 0) => `
local rec = redis.call('HMGET', KEYS[${k + 2}], 'since', 'lastSeen')
return {change, redis.call('HLEN', KEYS[${k + 1}]), rec[1] or '', rec[2] or '', redis.call('EXISTS', KEYS[${k + 2}])}
`;
const PRESENCE_RECORD = presenceRecord();

/**
 * A connection opened.
 * KEYS: presence connections, presence record, tenant's online set, node presence.
 * ARGV: lease id, node id, at, user id, node-index field.
 * Returns {change, connections, since, lastSeen, recordExists}.
 */
export const PRESENCE_OPEN = new RedisScript(`
local change = 'none'
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('HSET', KEYS[4], ARGV[5], '1')
  if redis.call('HLEN', KEYS[1]) == 1 then
    redis.call('HSET', KEYS[2], 'since', ARGV[3])
    redis.call('PERSIST', KEYS[2])
    redis.call('ZADD', KEYS[3], 0, ARGV[4])
    change = 'online'
  end
end
${PRESENCE_RECORD}`);

/** Shared body of close and reap: drop one connection; the last one takes the user offline. `k`, `a` shift KEYS and ARGV. */
const presenceDrop = (k = 0, a = 0) => `
local change = 'none'
local removed = redis.call('HDEL', KEYS[${k + 1}], ARGV[${a + 1}])
redis.call('HDEL', KEYS[${k + 4}], ARGV[${a + 5}])
if removed == 1 and redis.call('HLEN', KEYS[${k + 1}]) == 0 then
  redis.call('HDEL', KEYS[${k + 2}], 'since')
  redis.call('HSET', KEYS[${k + 2}], 'lastSeen', ARGV[${a + 2}])
  redis.call('EXPIRE', KEYS[${k + 2}], tonumber(ARGV[${a + 6}]))
  redis.call('ZREM', KEYS[${k + 3}], ARGV[${a + 4}])
  change = 'offline'
end
`;
const PRESENCE_DROP = presenceDrop();

/**
 * A connection closed (idempotent; an unknown one creates nothing).
 * KEYS: presence connections, presence record, tenant's online set, node presence.
 * ARGV: lease id, at, (unused), user id, node-index field, offline record TTL (s).
 */
export const PRESENCE_CLOSE = new RedisScript(`${PRESENCE_DROP}${PRESENCE_RECORD}`);

/**
 * A connection ended: its slot is given back and its presence entry closed, in one script (the
 * lease and presence keys of a user share the `{u<bucket>}` tag). Each half is exactly
 * LEASE_RELEASE and PRESENCE_CLOSE, so running them together changes nothing but the round trip.
 * KEYS: user leases, node leases, then PRESENCE_CLOSE's four. ARGV: lease id, lease node-index
 * field, then PRESENCE_CLOSE's six. Returns as PRESENCE_CLOSE.
 */
export const LEASE_RELEASE_PRESENCE_CLOSE = new RedisScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
${presenceDrop(2, 2)}${presenceRecord(2)}`);

/**
 * Close a dead node's connection (only if the connection is still that node's). The caller checks
 * that the node is still dead before each batch (its alive key lives in another slot).
 * KEYS: as PRESENCE_CLOSE. ARGV: as PRESENCE_CLOSE, ARGV[3] the dead node id. Returns as PRESENCE_CLOSE.
 */
export const PRESENCE_REAP = new RedisScript(`
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and owner ~= ARGV[3] then
  redis.call('HDEL', KEYS[4], ARGV[5])
  local change = 'none'
  ${PRESENCE_RECORD}
end
${PRESENCE_DROP}${PRESENCE_RECORD}`);

/**
 * Read one user atomically. KEYS: presence connections, presence record.
 * Returns {'none', connections, since, lastSeen, recordExists}.
 */
export const PRESENCE_GET = new RedisScript(`
local change = 'none'
${PRESENCE_RECORD}`);

/**
 * A connection entered a room. KEYS (one hash tag): room members, member data, room connections.
 * ARGV: lease id, node id, at, user id, metadata JSON ('' keeps the stored one).
 * Returns {change ('join'|'none'), connections, joinedAt, metadata JSON}.
 */
export const ROOM_JOIN = new RedisScript(`
local raw = redis.call('HGET', KEYS[2], ARGV[4])
local rec
if raw then rec = cjson.decode(raw) else rec = {c = 0, j = ARGV[3]} end
local change = 'none'
if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2]) == 1 then
  rec.c = rec.c + 1
  if rec.c == 1 then
    rec.j = ARGV[3]
    redis.call('ZADD', KEYS[1], 0, ARGV[4])
    change = 'join'
  end
end
if ARGV[5] ~= '' then rec.m = ARGV[5] end
redis.call('HSET', KEYS[2], ARGV[4], cjson.encode(rec))
return {change, rec.c, rec.j, rec.m or ''}
`);

/**
 * A connection left a room (idempotent). KEYS: as ROOM_JOIN.
 * ARGV: lease id, user id, owner node ('' any: only that node's connection is removed).
 * Returns {change ('leave'|'none'), connections, joinedAt, metadata JSON}.
 */
export const ROOM_LEAVE = new RedisScript(`
local raw = redis.call('HGET', KEYS[2], ARGV[2])
local owner = redis.call('HGET', KEYS[3], ARGV[1])
if (not owner) or (ARGV[3] ~= '' and owner ~= ARGV[3]) then
  if raw then
    local rec = cjson.decode(raw)
    return {'none', rec.c, rec.j, rec.m or ''}
  end
  return {'none', 0, '', ''}
end
redis.call('HDEL', KEYS[3], ARGV[1])
local rec
if raw then rec = cjson.decode(raw) else rec = {c = 1, j = ''} end
rec.c = rec.c - 1
if rec.c <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('ZREM', KEYS[1], ARGV[2])
  return {'leave', 0, rec.j, rec.m or ''}
end
redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(rec))
return {'none', rec.c, rec.j, rec.m or ''}
`);

/**
 * Heartbeat: renew this node's alive key and registration.
 * KEYS: alive key, nodes hash. ARGV: node id, now (ms), timeout (ms).
 * Returns 1 when the alive key was there, 0 when it had vanished (expired, reaped or flushed).
 */
export const NODE_HEARTBEAT = new RedisScript(`
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return existed
`);

/**
 * Forget a reaped node, unless it came back (its per-bucket indexes are empty once reaped).
 * KEYS: alive key, nodes hash (both `{nodes}`). ARGV: node id. Returns 1 when forgotten.
 */
export const NODE_FORGET = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`);

/**
 * Release a lock only if this node still holds it. KEYS: lock. ARGV: holder.
 */
export const LOCK_RELEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * Fixed-window rate limit with blocking, as `@nestjs/throttler` storage: past the limit the key
 * is blocked for the block duration (the window's TTL when 0), counting restarts after it.
 * KEYS: hits, block (its value counts the hits while blocked). ARGV: ttl (ms), limit, block duration (ms).
 * Returns {totalHits, msToExpire, blocked (0/1), msToBlockExpire}.
 */
export const THROTTLE_INCREMENT = new RedisScript(`
local blockTtl = redis.call('PTTL', KEYS[2])
if blockTtl > 0 then
  return {redis.call('INCR', KEYS[2]), blockTtl, 1, blockTtl}
end
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
  ttl = tonumber(ARGV[1])
end
if hits > tonumber(ARGV[2]) then
  local block = tonumber(ARGV[3])
  if block < 1 then block = ttl end
  redis.call('SET', KEYS[2], hits, 'PX', block)
  redis.call('DEL', KEYS[1])
  return {hits, ttl, 1, block}
end
return {hits, ttl, 0, 0}
`);
