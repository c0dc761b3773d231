import { jest } from '@jest/globals';
import { RedisConnectionLeaseStore } from '../../lib/cluster/redis-connection-lease.store.js';
import type { RedisConnection } from '../../lib/cluster/redis-connection.js';
import { RedisModerationStore } from '../../lib/cluster/redis-moderation.store.js';
import { RedisPresenceStore } from '../../lib/cluster/redis-presence.store.js';
import { RedisThrottlerStorage } from '../../lib/cluster/redis-throttler.storage.js';
import { userKey } from '../../lib/utils/user-key.js';
import { deleteKeys, openConnection, releaseTestRedis, testRedis, uniquePrefix, type TestRedis } from '../support/redis.js';
import { describeConnectionLeaseStoreContract } from './connection-lease-store.contract.js';
import { describePresenceStoreContract, describeRoomPresenceStoreContract } from './presence-store.contract.js';

/**
 * The shared store contracts, and the Redis-only behaviour (reaping, rebuilding, moderation,
 * throttling), on a real Redis; `stores.redis.sharded.spec.ts` runs this file on a real Redis Cluster.
 */
let url: TestRedis;
let prefix: string;
let connection: RedisConnection;

beforeAll(async () => {
  url = await testRedis();
  prefix = uniquePrefix('stores');
  connection = await openConnection(url, prefix);
});

afterAll(async () => {
  await connection.onApplicationShutdown();
  await deleteKeys(url, prefix);
  await releaseTestRedis();
});

describeConnectionLeaseStoreContract('redis', () => new RedisConnectionLeaseStore(connection, 'contract-node'));
describePresenceStoreContract('redis', () => new RedisPresenceStore(connection, 'contract-node'));
describeRoomPresenceStoreContract('redis', () => new RedisPresenceStore(connection, 'contract-node'));

describe('Redis connection leases across nodes', () => {
  it('two nodes racing for one user never pass the ceiling together', async () => {
    const a = new RedisConnectionLeaseStore(connection, 'node-a');
    const b = new RedisConnectionLeaseStore(connection, 'node-b');
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).acquire('t/race', `r${i}`, 3)));
    expect(results.filter(Boolean)).toHaveLength(3);
    expect(await a.count('t/race')).toBe(3);
  });

  it('reaping a dead node releases only its slots; a node alive again is left alone', async () => {
    const dead = new RedisConnectionLeaseStore(connection, 'dead-1');
    const live = new RedisConnectionLeaseStore(connection, 'live-1');
    await dead.acquire('t/reap', 'd1', 5);
    await dead.acquire('t/reap', 'd2', 5);
    await live.acquire('t/reap', 'l1', 5);
    await connection.commands.set(connection.keys.nodeAlive('dead-1'), '1');
    expect(await live.reapNode('dead-1')).toBe(false);
    expect(await live.count('t/reap')).toBe(3);
    await connection.commands.del(connection.keys.nodeAlive('dead-1'));
    expect(await live.reapNode('dead-1')).toBe(true);
    expect(await live.count('t/reap')).toBe(1);
    expect(await connection.commands.hlen(connection.keys.nodeLeases('dead-1', connection.keys.bucketOf('t/reap')))).toBe(0);
  });

  it('rebuilds its own slots after a flush, and drops the ones whose release never reached Redis', async () => {
    const store = new RedisConnectionLeaseStore(connection, 'resync-1');
    await store.acquire('t/resync', 'keep', 2);
    await store.acquire('t/resync', 'gone', 2);
    // A release that failed while Redis was down: gone here, still there.
    await connection.commands.hdel(connection.keys.userLeases('t/resync'), 'keep');
    await store.release('t/resync', 'gone');
    await connection.commands.hset(connection.keys.userLeases('t/resync'), 'gone', 'resync-1');
    await connection.commands.hset(connection.keys.nodeLeases('resync-1', connection.keys.bucketOf('t/resync')), JSON.stringify(['t/resync', 'gone']), '1');
    expect(await store.resync()).toEqual({ restored: 1, removed: 1 });
    expect(await connection.commands.hkeys(connection.keys.userLeases('t/resync'))).toEqual(['keep']);
  });
});

