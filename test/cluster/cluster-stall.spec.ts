import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { closeAllClients, connect, connected } from '../support/clients.js';
import { buildSampleIfStale, clusterToken, presenceOn, startSampleNode, stopAll, type SampleNode } from '../support/cluster.js';
import { RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS 42: a node whose event loop stalls (SIGSTOP/SIGCONT: no timer, no I/O, exactly what a
 * blocking handler does to it) and then recovers. The sample's cluster timing (heartbeat 1 s, node
 * timeout 5 s): a stall shorter than the node timeout is never taken for a death; a longer one is
 * reaped by the others, and the node, on its first beat after, finds its registration gone and
 * re-asserts its slots and presence from its live sockets. Per-user counts end exact either way.
 */
const run = randomBytes(3).toString('hex');
const TENANT = `stall-${run}`;
const MAX = 3;
let redis: RedisServer;
let nodes: SampleNode[] = [];

beforeAll(async () => {
  buildSampleIfStale();
  redis = await RedisServer.start();
  nodes = await Promise.all(['sa', 'sb'].map((name) => startSampleNode({
    redisUrl: redis.url,
    nodeId: `${name}-${run}`,
    env: { MAX_CONNECTIONS_PER_USER: String(MAX), HANDSHAKE_RATE_PER_ADDRESS: '0' },
  })));
}, 90_000);
afterEach(() => {
  for (const node of nodes) if (node.process.exitCode === null) node.process.kill('SIGCONT');
  closeAllClients();
});
afterAll(async () => {
  await stopAll(nodes);
  await redis?.stop();
});

const token = (user: string) => clusterToken(user, TENANT);

/** The stall itself: how long the process stays stopped (not a synchronisation wait). */
const stalledFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens connections for `user` on alternating nodes until refused; returns how many more it got (closing them). */
async function remainingSlots(user: string): Promise<number> {
  const outcomes = await Promise.all(Array.from({ length: MAX + 2 }, (_, i) => connect(nodes[i % 2]!.url, '/chat', { auth: { token: token(user) } })));
  for (const o of outcomes) o.socket.disconnect();
  for (const o of outcomes.filter((x) => !x.connected)) expect(o.error?.data?.code).toBe('CONNECTION_LIMIT');
  return outcomes.filter((o) => o.connected).length;
}

describe('cluster: a node whose event loop stalls (THREATS 42)', () => {
  it('a 3 s stall is shorter than the node timeout: its users stay online on the other node throughout, nothing reaped, counts exact', async () => {
    const [a, b] = nodes as [SampleNode, SampleNode];
    const user = 'short-stall';
    const socket: Socket = await connected(a.url, '/chat', { auth: { token: token(user) } });
    await waitFor('online on b', async () => (await presenceOn(b, TENANT, user)).status === 'online');
    a.process.kill('SIGSTOP');
    const seen = new Set<string>();
    const stallEnds = Date.now() + 3000;
    while (Date.now() < stallEnds) {
      const presence = await presenceOn(b, TENANT, user);
      seen.add(`${presence.status}/${presence.connections}`);
      await stalledFor(200);
    }
    a.process.kill('SIGCONT');
    expect([...seen]).toEqual(['online/1']);
    expect(await socket.timeout(10_000).emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    expect(await presenceOn(b, TENANT, user)).toMatchObject({ status: 'online', connections: 1 });
    expect(b.output.join('\n')).not.toContain(`reaped dead node "${a.nodeId}"`);
    expect(await remainingSlots(user)).toBe(MAX - 1);
  }, 60_000);

  it('a stall past the node timeout: the other node reaps it, and once it runs again it re-asserts its slots and presence; counts end exact', async () => {
    const [a, b] = nodes as [SampleNode, SampleNode];
    const user = 'long-stall';
    const socket: Socket = await connected(a.url, '/chat', { auth: { token: token(user) } });
    await waitFor('online on b', async () => (await presenceOn(b, TENANT, user)).status === 'online');
    a.process.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor('a reaped by b', async () => (await presenceOn(b, TENANT, user)).status === 'offline', 20_000, 100);
    const reapedAfter = Date.now() - stoppedAt;
    a.process.kill('SIGCONT');
    const resumedAt = Date.now();
    await waitFor('a re-asserted its user', async () => {
      const presence = await presenceOn(b, TENANT, user);
      return presence.status === 'online' && presence.connections === 1;
    }, 20_000, 50);
    process.stdout.write(`[stall] stopped node reaped after ${reapedAfter} ms; presence re-asserted ${Date.now() - resumedAt} ms after it resumed\n`);
    expect(a.output.join('\n')).toMatch(/rebuilt this node's state/);
    // The client never noticed (the stall is shorter than the ping timeout); the slot is held again.
    expect(socket.connected).toBe(true);
    expect(await socket.timeout(10_000).emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    expect(await remainingSlots(user)).toBe(MAX - 1);
  }, 90_000);
});
