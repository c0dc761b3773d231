import { InvalidRealtimeSecurityOptionsError, ModerationService, SecurityMetrics, type RealtimeSecurityOptions } from '../../lib/index.js';
import type { Meter, MeterProvider } from '@opentelemetry/api';
import { CapturingLogger } from '../support/capturing-logger.js';
import { RedisKeys } from '../../lib/cluster/redis-keys.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect, connected } from '../support/clients.js';
import { TestMetrics } from '../support/metrics-reader.js';
import { pingGateway } from '../support/ping.gateway.js';
import { plainClient, RedisServer } from '../support/redis.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const base: RealtimeSecurityOptions = { jwt: { secret: TEST_SECRET } };

describe('metrics option', () => {
  it('defaults to on, prefix realtime_security, the global meter provider', () => {
    expect(resolveOptions(base).metrics).toEqual({ enabled: true, prefix: 'realtime_security', meterProvider: null });
  });

  it.each([
    [{ enabled: 'yes' }, 'metrics.enabled'],
    [{ prefix: '1abc' }, 'metrics.prefix'],
    [{ prefix: 'a b' }, 'metrics.prefix'],
    [{ prefix: 'ends.' }, 'metrics.prefix'],
    [{ prefix: 'a..b' }, 'metrics.prefix'],
    [{ prefix: 'x'.repeat(65) }, 'metrics.prefix'],
    [{ prefix: '' }, 'metrics.prefix'],
    [{ meterProvider: {} }, 'metrics.meterProvider'],
  ])('refuses %j at start-up, naming %s and the fix', (metrics, option) => {
    const attempt = () => resolveOptions({ ...base, metrics: metrics as RealtimeSecurityOptions['metrics'] });
    expect(attempt).toThrow(InvalidRealtimeSecurityOptionsError);
    expect(attempt).toThrow(option);
  });

  it('accepts a dotted prefix', () => {
    expect(resolveOptions({ ...base, metrics: { prefix: 'acme.chat_rt' } }).metrics.prefix).toBe('acme.chat_rt');
  });
});

describe('metrics: in a running app', () => {
  let app: TestApp | undefined;
  let metrics: TestMetrics;
  const token = (sub: string) => signToken({ sub, tenant: 'acme', perms: [] });

  beforeEach(() => {
    metrics = new TestMetrics();
  });
  afterEach(async () => {
    closeAllClients();
    await app?.close();
    app = undefined;
    await metrics.shutdown();
  });

  it('enabled: false records nothing, and the service says it is inactive', async () => {
    app = await startApp({ gateways: [pingGateway('/chat')], security: { metrics: { enabled: false, meterProvider: metrics.provider } } });
    const socket = await connected(app.url, '/chat', { transports: ['websocket'], auth: { token: token('a') } });
    await socket.emitWithAck('ping', {});
    expect(app.app.get(SecurityMetrics).active).toBe(false);
    expect(await metrics.points()).toEqual([]);
  });

  it('prefix names every instrument; handshakes, durations and refusals by code are counted exactly', async () => {
    app = await startApp({ gateways: [pingGateway('/chat')], security: { metrics: { prefix: 'acme.rt', meterProvider: metrics.provider } } });
    for (const sub of ['a', 'b']) await connected(app.url, '/chat', { transports: ['websocket'], auth: { token: token(sub) } });
    expect((await connect(app.url, '/chat', { transports: ['polling'], auth: { token: 'not-a-jwt' } })).connected).toBe(false);
    expect((await connect(app.url, '/chat', { transports: ['websocket'] })).connected).toBe(false);
    const points = await metrics.points();
    expect(points.length).toBeGreaterThan(0);
    expect(points.every((p) => p.name.startsWith('acme.rt.'))).toBe(true);
    expect(await metrics.sum('acme.rt.handshakes', { namespace: '/chat', outcome: 'accepted' })).toBe(2);
    expect(await metrics.sum('acme.rt.handshakes', { namespace: '/chat', outcome: 'refused', code: 'UNAUTHORIZED' })).toBe(2);
    expect(await metrics.sum('acme.rt.handshake.duration', { namespace: '/chat' })).toBe(4);
    expect(await metrics.sum('acme.rt.connections.open', { namespace: '/chat', transport: 'websocket' })).toBe(2);
    expect(await metrics.sum('acme.rt.presence.online_users')).toBe(2);
  });

  it('disconnect reasons: token expiry, a moderator\'s disconnect; permission changes are moderation actions', async () => {
    app = await startApp({ gateways: [pingGateway('/chat')], security: { jwt: { secret: TEST_SECRET, clockToleranceSeconds: 0 }, metrics: { meterProvider: metrics.provider } } });
    const expiring = await connected(app.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'short', tenant: 'acme', perms: [] }, { expiresInSeconds: 2 }) } });
    const kicked = await connected(app.url, '/chat', { transports: ['polling'], auth: { token: token('kicked') } });
    const expired = new Promise<void>((resolve) => expiring.once('disconnect', () => resolve()));
    const gone = new Promise<void>((resolve) => kicked.once('disconnect', () => resolve()));
    const moderation = app.app.get(ModerationService);
    await moderation.setPermissions('acme', 'kicked', ['channel:read']);
    await moderation.disconnectUser('acme', 'kicked');
    await Promise.all([expired, gone]);
    await waitFor('both closes counted', async () => (await metrics.sum('realtime_security.disconnects')) === 2);
    expect(await metrics.sum('realtime_security.disconnects', { namespace: '/chat', reason: 'token_expired' })).toBe(1);
    expect(await metrics.sum('realtime_security.disconnects', { namespace: '/chat', reason: 'moderation' })).toBe(1);
    expect(await metrics.sum('realtime_security.moderation.actions', { action: 'permissions', origin: 'local' })).toBe(1);
    expect(await metrics.sum('realtime_security.moderation.actions', { action: 'disconnect', origin: 'local' })).toBe(1);
    expect(await metrics.sum('realtime_security.connections.open')).toBe(0);
  }, 30_000);

  it.each([
    ['throws on getMeter', (): MeterProvider => ({ getMeter: () => { throw new Error('broken provider'); } })],
    ['gives instruments that throw', (): MeterProvider => {
      const real = new TestMetrics().provider.getMeter('x');
      const throwing = { add: () => { throw new Error('broken counter'); }, record: () => { throw new Error('broken histogram'); } };
      return { getMeter: () => ({ ...real, createCounter: () => throwing, createHistogram: () => throwing, createObservableCounter: real.createObservableCounter.bind(real), createObservableUpDownCounter: real.createObservableUpDownCounter.bind(real), addBatchObservableCallback: real.addBatchObservableCallback.bind(real), removeBatchObservableCallback: real.removeBatchObservableCallback.bind(real) }) as unknown as Meter };
    }],
  ])('a meter provider that %s changes no security decision (THREATS 72)', async (_, provider) => {
    const logger = new CapturingLogger();
    app = await startApp({ gateways: [pingGateway('/chat')], logger, security: { metrics: { meterProvider: provider() } } });
    const socket = await connected(app.url, '/chat', { transports: ['websocket'], auth: { token: token('a') } });
    expect(await socket.emitWithAck('ping', {})).toEqual({ ok: true });
    expect((await connect(app.url, '/chat', { transports: ['websocket'], auth: { token: 'nope' } })).error?.data?.code).toBe('UNAUTHORIZED');
    socket.disconnect();
    const again = await connected(app.url, '/chat', { transports: ['websocket'], auth: { token: token('a') } });
    expect(await again.emitWithAck('ping', {})).toEqual({ ok: true });
    expect(logger.text()).toMatch(/metrics: (the meter provider failed|recording failed)/);
  });
});