describe('Redis presence across nodes', () => {
  it('counts connections of all nodes; reaping a dead node takes its users offline with its last beat as lastSeen', async () => {
    const a = new RedisPresenceStore(connection, 'p-node-a');
    const b = new RedisPresenceStore(connection, 'p-node-b');
    await a.connectionOpened({ tenantId: 'reap', userId: 'only-a', leaseId: 'a1', nodeId: 'p-node-a' }, 1000);
    await a.connectionOpened({ tenantId: 'reap', userId: 'both', leaseId: 'a2', nodeId: 'p-node-a' }, 1000);
    await b.connectionOpened({ tenantId: 'reap', userId: 'both', leaseId: 'b1', nodeId: 'p-node-b' }, 1100);
    expect(await b.get('reap', 'both')).toMatchObject({ status: 'online', connections: 2 });
    const changes: string[] = [];
    expect(await b.reapNode('p-node-a', 4242, (change) => changes.push(`${change.record.userId}:${change.change}:${change.record.lastSeen}`))).toBe(true);
    expect(changes).toEqual(['only-a:offline:4242']);
    expect(await b.get('reap', 'only-a')).toMatchObject({ status: 'offline', connections: 0, lastSeen: 4242 });
    expect(await b.get('reap', 'both')).toMatchObject({ status: 'online', connections: 1 });
    expect(await b.countOnline('reap')).toBe(1);
  });

  it('a rebuild after a flush writes live connections back without announcing users already announced', async () => {
    const store = new RedisPresenceStore(connection, 'p-resync');
    await store.connectionOpened({ tenantId: 'rs', userId: 'u1', leaseId: 'l1', nodeId: 'p-resync' }, 1000);
    const key = encodeURIComponent('rs') + '/' + encodeURIComponent('u1');
    const bucket = connection.keys.bucketOf(key);
    // All four share the user's hash tag: one DEL, even on a cluster.
    await connection.commands.del(connection.keys.presenceConnections(key), connection.keys.presenceRecord(key), connection.keys.presenceOnline('rs', bucket), connection.keys.nodePresence('p-resync', bucket));
    expect(await store.get('rs', 'u1')).toBeNull();
    expect(await store.resync(5000)).toEqual([]);
    expect(await store.get('rs', 'u1')).toMatchObject({ status: 'online', connections: 1, since: 1000 });
    // A connection closed while Redis was unreachable is closed by the rebuild, and announced.
    await connection.commands.hdel(connection.keys.presenceConnections(key), 'l1');
    await store.connectionClosed({ tenantId: 'rs', userId: 'u1', leaseId: 'l1', nodeId: 'p-resync' }, 6000);
    await connection.commands.hset(connection.keys.presenceConnections(key), 'l1', 'p-resync');
    await connection.commands.hset(connection.keys.nodePresence('p-resync', bucket), JSON.stringify(['rs', 'u1', 'l1']), '1');
    const changes = await store.resync(7000);
    expect(changes.map((c) => [c.change, c.record.lastSeen])).toEqual([['offline', 7000]]);
    expect(await store.get('rs', 'u1')).toMatchObject({ status: 'offline', connections: 0 });
  });
});

