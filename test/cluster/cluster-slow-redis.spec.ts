import { ConnectedSocket, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket as ServerSocket } from 'socket.io';
import type { Socket } from 'socket.io-client';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { WsPublic, WsSkipThrottle } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect, connected } from '../support/clients.js';
import { DelayProxy } from '../support/delay-proxy.js';
import { plainClient, RedisServer } from '../support/redis.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

@WebSocketGateway({ namespace: '/chat' })
@WsPublic()
class SlowRedisGateway {
  /** Needs no Redis at all: exempt from the (Redis-backed) message budget. */
  @WsSkipThrottle()
  @SubscribeMessage('ping')
  ping() {
    return { ok: true };
  }

  /** Counted against the user's budget, in Redis. */
  @SubscribeMessage('work')
  work(@ConnectedSocket() socket: ServerSocket) {
    return { ok: true, user: (socket.data as { principal: { userId: string } }).principal.userId };
  }
}

type Ack = { ok?: boolean; error?: { code: string } };

const COMMAND_TIMEOUT_MS = 1000;
/** A handshake reads and writes Redis a few times in sequence, each bounded by the command timeout. */
const HANDSHAKE_BOUND_MS = 4 * COMMAND_TIMEOUT_MS + 3000;

let redis: RedisServer;
let proxy: DelayProxy;
let t: TestApp;
let users = 0;
const token = (sub = `slow-${++users}`) => signToken({ sub, tenant: 'slow' });

/** Handshakes in parallel; each resolves with its outcome and how long it took. */
async function handshakes(count: number): Promise<{ ms: number; code: string }[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    const started = Date.now();
    const outcome = await connect(t.url, '/chat', { transports: ['websocket'], auth: { token: token() } });
    outcome.socket.disconnect();
    return { ms: Date.now() - started, code: outcome.connected ? 'connected' : String(outcome.error?.data?.code ?? outcome.error?.message) };
  }));
}

/** Leases and presence this test's users still hold in Redis (read on the server directly, not through the proxy). */
async function leasesInRedis(): Promise<number> {
  const client = plainClient(redis.url);
  try {
    const keys = await client.keys('rts:lease:slow/*');
    let held = 0;
    for (const key of keys) held += await client.hlen(key);
    return held;
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  redis = await RedisServer.start({ debugCommand: true });
  proxy = await DelayProxy.start(redis.port);
  t = await startApp({
    gateways: [SlowRedisGateway],
    security: { logInventory: false, redis: { url: proxy.url, commandTimeoutMs: COMMAND_TIMEOUT_MS }, rateLimit: { handshakesPerAddress: 0 } },
  });
}, 60_000);
afterEach(() => {
  proxy.setDelay(0);
  closeAllClients();
});
afterAll(async () => {
  await t?.close();
  await proxy?.close();
  await redis?.stop();
});

/** Every socket closed: nothing held in this process or in Redis. */
async function expectNoLeak(): Promise<void> {
  closeAllClients();
  const lifecycle = t.app.get(ConnectionLifecycle);
  await waitFor('every slot released here', () => lifecycle.stats.leases === 0 && lifecycle.stats.sessions === 0, 15_000);
  await waitFor('every slot released in Redis', async () => (await leasesInRedis()) === 0, 15_000);
}

describe('slow and stalled Redis (THREATS 41)', () => {
  it('Redis 50-500 ms away: handshakes end within the bound (connected or SERVICE_UNAVAILABLE), open sockets answer every message, nothing leaks, recovery when the latency goes', async () => {
    const open: Socket = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: token() } });
    proxy.setDelay(50, 500);
    const outcomes = await handshakes(20);
    for (const o of outcomes) {
      expect(['connected', 'SERVICE_UNAVAILABLE']).toContain(o.code);
      expect(o.ms).toBeLessThan(HANDSHAKE_BOUND_MS);
    }
    // No Redis needed: answered as usual. Counted in Redis: answered, ok or refused with a code.
    expect(await open.emitWithAck('ping')).toEqual({ ok: true });
    const work = (await Promise.all(Array.from({ length: 10 }, () => open.timeout(HANDSHAKE_BOUND_MS).emitWithAck('work') as Promise<Ack>)));
    for (const ack of work) expect(ack.ok === true || ack.error?.code === 'SERVICE_UNAVAILABLE').toBe(true);
    proxy.setDelay(0);
    const healed = Date.now();
    await waitFor('handshakes succeed again', async () => (await handshakes(1))[0]?.code === 'connected', 20_000, 50);
    process.stdout.write(`[slow-redis] 50-500 ms: ${outcomes.filter((o) => o.code === 'connected').length}/20 connected, slowest ${Math.max(...outcomes.map((o) => o.ms))} ms; recovered ${Date.now() - healed} ms after the latency went\n`);
    expect(open.connected).toBe(true);
    await expectNoLeak();
  }, 120_000);

  it('Redis stalled (DEBUG SLEEP 4 s on the test\'s own server): handshakes fail closed within the bound, Redis-free messages keep flowing, nothing leaks, recovery after the stall', async () => {
    const open: Socket = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: token() } });
    const admin = plainClient(redis.url);
    try {
      const sleeping = admin.call('DEBUG', 'SLEEP', '4');
      const stallStarted = Date.now();
      // While it sleeps: a handshake is refused with a code, bounded by the command timeout.
      const during = await handshakes(10);
      for (const o of during) {
        expect(o.code).toBe('SERVICE_UNAVAILABLE');
        expect(o.ms).toBeLessThan(HANDSHAKE_BOUND_MS);
      }
      // A message needing no Redis is answered during the stall.
      expect(await open.emitWithAck('ping')).toEqual({ ok: true });
      const pingAnsweredAt = Date.now();
      const work = (await open.timeout(HANDSHAKE_BOUND_MS).emitWithAck('work')) as Ack;
      expect(work.ok === true || work.error?.code === 'SERVICE_UNAVAILABLE').toBe(true);
      await sleeping;
      const stallEnded = Date.now();
      expect(pingAnsweredAt).toBeLessThan(stallEnded);
      await waitFor('handshakes succeed again', async () => (await handshakes(1))[0]?.code === 'connected', 20_000, 50);
      process.stdout.write(`[slow-redis] DEBUG SLEEP 4 s: ${during.length} handshakes refused SERVICE_UNAVAILABLE in ≤ ${Math.max(...during.map((o) => o.ms))} ms; ping answered ${pingAnsweredAt - stallStarted} ms into the stall; handshakes back ${Date.now() - stallEnded} ms after it ended\n`);
      expect(open.connected).toBe(true);
      expect(((await open.emitWithAck('work')) as Ack).ok).toBe(true);
      await expectNoLeak();
    } finally {
      admin.disconnect();
    }
  }, 120_000);
});
