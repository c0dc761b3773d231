import { WebSocketGateway } from '@nestjs/websockets';
import { Redis } from 'ioredis';
import { RedisConnectionLeaseStore } from '../../lib/cluster/redis-connection-lease.store.js';
import type { RedisConnection } from '../../lib/cluster/redis-connection.js';
import { ConnectionLeaseStore, PresenceService, userKey } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect } from '../support/clients.js';
import { RedisServer, deleteKeys, openConnection, releaseTestRedis, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS case 52 (issue 14, finding 3): a slot acquire that timed out (Redis slower than
 * `commandTimeoutMs`) still runs in Redis later. The handshake is refused with
 * `SERVICE_UNAVAILABLE`, and the slot must not stay taken: the lifecycle releases it
 * (idempotently) right behind the acquire, and a release Redis does not confirm is sent again by
 * the maintenance loop.
 */
@WebSocketGateway()
class RootGateway {}

describe('a slot acquire that timed out (Redis slow: CLIENT PAUSE WRITE on a private redis-server)', () => {
  let server: RedisServer;
  let t: TestApp;
  let admin: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    t = await startApp({
      gateways: [RootGateway],
      security: {
        logInventory: false,
        connections: { maxPerUser: 1 },
        // Heartbeats far apart: a beat failing during the pause would trigger a full rebuild,
        // which is not what is tested here (the slot must go without one).
        redis: { url: server.url, keyPrefix: uniquePrefix('lease-timeout'), nodeId: 'slow', commandTimeoutMs: 250, heartbeatMs: 10_000, nodeTimeoutMs: 30_000 },
      },
    });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => {
    await t?.close();
    await admin?.quit();
    await server?.stop();
  });

  it('the handshake is refused SERVICE_UNAVAILABLE, and once Redis answers the user holds no slot and connects again', async () => {
    const store = t.app.get<ConnectionLeaseStore>(ConnectionLeaseStore);
    const key = userKey('acme', 'slow-user');
    const token = signToken({ sub: 'slow-user' });
    // The acquire script is loaded (EVALSHA finds it), as on any server that has served a handshake.
    const warmUp = await connect(t.url, '/', { auth: { token: signToken({ sub: 'warm-up' }) } });
    expect(warmUp.connected).toBe(true);
    // Its presence writes are done: nothing else is queued on the command connection during the pause.
    await t.app.get(PresenceService).flush();
    // Reads (the moderation MGET) go through; scripts (the acquire) wait until the pause ends.
    expect(await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE')).toBe('OK');
    const refused = await connect(t.url, '/', { auth: { token } });
    expect(refused.error?.data?.code).toBe('SERVICE_UNAVAILABLE');
    // Blocks until the pause is over: the timed-out acquire has run by then.
    await admin.set('pause-over', '1');
    await waitFor('the phantom slot to be released', async () => (await store.count(key)) === 0, 5000, 50);
    const again = await connect(t.url, '/', { auth: { token } });
    expect(again.error?.data?.code).toBeUndefined();
    expect(again.connected).toBe(true);
  });
});

describe('a slot release Redis did not confirm is sent again by the maintenance loop', () => {
  let url: string;
  let prefix: string;
  let connection: RedisConnection;

  beforeAll(async () => {
    url = await testRedisUrl();
    prefix = uniquePrefix('lease-retry');
    connection = await openConnection(url, prefix);
  });
  afterAll(async () => {
    await connection.onApplicationShutdown();
    await deleteKeys(url, prefix);
    await releaseTestRedis();
  });

  it('a release while the command connection is down is kept, then confirmed by retryReleases()', async () => {
    const store = new RedisConnectionLeaseStore(connection, 'retry-node');
    expect(await store.acquire('t/u', 'lease-1', 1)).toBe(true);
    // The command connection drops (failover): the release fails at once (no offline queue).
    const back = new Promise<void>((resolve) => connection.commands.once('ready', () => resolve()));
    connection.commands.disconnect(true);
    await store.release('t/u', 'lease-1');
    expect(store.unconfirmedReleases).toBe(1);
    await back;
    expect(await store.count('t/u')).toBe(1);
    expect(await store.retryReleases()).toBe(1);
    expect(store.unconfirmedReleases).toBe(0);
    expect(await store.count('t/u')).toBe(0);
    // Nothing left to send: no Redis traffic.
    expect(await store.retryReleases()).toBe(0);
  });
});