describe('Redis connection end: slot release and presence close together', () => {
  const conn = (userId: string, leaseId: string) => ({ tenantId: 'end', userId, leaseId, nodeId: 'end-node' });
  /** Scripts run (each starts as one EVALSHA; an EVAL follows only when Redis did not know the script yet). */
  const scriptCalls = () => {
    const evalsha = jest.spyOn(connection.commands, 'evalsha');
    return { count: () => evalsha.mock.calls.length, restore: () => evalsha.mockRestore() };
  };

  it('issued in the same turn for one connection, they run as one script with the effect of both', async () => {
    const leases = new RedisConnectionLeaseStore(connection, 'end-node');
    const presence = new RedisPresenceStore(connection, 'end-node');
    const key = userKey('end', 'one');
    expect(await leases.acquire(key, 'e1', 3)).toBe(true);
    await presence.connectionOpened(conn('one', 'e1'), 1000);
    const calls = scriptCalls();
    try {
      const [, closed] = await Promise.all([leases.release(key, 'e1'), presence.connectionClosed(conn('one', 'e1'), 2000)]);
      expect(calls.count()).toBe(1);
      expect(closed).toMatchObject({ change: 'offline', record: { status: 'offline', connections: 0, lastSeen: 2000 } });
    } finally {
      calls.restore();
    }
    expect(await leases.count(key)).toBe(0);
    expect(await presence.get('end', 'one')).toMatchObject({ status: 'offline', lastSeen: 2000 });
    const bucket = connection.keys.bucketOf(key);
    expect(await connection.commands.hlen(connection.keys.nodeLeases('end-node', bucket))).toBe(0);
    expect(await connection.commands.hlen(connection.keys.nodePresence('end-node', bucket))).toBe(0);
    expect(await presence.countOnline('end')).toBe(0);
  });

  it('writes of different connections, or of different nodes, each run their own script', async () => {
    const leases = new RedisConnectionLeaseStore(connection, 'end-node');
    const presence = new RedisPresenceStore(connection, 'end-node');
    const other = new RedisPresenceStore(connection, 'end-other');
    const key = userKey('end', 'two');
    await leases.acquire(key, 'e2', 3);
    await leases.acquire(key, 'e3', 3);
    await presence.connectionOpened(conn('two', 'e3'), 1000);
    await other.connectionOpened({ ...conn('two', 'e2'), nodeId: 'end-other' }, 1000);
    const calls = scriptCalls();
    try {
      const [, closedOther, closed] = await Promise.all([
        leases.release(key, 'e2'),
        other.connectionClosed({ ...conn('two', 'e2'), nodeId: 'end-other' }, 1500),
        presence.connectionClosed(conn('two', 'e3'), 2000),
      ]);
      expect(calls.count()).toBe(3);
      expect(closedOther.change).toBe('none');
      expect(closed).toMatchObject({ change: 'offline', record: { lastSeen: 2000 } });
    } finally {
      calls.restore();
    }
    expect(await connection.commands.hkeys(connection.keys.userLeases(key))).toEqual(['e3']);
    await leases.release(key, 'e3');
    expect(await leases.count(key)).toBe(0);
  });

  it('a failure of the joint script reaches both: the release is kept for the retry, the close rejects', async () => {
    const leases = new RedisConnectionLeaseStore(connection, 'end-node');
    const presence = new RedisPresenceStore(connection, 'end-node');
    const key = userKey('end', 'three');
    await leases.acquire(key, 'e4', 3);
    await presence.connectionOpened(conn('three', 'e4'), 1000);
    const evalsha = jest.spyOn(connection.commands, 'evalsha').mockRejectedValueOnce(new Error('Connection is closed.'));
    try {
      const [released, closed] = await Promise.allSettled([leases.release(key, 'e4'), presence.connectionClosed(conn('three', 'e4'), 2000)]);
      expect(released.status).toBe('fulfilled');
      expect(closed.status).toBe('rejected');
      expect(evalsha).toHaveBeenCalledTimes(1);
    } finally {
      evalsha.mockRestore();
    }
    // Neither half ran: the slot and the connection are both still there.
    expect(await leases.count(key)).toBe(1);
    expect(await presence.get('end', 'three')).toMatchObject({ status: 'online', connections: 1 });
    expect(leases.unconfirmedReleases).toBe(1);
    expect(await leases.retryReleases()).toBe(1);
    expect(await leases.count(key)).toBe(0);
    expect((await presence.connectionClosed(conn('three', 'e4'), 2500)).change).toBe('offline');
  });
});

