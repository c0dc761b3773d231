import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { closeAllClients, connect, connected, TRANSPORTS } from '../support/clients.js';
import { buildSampleIfStale, clusterToken, presenceOn, startSampleNode, stopAll, type SampleNode } from '../support/cluster.js';
import { releaseTestRedis, testRedis, type TestRedis } from '../support/redis.js';
import { RedisKeys } from '../../lib/cluster/redis-keys.js';
import { userKey } from '../../lib/utils/user-key.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS.md case 29 and the cluster-wide rate limit, on three real sample processes sharing
 * one Redis: the per-user ceiling and the message budget hold for all nodes together.
 */
const run = randomBytes(3).toString('hex');
const TENANT = `limits-${run}`;
const MAX = 3;
const MESSAGES = 10;
let nodes: SampleNode[] = [];
let target: TestRedis;

beforeAll(async () => {
  buildSampleIfStale();
  const redisUrl = await testRedis();
  target = redisUrl;
  nodes = await Promise.all([0, 1, 2].map((i) => startSampleNode({
    redisUrl,
    nodeId: `limits-${i}-${run}`,
    env: { MAX_CONNECTIONS_PER_USER: String(MAX), MESSAGE_RATE_PER_USER: String(MESSAGES), HANDSHAKE_RATE_PER_ADDRESS: '0' },
  })));
}, 90_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAll(nodes);
  await releaseTestRedis();
});

const token = (user: string) => clusterToken(user, TENANT);

describe('cluster: per-user connection ceiling (THREATS 29)', () => {
  it.each(TRANSPORTS)('36 parallel handshakes of one user spread over 3 nodes: exactly the ceiling succeeds (%s)', async (transport) => {
    const user = `burst-${transport}`;
    const outcomes = await Promise.all(Array.from({ length: 36 }, (_, i) =>
      connect(nodes[i % 3]!.url, '/chat', { transports: [transport], auth: { token: token(user) } })));
    const accepted = outcomes.filter((o) => o.connected);
    expect(accepted).toHaveLength(MAX);
    for (const refused of outcomes.filter((o) => !o.connected)) expect(refused.error?.data?.code).toBe('CONNECTION_LIMIT');
    for (const node of nodes) expect(await presenceOn(node, TENANT, user)).toMatchObject({ status: 'online', connections: MAX });
  });

  it('each close releases exactly one slot, whichever node it was on and whichever node takes the next one', async () => {
    const user = 'closer';
    const sockets: Socket[] = [];
    for (let i = 0; i < MAX; i += 1) sockets.push(await connected(nodes[i]!.url, '/chat', { auth: { token: token(user) } }));
    for (const [i, socket] of sockets.entries()) {
      socket.disconnect();
      const next = nodes[(i + 1) % 3]!;
      // The release is asynchronous on the server: retry until the freed slot can be taken.
      let reopened: Socket | undefined;
      await waitFor(`slot released after close #${i}`, async () => {
        const outcome = await connect(next.url, '/chat', { auth: { token: token(user) } });
        if (outcome.connected) reopened = outcome.socket;
        else outcome.socket.disconnect();
        return outcome.connected;
      }, 5000, 20);
      // Exactly one slot was freed: the user is full again on every node.
      const more = await Promise.all(nodes.map((node) => connect(node.url, '/chat', { auth: { token: token(user) } })));
      expect(more.filter((o) => o.connected)).toHaveLength(0);
      sockets[i] = reopened as Socket;
    }
    for (const socket of sockets) socket.disconnect();
    await waitFor('all slots released', async () => (await presenceOn(nodes[0]!, TENANT, user)).connections === 0);
    const again = await Promise.all(Array.from({ length: 9 }, (_, i) => connect(nodes[i % 3]!.url, '/chat', { auth: { token: token(user) } })));
    expect(again.filter((o) => o.connected)).toHaveLength(MAX);
  });
});

describe('cluster: per-user ceiling with users on every shard', () => {
  it('50 parallel handshakes of each of three users whose keys live on different shards: exactly the ceiling each', async () => {
    const keys = new RedisKeys('rts:');
    // Users whose slot keys sit in different buckets (on a cluster: on three different masters).
    const users: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; users.length < 3 && i < 500; i += 1) {
      const user = `shard-${i}`;
      const key = keys.userLeases(userKey(TENANT, user));
      const place = target.cluster !== null ? String(await target.cluster.masterPortOf(key)) : String(keys.bucketOf(userKey(TENANT, user)));
      if (seen.has(place)) continue;
      seen.add(place);
      users.push(user);
    }
    expect(users).toHaveLength(3);
    const outcomes = await Promise.all(users.map((user) => Promise.all(Array.from({ length: 50 }, (_, i) =>
      connect(nodes[i % 3]!.url, '/chat', { transports: ['websocket'], auth: { token: token(user) } })))));
    for (const perUser of outcomes) {
      expect(perUser.filter((o) => o.connected)).toHaveLength(MAX);
      for (const refused of perUser.filter((o) => !o.connected)) expect(refused.error?.data?.code).toBe('CONNECTION_LIMIT');
    }
    for (const user of users) expect(await presenceOn(nodes[1]!, TENANT, user)).toMatchObject({ status: 'online', connections: MAX });
  });
});

describe('cluster: message rate limit per user, all nodes together', () => {
  it('sockets on three nodes share one budget: exactly MESSAGE_RATE_PER_USER messages are accepted', async () => {
    const user = 'chatty';
    const sockets = await Promise.all(nodes.map((node) => connected(node.url, '/chat', { auth: { token: token(user) } })));
    // 4 per socket, 12 in all, inside one 10 s window; fewer than the strike limit per socket.
    const acks = await Promise.all(sockets.flatMap((socket) => Array.from({ length: 4 }, () =>
      socket.timeout(5000).emitWithAck('channel:join', { channelId: 'general' }) as Promise<{ ok?: boolean; error?: { code: string } }>)));
    expect(acks.filter((a) => a.ok === true)).toHaveLength(MESSAGES);
    expect(acks.filter((a) => a.error?.code === 'RATE_LIMITED')).toHaveLength(12 - MESSAGES);
  });
});