/** Cluster mode on a redis-server of the test's own (it is stopped to cause an outage). */
describe('metrics: cluster mode (node count, reaped nodes, Redis failures and time unavailable)', () => {
  let redis: RedisServer;
  let app: TestApp | undefined;
  const metrics = new TestMetrics();
  const prefix = 'rts-metrics:';

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await app?.close();
    await metrics.shutdown();
    await redis.stop();
  });

  it('counts live nodes, a reaped dead node, failed commands and the outage time', async () => {
    app = await startApp({
      gateways: [pingGateway('/chat')],
      security: { metrics: { meterProvider: metrics.provider }, redis: { url: redis.url, keyPrefix: prefix, heartbeatMs: 200, nodeTimeoutMs: 1000, commandTimeoutMs: 500 } },
    });
    await waitFor('one live node', async () => (await metrics.sum('realtime_security.cluster.nodes')) === 1, 10_000);
    // A node that registered and stopped beating: the reaper takes it.
    const client = plainClient(redis.url);
    await client.hset(new RedisKeys(prefix).nodes(), 'dead-node', String(Date.now() - 60_000));
    client.disconnect();
    await waitFor('the dead node reaped', async () => (await metrics.sum('realtime_security.cluster.reaped_nodes')) === 1, 10_000);
    expect(await metrics.sum('realtime_security.redis.unavailable')).toBe(0);

    await redis.stop();
    // A handshake during the outage fails closed, and its commands fail.
    expect((await connect(app.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'a', tenant: 'acme', perms: [] }) } })).error?.data?.code).toBe('SERVICE_UNAVAILABLE');
    await waitFor('failed commands counted', async () => (await metrics.sum('realtime_security.redis.command_failures')) > 0, 10_000);
    await waitFor('outage time growing', async () => (await metrics.sum('realtime_security.redis.unavailable')) > 0.3, 10_000);
    expect(await metrics.sum('realtime_security.handshakes', { code: 'SERVICE_UNAVAILABLE' })).toBe(1);

    await redis.restart();
    await waitFor('Redis back', async () => (await connect(app!.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'b', tenant: 'acme', perms: [] }) } })).connected, 15_000);
    const frozen = await metrics.sum('realtime_security.redis.unavailable');
    const failures = (await metrics.points()).filter((p) => p.name === 'realtime_security.redis.command_failures');
    expect(failures.every((p) => ['timeout', 'unavailable', 'error'].includes(String(p.attributes.kind)))).toBe(true);
    // Once back, the outage time stops growing (checked after more heartbeats went through).
    await waitFor('heartbeats again', async () => (await metrics.sum('realtime_security.cluster.nodes')) === 1, 10_000);
    expect(await metrics.sum('realtime_security.redis.unavailable')).toBe(frozen);
  }, 60_000);
});