describe('Redis room presence across nodes', () => {
  const room = (tenantId: string, userId: string, leaseId: string, nodeId: string) => ({ tenantId, room: 'channel:general', userId, leaseId, nodeId });

  it('reaping a dead node removes only its memberships; a node alive again is left alone', async () => {
    const a = new RedisPresenceStore(connection, 'r-node-a');
    const b = new RedisPresenceStore(connection, 'r-node-b');
    await a.roomJoined(room('rreap', 'only-a', 'a1', 'r-node-a'), 1000);
    await a.roomJoined(room('rreap', 'both', 'a2', 'r-node-a'), 1000);
    await b.roomJoined(room('rreap', 'both', 'b1', 'r-node-b'), 1100);
    expect(await b.roomMember('rreap', 'channel:general', 'both')).toMatchObject({ connections: 2, joinedAt: 1000 });
    // Alive: the reaper stops at once and changes nothing.
    await connection.commands.set(connection.keys.nodeAlive('r-node-a'), '1', 'PX', 60_000);
    expect(await b.reapNodeRooms('r-node-a', () => undefined)).toBe(false);
    expect(await b.countRoom('rreap', 'channel:general')).toBe(2);
    await connection.commands.del(connection.keys.nodeAlive('r-node-a'));
    const changes: string[] = [];
    expect(await b.reapNodeRooms('r-node-a', (change) => changes.push(`${change.member.userId}:${change.change}`))).toBe(true);
    expect(changes).toEqual(['only-a:leave']);
    expect((await b.listRoom('rreap', 'channel:general', null, 10)).map((m) => `${m.userId}:${m.connections}`)).toEqual(['both:1']);
    expect(await b.roomsOf('rreap', 'only-a', 10)).toEqual([]);
    expect(await b.roomsOf('rreap', 'both', 10)).toEqual(['channel:general']);
    expect(await connection.commands.hlen(connection.keys.nodeRooms('r-node-a'))).toBe(0);
  });

  it('a rebuild after a flush writes live memberships back without announcing them, and announces the leave of a stale one', async () => {
    const store = new RedisPresenceStore(connection, 'r-resync');
    await store.roomJoined(room('rrs', 'u1', 'l1', 'r-resync'), 1000);
    await store.roomJoined(room('rrs', 'u2', 'l2', 'r-resync'), 1000);
    const { keys, commands } = connection;
    // One DEL per key: the node index has another hash tag than the room's keys (another slot on a cluster).
    for (const key of [keys.roomMembers('rrs', 'channel:general'), keys.roomMemberData('rrs', 'channel:general'), keys.roomConnections('rrs', 'channel:general'), keys.nodeRooms('r-resync')]) await commands.del(key);
    expect(await store.countRoom('rrs', 'channel:general')).toBe(0);
    expect(await store.resyncRooms()).toEqual([]);
    expect((await store.listRoom('rrs', 'channel:general', null, 10)).map((m) => `${m.userId}:${m.connections}:${m.joinedAt}`)).toEqual(['u1:1:1000', 'u2:1:1000']);
    // u2's leave never reached Redis (it was down): the rebuild removes it and announces the leave.
    await commands.hset(keys.roomConnections('rrs', 'channel:general'), 'l2', 'r-resync');
    await store.roomLeft(room('rrs', 'u2', 'l2', 'r-resync'), 2000);
    await store.roomJoined(room('rrs', 'u2', 'l2', 'other-node'), 1000);
    await commands.hset(keys.roomConnections('rrs', 'channel:general'), 'l2', 'r-resync');
    await commands.hset(keys.nodeRooms('r-resync'), JSON.stringify(['rrs', 'channel:general', 'u2', 'l2']), '1');
    const changes = await store.resyncRooms();
    expect(changes.map((c) => `${c.member.userId}:${c.change}`)).toEqual(['u2:leave']);
    expect((await store.listRoom('rrs', 'channel:general', null, 10)).map((m) => m.userId)).toEqual(['u1']);
    expect(store.localRoomCount).toBe(1);
  });
});

