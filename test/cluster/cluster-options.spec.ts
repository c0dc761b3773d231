import { WebSocketGateway } from '@nestjs/websockets';
import { Redis } from 'ioredis';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { InvalidRealtimeSecurityOptionsError, ModerationService, type RealtimeSecurityOptions } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect, connected } from '../support/clients.js';
import { deleteKeys, RedisServer, releaseTestRedis, testRedis, uniquePrefix } from '../support/redis.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';
import { RedisKeys } from '../../lib/cluster/redis-keys.js';

/** The `redis` option: validated at start-up, an app's own client, and the `fail-open` policy. */
@WebSocketGateway()
class RootGateway {}

const base = { jwt: { secret: TEST_SECRET } } satisfies RealtimeSecurityOptions;
const resolve = (redis: unknown) => resolveOptions({ ...base, redis } as RealtimeSecurityOptions);

afterEach(() => closeAllClients());
afterAll(async () => { await releaseTestRedis(); });

describe('redis option validation', () => {
  it('is off by default and has documented defaults when on', () => {
    expect(resolveOptions(base).redis).toBeNull();
    expect(resolve({ url: 'redis://127.0.0.1:6379' }).redis).toMatchObject({
      keyPrefix: 'rts:', heartbeatMs: 1000, nodeTimeoutMs: 5000, commandTimeoutMs: 2000, onUnavailable: 'fail-closed',
    });
    expect(resolve({ url: 'redis://127.0.0.1:6379', heartbeatMs: 3000 }).redis).toMatchObject({ nodeTimeoutMs: 9000 });
  });

  it.each([
    [{}, 'redis'],
    [{ url: 'redis://a', client: {} }, 'redis'],
    [{ url: 'http://127.0.0.1:6379' }, 'redis.url'],
    [{ url: 'not a url' }, 'redis.url'],
    [{ client: { get: () => null } }, 'redis.client'],
    [{ url: 'redis://h', keyPrefix: '' }, 'redis.keyPrefix'],
    [{ url: 'redis://h', keyPrefix: 'a*' }, 'redis.keyPrefix'],
    [{ url: 'redis://h', keyPrefix: 'has space' }, 'redis.keyPrefix'],
    [{ url: 'redis://h', nodeId: 'a b' }, 'redis.nodeId'],
    [{ url: 'redis://h', nodeId: 'x'.repeat(65) }, 'redis.nodeId'],
    [{ url: 'redis://h', heartbeatMs: 100 }, 'redis.heartbeatMs'],
    [{ url: 'redis://h', heartbeatMs: 2000, nodeTimeoutMs: 5000 }, 'redis.nodeTimeoutMs'],
    [{ url: 'redis://h', nodeTimeoutMs: 120_000 }, 'redis.nodeTimeoutMs'],
    [{ url: 'redis://h', commandTimeoutMs: 0 }, 'redis.commandTimeoutMs'],
    [{ url: 'redis://h', onUnavailable: 'ignore' }, 'redis.onUnavailable'],
    [{ url: 'redis://h', nodes: ['h:7000'] }, 'redis'],
    [{ nodes: [] }, 'redis.nodes'],
    [{ nodes: 'h:7000' }, 'redis.nodes'],
    [{ nodes: ['h:7000', 'no-port'] }, 'redis.nodes[1]'],
    [{ nodes: ['h:70000'] }, 'redis.nodes[0]'],
    [{ nodes: ['redis://:pw@h:7000'] }, 'redis.nodes[0]'],
    ['redis://h', 'redis'],
  ])('refuses %j at start-up, naming %s', (redis, option) => {
    let error: unknown;
    try {
      resolve(redis);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidRealtimeSecurityOptionsError);
    expect((error as InvalidRealtimeSecurityOptionsError).option).toBe(option);
  });

  it('accepts Redis Cluster seeds as host:port ([v6]:port for IPv6)', () => {
    expect(resolve({ nodes: ['10.0.0.1:7000', 'redis-2.internal:7001', '[::1]:7002'] }).redis).toMatchObject({
      url: null, client: null, nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-2.internal', port: 7001 }, { host: '::1', port: 7002 }],
    });
  });

  it('never echoes a seed (a mistyped one may be a URL with a password) in its message', () => {
    expect(() => resolve({ nodes: ['redis://:hunter2-secret@h:7000'] })).toThrow(InvalidRealtimeSecurityOptionsError);
    try {
      resolve({ nodes: ['redis://:hunter2-secret@h:7000'] });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('never echoes a URL (it may carry a password) in its message', () => {
    expect(() => resolve({ url: 'http://user:hunter2-secret@host:6379' })).toThrow(InvalidRealtimeSecurityOptionsError);
    try {
      resolve({ url: 'http://user:hunter2-secret@host:6379' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

describe('redis.client', () => {
  // On a cluster, starting one takes a few seconds: done before the test's own clock starts.
  beforeAll(() => testRedis(), 90_000);

  it('uses the app\'s own ioredis client (a Redis, or a Cluster on a Redis Cluster) for its settings and leaves it open at shutdown', async () => {
    const target = await testRedis();
    const prefix = uniquePrefix('client');
    const client = target.client();
    let app: TestApp | undefined;
    try {
      app = await startApp({ gateways: [RootGateway], security: { logInventory: false, connections: { maxPerUser: 1 }, redis: { client, keyPrefix: prefix } } });
      await connected(app.url, '/', { auth: { token: signToken({ sub: 'owner' }) } });
      expect((await connect(app.url, '/', { auth: { token: signToken({ sub: 'owner' }) } })).error?.data?.code).toBe('CONNECTION_LIMIT');
      expect(await client.hlen(new RedisKeys(prefix).userLeases('acme/owner'))).toBe(1);
      await app.close();
      app = undefined;
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
    } finally {
      await app?.close();
      await deleteKeys(target, prefix);
      client.disconnect();
    }
  }, 60_000);
});

describe('redis.onUnavailable: fail-open', () => {
  let server: RedisServer;
  let app: TestApp;
  beforeAll(async () => {
    server = await RedisServer.start();
    app = await startApp({
      gateways: [RootGateway],
      security: { logInventory: false, connections: { maxPerUser: 2 }, redis: { url: server.url, onUnavailable: 'fail-open' } },
    });
  });
  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('admits handshakes on this node\'s own count while Redis is down, without the ban check; restores everything when it is back', async () => {
    const token = (sub: string) => signToken({ sub, tenant: 'open' });
    await app.app.get(ModerationService).banUser('open', 'banned-before');
    expect((await connect(app.url, '/', { auth: { token: token('banned-before') } })).error?.data?.code).toBe('BANNED');
    await server.stop();
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => connect(app.url, '/', { auth: { token: token('walker') } })));
    expect(outcomes.filter((o) => o.connected)).toHaveLength(2);
    for (const refused of outcomes.filter((o) => !o.connected)) expect(refused.error?.data?.code).toBe('CONNECTION_LIMIT');
    // The documented price of fail-open: bans cannot be read while Redis is down.
    expect((await connect(app.url, '/', { auth: { token: token('banned-before') } })).connected).toBe(true);
    await server.restart();
    // The restarted Redis is empty: the node writes its live connections back.
    const check = new Redis(server.url);
    try {
      await waitFor('slots written back', async () => (await check.hlen(new RedisKeys('rts:').userLeases('open/walker')).catch(() => 0)) === 2, 10_000, 50);
    } finally {
      check.disconnect();
    }
    expect((await connect(app.url, '/', { auth: { token: token('walker') } })).error?.data?.code).toBe('CONNECTION_LIMIT');
  });
});
