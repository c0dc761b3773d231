import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { closeAllClients, connect, connected } from '../support/clients.js';
import { buildSampleIfStale, clusterToken, httpJson, presenceOn, startSampleNode, stopAll, type SampleNode } from '../support/cluster.js';
import { plainClient, startOwnRedis, type OwnRedis } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { RedisKeys } from '../../lib/cluster/redis-keys.js';

/**
 * THREATS.md cases 32 and 33 on two real sample processes and a redis-server of the test's own
 * (never the shared one): Redis stopped → new handshakes fail closed with SERVICE_UNAVAILABLE,
 * open sockets stay, no process crashes, everything recovers by itself when Redis is back (with
 * no keys: rebuilt from the live sockets); Redis flushed → rebuilt the same way, no negative count.
 * `cluster-failures.sharded.spec.ts` does the same to a whole Redis Cluster of the file's own
 * (every member stopped and restarted empty; FLUSHALL on every master).
 */
const run = randomBytes(3).toString('hex');
const TENANT = `failures-${run}`;
const MAX = 2;
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
let redis: OwnRedis;
let nodes: SampleNode[] = [];

beforeAll(async () => {
  buildSampleIfStale();
  // A password in the URL (single Redis): it must never appear in a log line, whatever fails.
  redis = await startOwnRedis({ password: PASSWORD });
  nodes = await Promise.all(['fa', 'fb'].map((name) => startSampleNode({
    redisUrl: redis.target,
    nodeId: `${name}-${run}`,
    env: { MAX_CONNECTIONS_PER_USER: String(MAX), HANDSHAKE_RATE_PER_ADDRESS: '0' },
  })));
}, 90_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAll(nodes);
  await redis?.dispose();
});

const token = (user: string) => clusterToken(user, TENANT, ['channel:*', 'presence:read']);
const tryConnect = (node: SampleNode, user: string) => connect(node.url, '/chat', { auth: { token: token(user) } });

/** Connects `user` `count` times in parallel on alternating nodes; returns how many got in (closing them). */
async function grab(user: string, count: number): Promise<number> {
  const outcomes = await Promise.all(Array.from({ length: count }, (_, i) => tryConnect(nodes[i % nodes.length]!, user)));
  for (const o of outcomes) o.socket.disconnect();
  return outcomes.filter((o) => o.connected).length;
}

function alive(node: SampleNode): boolean {
  return node.process.exitCode === null && node.process.signalCode === null;
}

describe('cluster: Redis failures', () => {
  it('Redis stopped: handshakes fail closed, open sockets stay, nothing crashes; Redis back empty: recovered and rebuilt (THREATS 32)', async () => {
    const [a, b] = nodes as [SampleNode, SampleNode];
    const survivor: Socket = await connected(a.url, '/chat', { auth: { token: token('survivor') } });
    let dropped = false;
    survivor.on('disconnect', () => { dropped = true; });
    await redis.stop();
    const stoppedAt = Date.now();
    for (const node of nodes) {
      await waitFor('handshakes refused with SERVICE_UNAVAILABLE', async () => {
        const outcome = await tryConnect(node, 'newcomer');
        outcome.socket.disconnect();
        return !outcome.connected && outcome.error?.data?.code === 'SERVICE_UNAVAILABLE';
      }, 5000, 50);
    }
    // Open sockets stay open; rate-limited messages cannot be counted, so they are refused, not handled.
    expect(survivor.connected).toBe(true);
    const ack = await survivor.timeout(5000).emitWithAck('channel:join', { channelId: 'general' }) as { error?: { code: string } };
    expect(ack.error?.code).toBe('SERVICE_UNAVAILABLE');
    for (const node of nodes) expect((await httpJson('GET', `${node.url}/health`)).status).toBe(200);
    for (const node of nodes) await waitFor('the outage logged', () => node.output.some((line) => line.includes('redis commands:')));
    const downFor = Date.now() - stoppedAt;
    await redis.restart();
    const restartedAt = Date.now();
    await waitFor('handshakes accepted again', async () => {
      const outcome = await tryConnect(b, 'newcomer');
      outcome.socket.disconnect();
      return outcome.connected;
    }, 10_000, 50);
    const acceptedAfter = Date.now() - restartedAt;
    // The restarted Redis is empty: the survivor's presence and slot are written back by node A.
    await waitFor('survivor rebuilt', async () => (await presenceOn(b, TENANT, 'survivor')).connections === 1, 10_000, 50);
    const rebuiltAfter = Date.now() - restartedAt;
    console.log(`[measure] Redis down ${downFor} ms; after restart: handshakes accepted in ${acceptedAfter} ms, live sockets rebuilt in ${rebuiltAfter} ms`);
    expect(await grab('survivor', 4)).toBe(MAX - 1);
    expect(dropped).toBe(false);
    expect(nodes.every(alive)).toBe(true);
    const leaks = nodes.flatMap((node) => node.output.filter((line) => line.includes(PASSWORD) || line.includes('redis://')));
    expect(leaks).toEqual([]);
    // The outage was logged, rate-limited: a handful of lines, not one per attempt.
    const outageLines = nodes.flatMap((node) => node.output.filter((line) => /redis (commands|bus-reader|adapter-pub|adapter-sub):/.test(line)));
    expect(outageLines.length).toBeGreaterThan(0);
    expect(outageLines.length).toBeLessThanOrEqual(nodes.length * 4 * 2);
  });

  it('Redis flushed: slots and presence are rebuilt from the live sockets, and no count goes negative (THREATS 33)', async () => {
    const [a, b] = nodes as [SampleNode, SampleNode];
    const held = [await connected(a.url, '/chat', { auth: { token: token('flushed') } }), await connected(b.url, '/chat', { auth: { token: token('flushed') } })];
    await waitFor('both connections counted', async () => (await presenceOn(a, TENANT, 'flushed')).connections === 2);
    const client = typeof redis.target === 'string' ? plainClient(redis.target) : redis.target.client();
    try {
      await redis.flushAll();
      const flushedAt = Date.now();
      await waitFor('presence rebuilt after the flush', async () => (await presenceOn(b, TENANT, 'flushed')).connections === 2, 10_000, 50);
      console.log(`[measure] FLUSHALL → state rebuilt from the live sockets in ${Date.now() - flushedAt} ms`);
      // Both slots are held again: the ceiling is reached.
      expect(await grab('flushed', 4)).toBe(0);
      expect(await client.hlen(new RedisKeys('rts:').userLeases(`${encodeURIComponent(TENANT)}/flushed`))).toBe(2);
      // Closing after the rebuild releases exactly what is held; nothing goes below zero.
      for (const socket of held) socket.disconnect();
      await waitFor('flushed offline', async () => (await presenceOn(a, TENANT, 'flushed')).status === 'offline');
      expect(await presenceOn(b, TENANT, 'flushed')).toMatchObject({ connections: 0 });
      expect(await client.hlen(new RedisKeys('rts:').userLeases(`${encodeURIComponent(TENANT)}/flushed`))).toBe(0);
      expect(await grab('flushed', 4)).toBe(MAX);
    } finally {
      await client.quit();
    }
    expect(nodes.every(alive)).toBe(true);
  });
});
