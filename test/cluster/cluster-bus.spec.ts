import { WebSocketGateway } from '@nestjs/websockets';
import { filter, firstValueFrom } from 'rxjs';
import { REDIS_CONNECTION } from '../../lib/cluster/cluster.constants.js';
import type { RedisConnection } from '../../lib/cluster/redis-connection.js';
import { RedisConnectionLeaseStore } from '../../lib/cluster/redis-connection-lease.store.js';
import { RedisPresenceStore } from '../../lib/cluster/redis-presence.store.js';
import { ModerationService, PresenceService, type PresenceChange } from '../../lib/index.js';
import { ClusterNodeService, type ReapReport } from '../../lib/cluster/cluster-node.service.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect, connected, nextEvent } from '../support/clients.js';
import { deleteKeys, releaseTestRedis, testRedis, uniquePrefix, type TestRedis } from '../support/redis.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * The cross-node bus in process (two apps on one Redis, a key prefix of their own):
 * THREATS.md case 34 — a ban published while a node's bus connection is down still reaches it
 * when the connection is back — and the bus shrugging off garbage written into its streams.
 */
/** Nest serves Socket.IO only when a gateway exists; this one has no handlers. */
@WebSocketGateway()
class RootGateway {}

let url: TestRedis;
let prefix: string;
let a: TestApp;
let b: TestApp;

async function node(name: string): Promise<TestApp> {
  return startApp({ gateways: [RootGateway], security: { logInventory: false, redis: { ...url.option, keyPrefix: prefix, nodeId: name } } });
}

beforeAll(async () => {
  url = await testRedis();
  prefix = uniquePrefix('bus');
  [a, b] = await Promise.all([node('bus-a'), node('bus-b')]);
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await deleteKeys(url, prefix);
  await releaseTestRedis();
});

const token = (sub: string) => signToken({ sub, tenant: 'bus' });

describe('cluster bus', () => {
  it('a ban published while node B\'s bus connection is down is enforced on B as soon as it is back (THREATS 34)', async () => {
    const onA = await connected(a.url, '/', { auth: { token: token('late') } });
    const onB = await connected(b.url, '/', { auth: { token: token('late') } });
    const reader = (b.app.get(REDIS_CONNECTION) as RedisConnection).reader;
    reader.disconnect();
    const closedOnA = nextEvent(onA, 'disconnect');
    await a.app.get(ModerationService).banUser('bus', 'late');
    await closedOnA;
    // B has not heard of it yet (its bus is down), but a new handshake on B is refused from Redis.
    expect(onB.connected).toBe(true);
    expect((await connect(b.url, '/', { auth: { token: token('late') } })).error?.data?.code).toBe('BANNED');
    const closedOnB = nextEvent(onB, 'disconnect');
    const backAt = Date.now();
    await reader.connect();
    await closedOnB;
    console.log(`[measure] ban published while a node's bus connection was down: enforced ${Date.now() - backAt} ms after it came back`);
  });

  it('presence changes of one node are reported by the other node\'s PresenceService, once', async () => {
    const seen: PresenceChange[] = [];
    const subscription = b.app.get(PresenceService).changes$.subscribe((change) => seen.push(change));
    try {
      const online = firstValueFrom(b.app.get(PresenceService).changes$.pipe(filter((c) => c.userId === 'roamer' && c.type === 'online')));
      const socket = await connected(a.url, '/', { auth: { token: token('roamer') } });
      await online;
      const offline = firstValueFrom(b.app.get(PresenceService).changes$.pipe(filter((c) => c.userId === 'roamer' && c.type === 'offline')));
      socket.disconnect();
      await offline;
      expect(seen.filter((c) => c.userId === 'roamer').map((c) => c.type)).toEqual(['online', 'offline']);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('a registered node without a heartbeat is reaped once: its users go offline with its last beat, reported on every node', async () => {
    const reports: ReapReport[] = [];
    const off = [a, b].map((app) => app.app.get(ClusterNodeService).onReap((report) => reports.push(report)));
    const changes: PresenceChange[] = [];
    const subscription = b.app.get(PresenceService).changes$.subscribe((change) => changes.push(change));
    const connection = a.app.get(REDIS_CONNECTION) as RedisConnection;
    try {
      // A node that registered, opened a connection and a slot, then died (no alive key).
      const ghost = new RedisPresenceStore(connection, 'ghost-node');
      await ghost.connectionOpened({ tenantId: 'bus', userId: 'haunted', leaseId: 'g1', nodeId: 'ghost-node' }, 1000);
      await new RedisConnectionLeaseStore(connection, 'ghost-node').acquire('bus/haunted', 'g1', 5);
      await connection.commands.hset(connection.keys.nodes(), 'ghost-node', '4242');
      await waitFor('the ghost reaped', () => reports.some((r) => r.nodeId === 'ghost-node'), 5000);
      expect(reports.filter((r) => r.nodeId === 'ghost-node')).toEqual([{ nodeId: 'ghost-node', offline: 1, roomLeaves: 0, durationMs: expect.any(Number) }]);
      expect(await b.app.get(PresenceService).get('bus', 'haunted')).toMatchObject({ status: 'offline', connections: 0, lastSeen: 4242 });
      expect(await connection.commands.hlen(connection.keys.userLeases('bus/haunted'))).toBe(0);
      expect(await connection.commands.hexists(connection.keys.nodes(), 'ghost-node')).toBe(0);
      await waitFor('the offline reported on node B', () => changes.some((c) => c.userId === 'haunted' && c.type === 'offline' && c.lastSeen === 4242));
    } finally {
      subscription.unsubscribe();
      for (const stop of off) stop();
    }
  });

  it('garbage in the bus streams is ignored: no crash, the next real command still works', async () => {
    const redis = url.client();
    const busKey = (channel: string) => (a.app.get(REDIS_CONNECTION) as RedisConnection).keys.bus(channel);
    try {
      await redis.xadd(busKey('moderation'), '*', 'o', 'intruder', 'd', 'not json');
      await redis.xadd(busKey('moderation'), '*', 'o', 'intruder', 'd', JSON.stringify({ kind: 'ban', tenantId: 'bus', userId: 'x', until: 'soon' }));
      await redis.xadd(busKey('moderation'), '*', 'nothing', 'here');
      await redis.xadd(busKey('presence'), '*', 'o', 'intruder', 'd', JSON.stringify({ type: 'online', tenantId: 'bus', userId: { $gt: '' }, at: 1 }));
    } finally {
      await redis.quit();
    }
    const onB = await connected(b.url, '/', { auth: { token: token('still-fine') } });
    const closed = nextEvent(onB, 'disconnect');
    await a.app.get(ModerationService).disconnectUser('bus', 'still-fine');
    await closed;
  });
});
