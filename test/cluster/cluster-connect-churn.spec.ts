import { Redis } from 'ioredis';
import { startApp, type TestApp } from '../support/app.js';
import { pingGateway } from '../support/ping.gateway.js';
import { RawEngineClient } from '../support/raw-engine.js';
import { RedisServer, uniquePrefix } from '../support/redis.js';
import { signToken } from '../support/tokens.js';

/**
 * THREATS case 51 in cluster mode (issue 14, finding 2): one client churning CONNECT/DISCONNECT
 * on two namespaces of one Engine.IO connection drove Redis commands without bound. Every
 * CONNECT of a user is charged to `rateLimit.connectsPerUser` before the handshake's first Redis
 * call, so the commands one user's churn causes per window and node are bounded by that many
 * handshakes. Counted with INFO commandstats on a private redis-server.
 */
const CONNECTS_PER_USER = 10;
const ATTEMPTS = 100;

/** Commands Redis ran so far, without the bus reader's blocking reads and this test's own calls. */
async function commandCount(admin: Redis): Promise<number> {
  const stats = await admin.info('commandstats');
  let total = 0;
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!['xread', 'xrevrange', 'info', 'ping', 'client|setname', 'hello', 'select'].includes(match[1] as string)) total += Number(match[2]);
  }
  return total;
}

describe('cluster: one user\'s CONNECT churn is bounded in Redis traffic', () => {
  let server: RedisServer;
  let admin: Redis;
  let t: TestApp;

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url);
    t = await startApp({
      gateways: [pingGateway('/chat'), pingGateway()],
      security: {
        logInventory: false,
        rateLimit: { handshakesPerAddress: 0, connectsPerUser: CONNECTS_PER_USER },
        // Heartbeats far apart: the count is the handshakes'.
        redis: { url: server.url, keyPrefix: uniquePrefix('churn'), nodeId: 'churn', heartbeatMs: 10_000, nodeTimeoutMs: 30_000 },
      },
    });
  });
  afterEach(() => RawEngineClient.closeAll());
  afterAll(async () => {
    await t?.close();
    await admin?.quit();
    await server?.stop();
  });

  it(`${ATTEMPTS} CONNECT/DISCONNECT attempts on /chat with / kept connected cost at most ${CONNECTS_PER_USER} handshakes of Redis commands`, async () => {
    const token = signToken({ sub: 'churner' });
    const before = await commandCount(admin);
    let accepted = 0;
    let attempts = 0;
    let id = 0;
    while (attempts < ATTEMPTS) {
      // A connection closes after a few refusals: the churner opens another one.
      const raw = await RawEngineClient.open(t.url, { transport: 'websocket' });
      if ((await raw.connect('/', { token })).type === 0) accepted += 1;
      attempts += 1;
      while (!raw.isClosed && attempts < ATTEMPTS) {
        const answer = await Promise.race([raw.connect('/chat', { token }), raw.closed.then(() => null)]);
        if (answer === null) break;
        attempts += 1;
        if (answer.type !== 0) continue;
        accepted += 1;
        id += 1;
        await raw.send('1/chat,', `2${id}["ping",{}]`);
        await raw.next((p) => p.type === 3 && p.nsp === '/' && p.id === id);
      }
      await raw.close();
    }
    const used = (await commandCount(admin)) - before;
    console.log(`[measure] ${ATTEMPTS} CONNECT attempts of one user: ${accepted} accepted, ${used} Redis commands (${(used / Math.max(accepted, 1)).toFixed(1)} per accepted CONNECT)`);
    expect(accepted).toBeLessThanOrEqual(CONNECTS_PER_USER);
    // Each accepted handshake costs a handful of commands (moderation read, slot, presence); a refused one none.
    expect(used).toBeLessThanOrEqual(CONNECTS_PER_USER * 20);
  });
});