describe('Redis moderation store', () => {
  it('keeps bans with and without an end, expires them, and keeps overrides per user', async () => {
    const store = new RedisModerationStore(connection);
    expect(await store.getBan('t/a')).toBeNull();
    await store.ban('t/a', { until: null, reason: 'spam' });
    expect(await store.getBan('t/a')).toEqual({ until: null, reason: 'spam' });
    await store.ban('t/b', { until: Date.now() + 150 });
    expect(await store.getBan('t/b')).toMatchObject({ until: expect.any(Number) });
    expect(await connection.commands.pttl(connection.keys.ban('t/b'))).toBeGreaterThan(0);
    await store.ban('t/c', { until: Date.now() - 1 });
    expect(await store.getBan('t/c')).toBeNull();
    await store.unban('t/a');
    expect(await store.getBan('t/a')).toBeNull();
    await store.setPermissions('t/a', ['channel:read']);
    expect(await store.getPermissions('t/a')).toEqual(['channel:read']);
    expect(await store.getPermissions('t/a*')).toBeNull();
    await store.setPermissions('t/a', null);
    expect(await store.getPermissions('t/a')).toBeNull();
  });

  it('reads the ban and the override in one MGET, the same as the two reads, damaged records included', async () => {
    const store = new RedisModerationStore(connection);
    const both = async (key: string) => ({ ban: await store.getBan(key), permissions: await store.getPermissions(key) });
    expect(await store.getModeration('m/none')).toEqual({ ban: null, permissions: null });
    await store.ban('m/a', { until: null, reason: 'spam' });
    await store.setPermissions('m/a', ['channel:read']);
    await store.ban('m/b', { until: Date.now() + 60_000 });
    await store.setPermissions('m/c', []);
    await connection.commands.set(connection.keys.ban('m/d'), 'not json');
    await connection.commands.set(connection.keys.permissions('m/d'), '{"not":"a list"}');
    for (const key of ['m/none', 'm/a', 'm/b', 'm/c', 'm/d']) expect(await store.getModeration(key)).toEqual(await both(key));
    // Damaged records fail closed: an indefinite ban, and an override that grants nothing.
    expect(await store.getModeration('m/d')).toEqual({ ban: { until: null }, permissions: [] });
  });
});

describe('Redis throttler storage', () => {
  it('counts hits of every node in one window and blocks past the limit', async () => {
    const one = new RedisThrottlerStorage(connection);
    const two = new RedisThrottlerStorage(connection);
    const hits = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? one : two).increment('user-x', 10_000, 10, 2000, 'default')));
    expect(hits.filter((h) => !h.isBlocked)).toHaveLength(10);
    const blocked = hits.filter((h) => h.isBlocked);
    expect(blocked).toHaveLength(2);
    for (const h of blocked) expect(h.timeToBlockExpire).toBeGreaterThan(0);
    const ok = await one.increment('user-y', 10_000, 10, 2000, 'default');
    expect(ok).toMatchObject({ totalHits: 1, isBlocked: false, timeToBlockExpire: 0 });
    expect(ok.timeToExpire).toBeGreaterThanOrEqual(9);
  });

  it('starts counting again once a block has passed', async () => {
    const storage = new RedisThrottlerStorage(connection);
    await storage.increment('user-z', 60_000, 1, 100, 'default');
    expect((await storage.increment('user-z', 60_000, 1, 100, 'default')).isBlocked).toBe(true);
    const client = url.client();
    try {
      const blockKey = connection.keys.throttleBlock('user-z', 'default');
      const deadline = Date.now() + 3000;
      while ((await client.exists(blockKey)) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await client.quit();
    }
    expect(await storage.increment('user-z', 60_000, 1, 100, 'default')).toMatchObject({ totalHits: 1, isBlocked: false });
  });
});
